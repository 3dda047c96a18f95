package sandbox

import (
	"errors"
	"time"

	"gatehouse.dev/gatehouse/manifest"
)

// retention is a manifest's data retention as a calendar period. It is
// read by manifest.ParseRetention, the one grammar every reader of a
// manifest shares (the schema, the policy check, the review), so a
// retention the marketplace accepted means the same period here.
type retention struct {
	manifest.Retention
	none bool
}

// parseRetention parses "none" or P[nY][nM][nW][nD][T[nH][nM][nS]].
func parseRetention(s string) (retention, error) {
	r, err := manifest.ParseRetention(s)
	if err != nil {
		return retention{}, err
	}
	return retention{Retention: r, none: r.None}, nil
}

// after returns the end of the retention period that starts at t. The
// time fields are folded into days first: nine digits of hours as a
// time.Duration would overflow, as days they cannot (manifest bounds each
// field to nine digits, and time.Time reaches far beyond a billion years).
func (r retention) after(t time.Time) time.Time {
	secs := r.Hours*3600 + r.Minutes*60 + r.Seconds
	days := r.Weeks*7 + r.Days + secs/86400
	return t.AddDate(int(r.Years), int(r.Months), int(days)).Add(time.Duration(secs%86400) * time.Second)
}

// errRetentionNone refuses a kv_set by a plugin that declared it keeps no
// data.
var errRetentionNone = errors.New("the plugin's manifest declares data retention \"none\", so it may not store values; declare a retention such as P30D to keep them that long")
