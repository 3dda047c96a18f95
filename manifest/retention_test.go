package manifest

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// retentionPattern is the manifest schema's pattern for data.retention.
var retentionPattern = regexp.MustCompile(`^(none|P([0-9]+Y)?([0-9]+M)?([0-9]+W)?([0-9]+D)?(T([0-9]+H)?([0-9]+M)?([0-9]+S)?)?)$`)

func TestParseRetention(t *testing.T) {
	for _, tc := range []struct {
		in   string
		days int64
	}{
		{"none", 0},
		{"P30D", 30},
		{"P1Y", 365},
		{"P6M", 180},
		{"P2W", 14},
		{"P1Y2M3W4D", 365 + 60 + 21 + 4},
		{"PT1H", 1},
		{"PT24H", 1},
		{"PT25H", 2},
		{"P1DT1S", 2},
		{"P0D", 0},
		{"P9999D", 9999},
		{"P999999999Y", 999999999 * 365},
	} {
		r, err := ParseRetention(tc.in)
		if err != nil {
			t.Errorf("ParseRetention(%q): %v", tc.in, err)
			continue
		}
		if got := r.ApproxDays(); got != tc.days {
			t.Errorf("ParseRetention(%q).ApproxDays() = %d, want %d", tc.in, got, tc.days)
		}
	}
}

func TestParseRetentionRefuses(t *testing.T) {
	for _, tc := range []struct{ in, why string }{
		{"", "does not start with P"},
		{"P", "has no field"},
		{"PT", "T with no hours"},
		{"P1DT", "T with no hours"},
		{"30D", "does not start with P"},
		{"p30d", "does not start with P"},
		{"P30", "no unit"},
		{"P1D1Y", "out of order"},
		{"P1D1D", "out of order"},
		{"P1H", "out of order"},
		{"PT1D", "time part"},
		{"P1.5D", "where a unit"},
		{"P-1D", "where a number should be"},
		{"P1000000000D", "longer than 9 digits"},
		{"P0001-02-03", "where a unit"},
		{"PT1H1H", "out of order"},
		{"P1DTT1H", "second T"},
		{strings.Repeat("P1D", 30), "longer than 64 bytes"},
		{"forever", "does not start with P"},
	} {
		_, err := ParseRetention(tc.in)
		if err == nil {
			t.Errorf("ParseRetention(%q) accepted it", tc.in)
			continue
		}
		if !errors.Is(err, ErrRetention) || !strings.Contains(err.Error(), tc.why) || !strings.Contains(err.Error(), "P30D") {
			t.Errorf("ParseRetention(%q) = %v, want ErrRetention saying %q and an example", tc.in, err, tc.why)
		}
	}
}

// FuzzParseRetention checks that the parser never panics, that what it
// accepts is short, starts with P (or is none) and counts non-negative
// days, and that it never accepts what the schema's pattern refuses.
func FuzzParseRetention(f *testing.F) {
	for _, s := range []string{"none", "P30D", "P1Y2M3W4DT5H6M7S", "PT", "P", "P1D1Y", "P999999999Y", "P1.5D"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRetention(s)
		if err != nil {
			if !errors.Is(err, ErrRetention) {
				t.Fatalf("error %v does not wrap ErrRetention", err)
			}
			return
		}
		if len(s) > MaxRetentionLen || (s != "none" && s[0] != 'P') {
			t.Fatalf("accepted %q", s)
		}
		if r.ApproxDays() < 0 {
			t.Fatalf("%q: %d days", s, r.ApproxDays())
		}
		if !retentionPattern.MatchString(s) {
			t.Fatalf("accepted %q, which the schema's pattern refuses", s)
		}
	})
}
