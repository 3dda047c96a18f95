package manifest

import (
	"errors"
	"fmt"
	"strings"
)

// Retention is a parsed data.retention: "none", or an ISO 8601 duration.
type Retention struct {
	// None is true for "none": the plugin keeps nothing after the call.
	None bool
	// Years … Seconds are the duration's fields as written.
	Years, Months, Weeks, Days, Hours, Minutes, Seconds int64
}

// Limits of ParseRetention: a retention is written by a person and judged
// against a policy's maximum in days, so neither needs more.
const (
	// MaxRetentionLen bounds the text (the manifest schema says 64 too).
	MaxRetentionLen = 64
	// maxRetentionDigits bounds one field: nine digits cannot overflow the
	// day arithmetic below, whatever the unit.
	maxRetentionDigits = 9
)

// ErrRetention is wrapped by every ParseRetention error.
var ErrRetention = errors.New("not a valid retention")

// ParseRetention reads a retention: "none", or an ISO 8601 duration of the
// form PnYnMnWnDTnHnMnS with at least one field, fields in that order,
// each at most once, non-negative integers of at most nine digits, and at
// least one field after a T. Fractions, signs, the alternative format
// (P0001-02-03) and lower case are refused: a retention a policy judges
// must mean one thing to every reader.
func ParseRetention(s string) (Retention, error) {
	bad := func(why string) (Retention, error) {
		return Retention{}, fmt.Errorf("%w: %q %s; write none, or an ISO 8601 duration such as P30D, P6M or P1Y", ErrRetention, clipText(s), why)
	}
	if len(s) > MaxRetentionLen {
		return bad(fmt.Sprintf("is longer than %d bytes", MaxRetentionLen))
	}
	if s == "none" {
		return Retention{None: true}, nil
	}
	if s == "" || s[0] != 'P' {
		return bad("does not start with P")
	}
	var r Retention
	// Designators in the order they may appear, before and after T.
	date := []byte{'Y', 'M', 'W', 'D'}
	timePart := []byte{'H', 'M', 'S'}
	order, next := date, 0
	inTime, fields, timeFields := false, 0, 0
	for i := 1; i < len(s); {
		if s[i] == 'T' {
			if inTime {
				return bad("has a second T")
			}
			inTime, order, next = true, timePart, 0
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		switch {
		case j == i:
			return bad(fmt.Sprintf("has %q where a number should be", s[i]))
		case j-i > maxRetentionDigits:
			return bad(fmt.Sprintf("has a number longer than %d digits", maxRetentionDigits))
		case j == len(s):
			return bad("ends with a number that has no unit (Y, M, W, D, H, M or S)")
		}
		var n int64
		for _, c := range s[i:j] {
			n = n*10 + int64(c-'0')
		}
		unit := s[j]
		if !strings.ContainsRune("YMWDHS", rune(unit)) {
			return bad(fmt.Sprintf("has %q after a number where a unit (Y, M, W, D, H, M or S) should be", unit))
		}
		k := next
		for k < len(order) && order[k] != unit {
			k++
		}
		if k == len(order) {
			where := "in the date part (before T: Y, M, W, D)"
			if inTime {
				where = "in the time part (after T: H, M, S)"
			}
			return bad(fmt.Sprintf("has the unit %q out of order or not allowed %s", unit, where))
		}
		next = k + 1
		fields++
		if inTime {
			timeFields++
			switch unit {
			case 'H':
				r.Hours = n
			case 'M':
				r.Minutes = n
			case 'S':
				r.Seconds = n
			}
		} else {
			switch unit {
			case 'Y':
				r.Years = n
			case 'M':
				r.Months = n
			case 'W':
				r.Weeks = n
			case 'D':
				r.Days = n
			}
		}
		i = j + 1
	}
	if inTime && timeFields == 0 {
		return bad("has a T with no hours, minutes or seconds after it")
	}
	if fields == 0 {
		return bad("has no field")
	}
	return r, nil
}

// ApproxDays is the retention in days, rounded up, counting a year as 365
// days and a month as 30: how long data may be kept at most, for
// comparing with a policy's maximum. "none" is 0.
func (r Retention) ApproxDays() int64 {
	if r.None {
		return 0
	}
	secs := r.Hours*3600 + r.Minutes*60 + r.Seconds
	days := r.Years*365 + r.Months*30 + r.Weeks*7 + r.Days + (secs+86399)/86400
	return days
}

func clipText(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
