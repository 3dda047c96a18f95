package sqlstore

import (
	"io/fs"
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

func TestSchemaRender(t *testing.T) {
	sc := Schema{Bytes: "BLOB", SerialKey: "INTEGER PRIMARY KEY", SeqKey: "INTEGER PRIMARY KEY"}
	got, err := sc.render("0001_t.sql", "CREATE TABLE t (id {{SERIAL_PK}}, b {{BYTES}}){{WITHOUT_ROWID}};")
	if want := "CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB);"; err != nil || got != want {
		t.Errorf("render = %q, %v; want %q", got, err, want)
	}
	for _, tc := range []struct {
		name string
		sc   Schema
		sql  string
	}{
		{"unknown placeholder", sc, "CREATE TABLE t (b {{BINARY}})"},
		{"unspelled type", Schema{Bytes: "BLOB"}, "CREATE TABLE t (id {{SERIAL_PK}})"},
	} {
		if _, err := tc.sc.render("0001_t.sql", tc.sql); err == nil {
			t.Errorf("%s: rendered without an error", tc.name)
		}
	}
}

// TestMigrationsEmbedded checks that the shared migrations load and that
// every placeholder they use is one a dialect spells.
func TestMigrationsEmbedded(t *testing.T) {
	files, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations(files)
	if err != nil || len(ms) == 0 {
		t.Fatalf("loadMigrations = %d migrations, %v", len(ms), err)
	}
	full := Schema{Bytes: "B", SerialKey: "S", SeqKey: "Q", WithoutRowID: " W", CatalogTriggers: "T"}
	for _, m := range ms {
		if _, err := full.render(m.name, m.sql); err != nil {
			t.Error(err)
		}
	}
}
