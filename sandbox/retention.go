package sandbox

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// retention is a manifest's data retention as a calendar period: an ISO
// 8601 duration such as P30D, P1Y6M or PT12H (the manifest schema's
// grammar). none means the plugin keeps no data at all.
type retention struct {
	none                    bool
	years, months, days     int
	hours, minutes, seconds int
}

// maxRetentionField bounds each number of a retention, so that adding it
// to a date cannot overflow (a century of days is 36,500).
const maxRetentionField = 100000

// parseRetention parses "none" or P[nY][nM][nW][nD][T[nH][nM][nS]].
func parseRetention(s string) (retention, error) {
	if s == "none" {
		return retention{none: true}, nil
	}
	bad := func(why string) (retention, error) {
		return retention{}, fmt.Errorf("retention %q is not an ISO 8601 duration such as P30D or PT12H: %s", s, why)
	}
	if len(s) < 3 || len(s) > 64 || s[0] != 'P' {
		return bad("it must start with P and name at least one amount")
	}
	var r retention
	order := "YMWD"
	inTime := false
	any := false
	for i := 1; i < len(s); {
		if s[i] == 'T' {
			if inTime {
				return bad("T appears twice")
			}
			inTime, order = true, "HMS"
			i++
			if i == len(s) {
				return bad("nothing follows T")
			}
			continue
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i || j == len(s) {
			return bad("every amount is digits followed by a unit letter")
		}
		n, err := strconv.Atoi(s[i:j])
		if err != nil || n > maxRetentionField {
			return bad(fmt.Sprintf("an amount is above %d", maxRetentionField))
		}
		k := -1
		for x := 0; x < len(order); x++ {
			if order[x] == s[j] {
				k = x
				break
			}
		}
		if k < 0 {
			return bad(fmt.Sprintf("unit %q is out of place (date units Y M W D, then T and H M S)", s[j]))
		}
		order = order[k+1:]
		switch {
		case !inTime && s[j] == 'Y':
			r.years = n
		case !inTime && s[j] == 'M':
			r.months = n
		case !inTime && s[j] == 'W':
			r.days += 7 * n
		case !inTime && s[j] == 'D':
			r.days += n
		case s[j] == 'H':
			r.hours = n
		case s[j] == 'M':
			r.minutes = n
		case s[j] == 'S':
			r.seconds = n
		}
		any = true
		i = j + 1
	}
	if !any {
		return bad("it names no amount")
	}
	return r, nil
}

// after returns the end of the retention period that starts at t.
func (r retention) after(t time.Time) time.Time {
	return t.AddDate(r.years, r.months, r.days).
		Add(time.Duration(r.hours)*time.Hour + time.Duration(r.minutes)*time.Minute + time.Duration(r.seconds)*time.Second)
}

// errRetentionNone refuses a kv_set by a plugin that declared it keeps no
// data.
var errRetentionNone = errors.New("the plugin's manifest declares data retention \"none\", so it may not store values; declare a retention such as P30D to keep them that long")
