package sqlstore

import (
	"testing"
	"testing/fstest"
	"time"
)

func TestRebind(t *testing.T) {
	pg := Dialect{DollarPlaceholders: true}
	if got := pg.rebind(`SELECT a FROM t WHERE b = ? AND c > ? LIMIT ?`); got != `SELECT a FROM t WHERE b = $1 AND c > $2 LIMIT $3` {
		t.Errorf("postgres rebind = %q", got)
	}
	lite := Dialect{}
	if got := lite.rebind(`WHERE b = ?`); got != `WHERE b = ?` {
		t.Errorf("sqlite rebind changed the query: %q", got)
	}
}

func TestLoadMigrations(t *testing.T) {
	ms, err := loadMigrations(fstest.MapFS{
		"0002_more.sql": {Data: []byte("B")},
		"0001_init.sql": {Data: []byte("A")},
		"README.md":     {Data: []byte("not a migration")},
	})
	if err != nil || len(ms) != 2 || ms[0].version != 1 || ms[1].sql != "B" {
		t.Fatalf("loadMigrations = %+v, %v; want 0001 then 0002", ms, err)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"unnumbered": {"init.sql": {Data: []byte("A")}},
		"zero":       {"0000_init.sql": {Data: []byte("A")}},
		"duplicate":  {"0001_a.sql": {Data: []byte("A")}, "001_b.sql": {Data: []byte("B")}},
	} {
		if _, err := loadMigrations(fsys); err == nil {
			t.Errorf("%s migrations were accepted", name)
		}
	}
}

func TestTimesRoundTrip(t *testing.T) {
	if !fromMicros(micros(time.Time{})).IsZero() {
		t.Error("the zero time does not survive a round trip")
	}
	in := time.Date(2026, 11, 22, 5, 0, 0, 123456789, time.FixedZone("CET", 3600))
	out := fromMicros(micros(in))
	if !out.Equal(in.Truncate(time.Microsecond)) || out.Location() != time.UTC {
		t.Errorf("round trip of %v gave %v; want the same instant to the microsecond, in UTC", in, out)
	}
}
