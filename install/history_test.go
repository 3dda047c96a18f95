package install_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/install"
)

const digestA = "sha256:" + "ab0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"

// record returns a well-formed record of acme/a at version v, n seconds
// after t0.
func record(n int, v string) install.Record {
	name := install.PackageFileName("acme/a", v)
	return install.Record{Time: t0.Add(time.Duration(n) * time.Second), Action: install.ActionUpdate, ID: "acme/a", Version: v,
		Digest: digestA, Package: name, Bundle: install.BundleFileName(name), Previous: "1.0.0"}
}

// historyJSON is a history file holding one record line as given.
func historyJSON(line string) string {
	return `{"historyVersion":1,"dropped":0,"records":[` + line + `]}`
}

const goodLine = `{"time":"2026-11-01T12:00:00Z","action":"install","id":"acme/a","version":"1.0.0","digest":"` + digestA + `","package":"acme__a@1.0.0.gpkg","bundle":"acme__a@1.0.0.bundle.json"}`

// TestParseHistoryRefusals guards the reader of a file anyone with access
// to the folder can write: each malformed history is refused, naming the
// record and what is wrong, and never lets a record name a file outside
// the folder or print control characters to a terminal.
func TestParseHistoryRefusals(t *testing.T) {
	t.Parallel()
	if _, err := install.ParseHistory([]byte(historyJSON(goodLine))); err != nil {
		t.Fatalf("the well-formed history is refused: %v", err)
	}
	with := func(old, new string) string { return historyJSON(strings.Replace(goodLine, old, new, 1)) }
	cases := []struct {
		name, data, says string
	}{
		{"not JSON", `{"historyVersion":1,`, "not valid JSON"},
		{"data after the object", historyJSON(goodLine) + `{}`, "data after its JSON object"},
		{"an unknown field", strings.Replace(historyJSON(goodLine), `"dropped"`, `"extra":1,"dropped"`, 1), "unknown field"},
		{"another format version", strings.Replace(historyJSON(goodLine), `"historyVersion":1`, `"historyVersion":2`, 1), "historyVersion 2"},
		{"a negative dropped count", strings.Replace(historyJSON(goodLine), `"dropped":0`, `"dropped":-1`, 1), "cannot be negative"},
		{"no time", with(`"time":"2026-11-01T12:00:00Z",`, ``), "record 1 (of 1): it has no time"},
		{"a time not in UTC", with(`12:00:00Z`, `12:00:00+02:00`), "not in UTC"},
		{"an unknown action", with(`"install"`, `"delete"`), "none of install, update or rollback"},
		{"a bad plugin id", with(`"id":"acme/a"`, `"id":"../a"`), "not a plugin id"},
		{"a version that is not SemVer", with(`"version":"1.0.0"`, `"version":"1.0"`), "not a SemVer version"},
		{"a digest that is not sha256", with(digestA, "md5:00"), "not a sha256 digest"},
		{"a package outside the folder", with(`"package":"acme__a@1.0.0.gpkg"`, `"package":"../../etc/passwd"`), "expected \"acme__a@1.0.0.gpkg\""},
		{"a bundle of another version", with(`"bundle":"acme__a@1.0.0.bundle.json"`, `"bundle":"acme__a@2.0.0.bundle.json"`), "names bundle file"},
		{"an install with a previous version", with(`"bundle":"acme__a@1.0.0.bundle.json"`, `"bundle":"acme__a@1.0.0.bundle.json","previous":"0.9.0"`), "an install has none"},
		{"an update without a previous version", with(`"install"`, `"update"`), "without the previous version"},
		{"a previous version that is not SemVer", with(`"install"`, `"rollback","previous":"x"`), "previous version"},
		{"a terminal escape in the reason", with(`"bundle":"acme__a@1.0.0.bundle.json"`, `"bundle":"acme__a@1.0.0.bundle.json","reason":"ok\u001b[2Kfine"`), "control character U+001B"},
		{"a bidirectional override in who", with(`"bundle":"acme__a@1.0.0.bundle.json"`, `"bundle":"acme__a@1.0.0.bundle.json","by":"eve\u202e"`), `the name in "by" holds the control character U+202E`},
		{"a reason too long", with(`"bundle":"acme__a@1.0.0.bundle.json"`, `"bundle":"acme__a@1.0.0.bundle.json","reason":"`+strings.Repeat("x", 513)+`"`), "more than 512"},
		{"a file over the size limit", historyJSON(goodLine) + strings.Repeat(" ", install.MaxHistoryBytes), "more than the limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := install.ParseHistory([]byte(c.data))
			if err == nil || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("err = %v, want a refusal saying %q", err, c.says)
			}
		})
	}
}

// TestHistoryKeepsTheNewestRecords guards the count and size limits on
// both sides: a file with more records than the limit is read as its
// newest records, and the writer drops the oldest to stay within both
// limits; either way Dropped says how many are gone.
func TestHistoryKeepsTheNewestRecords(t *testing.T) {
	t.Parallel()
	var lines []string
	for i := range install.MaxHistoryRecords + 5 {
		lines = append(lines, strings.Replace(goodLine, "12:00:00Z", fmt.Sprintf("12:00:00.%09dZ", i), 1))
	}
	h, err := install.ParseHistory([]byte(historyJSON(strings.Join(lines, ","))))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Records) != install.MaxHistoryRecords || h.Dropped != 5 || h.Records[0].Time.Nanosecond() != 5 {
		t.Fatalf("read %d records, dropped %d, first at %v; want the newest %d, 5 dropped", len(h.Records), h.Dropped, h.Records[0].Time, install.MaxHistoryRecords)
	}

	// Long reasons that JSON escapes make the records outgrow the byte
	// limit before the count limit.
	big := &install.History{HistoryVersion: install.HistoryVersion, Dropped: 7}
	for i := range install.MaxHistoryRecords {
		r := record(i, "1.1.0")
		r.Reason = strings.Repeat(`"`, 512)
		big.Records = append(big.Records, r)
	}
	data, err := big.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > install.MaxHistoryBytes {
		t.Fatalf("wrote %d bytes, more than %d", len(data), install.MaxHistoryBytes)
	}
	back, err := install.ParseHistory(data)
	if err != nil {
		t.Fatalf("what was written does not parse: %v", err)
	}
	kept := len(back.Records)
	if kept == 0 || kept >= install.MaxHistoryRecords || back.Dropped != 7+install.MaxHistoryRecords-kept {
		t.Fatalf("kept %d records, dropped %d", kept, back.Dropped)
	}
	if !back.Records[kept-1].Time.Equal(big.Records[len(big.Records)-1].Time) {
		t.Error("the newest record was not kept")
	}
	if len(big.Records) != install.MaxHistoryRecords || big.Dropped != 7 {
		t.Error("Marshal changed the history it encoded")
	}
}
