package hostcompat

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
)

// Matrix is the compatibility matrix: the published host API versions
// (its columns, newest first) and the cells.
type Matrix struct {
	HostAPIs []domain.HostAPIVersion
	Cells    []domain.HostAPICompat
}

// Matrix returns the matrix cells q selects, with every published version.
func (s *Service) Matrix(ctx context.Context, q domain.CompatQuery) (Matrix, error) {
	pubs, err := s.published(ctx)
	if err != nil {
		return Matrix{}, err
	}
	cells, err := s.cfg.Store.ListHostAPICompat(ctx, q)
	if err != nil {
		return Matrix{}, err
	}
	return Matrix{HostAPIs: pubs, Cells: cells}, nil
}

// Published lists the published versions, newest version first, with
// their capabilities parsed.
func (s *Service) Published(ctx context.Context) ([]hostapi.Published, error) {
	pubs, err := s.published(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]hostapi.Published, 0, len(pubs))
	for _, p := range pubs {
		hp, err := ToPublished(p)
		if err != nil {
			return nil, err
		}
		out = append(out, hp)
	}
	return out, nil
}

// ToPublished is the wire form of a stored version.
func ToPublished(p domain.HostAPIVersion) (hostapi.Published, error) {
	var spec hostapi.Spec
	if err := json.Unmarshal(p.Spec, &spec); err != nil {
		return hostapi.Published{}, fmt.Errorf("reading the capabilities of host API %s: %w", p.Version, err)
	}
	return hostapi.Published{Spec: spec, Deprecates: p.Deprecates, Sunset: p.Sunset, MigrationURL: p.MigrationURL, PublishedAt: p.PublishedAt}, nil
}

func (s *Service) published(ctx context.Context) ([]domain.HostAPIVersion, error) {
	pubs, err := s.cfg.Store.ListPublishedHostAPIs(ctx)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(pubs, func(i, j int) bool { return newer(pubs[i].Version, pubs[j].Version) })
	return pubs, nil
}

// Entry is one sunset on the deprecation calendar.
type Entry struct {
	HostAPI      string // the version that sunsets
	ReplacedBy   string // the version that announced it
	Sunset       time.Time
	MigrationURL string
	Announced    time.Time
	// Affected are the plugins with certified versions that are not
	// compatible with ReplacedBy: they need a new version before Sunset.
	Affected []Affected
}

// Affected is a plugin a sunset concerns.
type Affected struct {
	PluginID string
	Versions []string // "1.2.0 (broken)"
}

// Calendar lists the sunsets announced, soonest first, with the plugins
// each affects (namespace, when set, keeps only that namespace's).
func (s *Service) Calendar(ctx context.Context, namespace string) ([]Entry, error) {
	pubs, err := s.published(ctx)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, p := range pubs {
		if p.Deprecates == "" || p.Sunset.IsZero() {
			continue
		}
		e := Entry{HostAPI: p.Deprecates, ReplacedBy: p.Version, Sunset: p.Sunset, MigrationURL: p.MigrationURL, Announced: p.PublishedAt}
		e.Affected, err = s.affected(ctx, p.Version, namespace)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Sunset.Before(out[j].Sunset) })
	return out, nil
}

// affected lists the plugins whose certified versions are not compatible
// with version.
func (s *Service) affected(ctx context.Context, version, namespace string) ([]Affected, error) {
	cells, err := s.cfg.Store.ListHostAPICompat(ctx, domain.CompatQuery{HostAPI: version, Namespace: namespace})
	if err != nil {
		return nil, err
	}
	byPlugin := map[string]*Affected{}
	var order []string
	for _, c := range cells {
		if c.Status == hostapi.Compatible {
			continue
		}
		v, err := s.cfg.Store.GetVersion(ctx, c.VersionID)
		if err != nil || v.State != lifecycle.Certified {
			continue // gone, or no longer offered to hosts
		}
		a := byPlugin[c.PluginID]
		if a == nil {
			a = &Affected{PluginID: c.PluginID}
			byPlugin[c.PluginID] = a
			order = append(order, c.PluginID)
		}
		a.Versions = append(a.Versions, c.PluginVersion+" ("+c.Status+")")
	}
	out := make([]Affected, 0, len(order))
	for _, id := range order {
		out = append(out, *byPlugin[id])
	}
	return out, nil
}

// noticeJob is the periodic job that sends due sunset notices.
type noticeJob struct{}

func (noticeJob) Kind() string { return NoticeKind }

func (noticeJob) InsertOpts() river.InsertOpts {
	// The queue is named here too, for inserts other than the periodic
	// tick (which store.Periodic puts in this queue): in "default"
	// nothing would work it, and it would hold the unique slot.
	return river.InsertOpts{Queue: Queue, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByState: store.ActiveStates}}
}

type noticeWorker struct {
	river.WorkerDefaults[noticeJob]
	s *Service
}

func (w *noticeWorker) Work(ctx context.Context, _ *river.Job[noticeJob]) error {
	_, err := w.s.SendNotices(ctx)
	return err
}

// DueThreshold is the notice due d before a sunset: the smallest
// threshold at or above d's whole days left (rounded up), or 0 when the
// sunset is further than the largest threshold or has passed. A notice
// whose threshold passed unsent (a sunset announced 20 days ahead) is
// not sent late: the tighter one is.
func DueThreshold(left time.Duration) int {
	if left <= 0 {
		return 0
	}
	days := int((left + 24*time.Hour - 1) / (24 * time.Hour))
	due := 0
	for _, t := range Thresholds {
		if days <= t && (due == 0 || t < due) {
			due = t
		}
	}
	return due
}

// SendNotices tells the authors of every plugin a coming sunset affects,
// once per plugin, sunsetting version and threshold (an audit event the
// webhooks deliver to subscriptions on the plugin or its namespace, and
// a row the authors' pages list). It returns how many it sent; running it
// again sends none of those again.
func (s *Service) SendNotices(ctx context.Context) (int, error) {
	entries, err := s.Calendar(ctx, "")
	if err != nil {
		return 0, err
	}
	now := s.cfg.Now()
	sent := 0
	for _, e := range entries {
		t := DueThreshold(e.Sunset.Sub(now))
		if t == 0 {
			continue
		}
		for _, a := range e.Affected {
			n := domain.HostAPINotice{PluginID: a.PluginID, HostAPI: e.HostAPI, Threshold: t, Sunset: e.Sunset, SentAt: now}
			days := int((e.Sunset.Sub(now) + 24*time.Hour - 1) / (24 * time.Hour))
			reason := fmt.Sprintf("host API %s sunsets on %s (in %d days); %s versions %s do not work with its replacement %s: publish a version that does",
				e.HostAPI, e.Sunset.UTC().Format(time.DateOnly), days, a.PluginID, strings.Join(a.Versions, ", "), e.ReplacedBy)
			if e.MigrationURL != "" {
				reason += " (migration notes: " + e.MigrationURL + ")"
			}
			data, _ := json.Marshal(map[string]any{"plugin": a.PluginID, "versions": a.Versions, "hostApi": e.HostAPI, "replacedBy": e.ReplacedBy,
				"sunset": e.Sunset, "threshold": t, "migrationUrl": e.MigrationURL})
			ev := audit.Event{Time: now, Actor: "system", Action: audit.HostAPISunsetNotice, Subject: "plugin:" + a.PluginID, Reason: clip2(reason, 4096), Data: data}
			ok, err := s.cfg.Store.RecordHostAPINotice(ctx, n, ev)
			if err != nil {
				return sent, fmt.Errorf("recording the sunset notice of %s: %w", a.PluginID, err)
			}
			if ok {
				sent++
			}
		}
	}
	return sent, nil
}

// Notices lists the notices sent for a namespace's plugins (every
// plugin's when namespace is "").
func (s *Service) Notices(ctx context.Context, namespace string, limit int) ([]domain.HostAPINotice, error) {
	return s.cfg.Store.ListHostAPINotices(ctx, namespace, limit)
}

// Work runs the notice job until ctx ends (the elected leader inserts
// it).
func (s *Service) Work(ctx context.Context) {
	if err := s.q.Start(ctx); err != nil {
		s.cfg.Log.Error("starting the host API job queue", "err", err)
		return
	}
	<-ctx.Done()
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.q.Stop(stop); err != nil {
		s.cfg.Log.Warn("stopping the host API job queue", "err", err)
	}
}

// Tick runs the due notice jobs in this goroutine (tests and tools).
func (s *Service) Tick(ctx context.Context) error {
	if _, err := s.q.Insert(ctx, noticeJob{}, nil); err != nil {
		return err
	}
	return s.q.RunPending(ctx)
}

// ICS writes the calendar as an iCalendar (RFC 5545) feed: one all-day
// event per sunset, with CRLF line ends, lines folded at 75 octets (never
// inside a UTF-8 sequence), TEXT values escaped, a UID stable across
// fetches (so a calendar updates rather than duplicates) and DTSTAMP set
// to now. domain names the UIDs' right-hand side.
func ICS(entries []Entry, now time.Time, domainName, pageURL string) []byte {
	var b strings.Builder
	line := func(name, value string) { writeFolded(&b, name+":"+value) }
	line("BEGIN", "VCALENDAR")
	line("VERSION", "2.0")
	line("PRODID", "-//Gatehouse//Host API deprecation calendar//EN")
	line("CALSCALE", "GREGORIAN")
	line("METHOD", "PUBLISH")
	line("X-WR-CALNAME", escapeText("Host API sunsets"))
	stamp := now.UTC().Format("20060102T150405Z")
	for _, e := range entries {
		day := e.Sunset.UTC()
		line("BEGIN", "VEVENT")
		line("UID", "hostapi-"+e.HostAPI+"-sunset@"+domainName)
		line("DTSTAMP", stamp)
		writeFolded(&b, "DTSTART;VALUE=DATE:"+day.Format("20060102"))
		writeFolded(&b, "DTEND;VALUE=DATE:"+day.AddDate(0, 0, 1).Format("20060102"))
		line("SUMMARY", escapeText(fmt.Sprintf("Host API %s sunsets (replaced by %s)", e.HostAPI, e.ReplacedBy)))
		desc := fmt.Sprintf("Hosts may stop offering host API %s on %s; plugin versions that need it should move to %s.", e.HostAPI, day.Format(time.DateOnly), e.ReplacedBy)
		if e.MigrationURL != "" {
			desc += "\nMigration notes: " + e.MigrationURL
		}
		if len(e.Affected) > 0 {
			desc += "\nAffected plugins:"
			for _, a := range e.Affected {
				desc += "\n- " + a.PluginID + ": " + strings.Join(a.Versions, ", ")
			}
		}
		line("DESCRIPTION", escapeText(desc))
		if e.MigrationURL != "" {
			line("URL", e.MigrationURL)
		} else if pageURL != "" {
			line("URL", pageURL)
		}
		line("END", "VEVENT")
	}
	line("END", "VCALENDAR")
	return []byte(b.String())
}

// escapeText escapes an RFC 5545 TEXT value (section 3.3.11): backslash,
// semicolon, comma and newlines; other control characters are dropped,
// since TEXT may not hold them.
func escapeText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == ';':
			b.WriteString(`\;`)
		case r == ',':
			b.WriteString(`\,`)
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// writeFolded writes one content line, folded (section 3.1): no line is
// longer than 75 octets without its CRLF, a continuation starts with one
// space, and a fold never splits a UTF-8 sequence.
func writeFolded(b *strings.Builder, l string) {
	limit := 75
	for len(l) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(l[cut]) {
			cut--
		}
		b.WriteString(l[:cut])
		b.WriteString("\r\n ")
		l = l[cut:]
		limit = 74 // the leading space counts
	}
	b.WriteString(l)
	b.WriteString("\r\n")
}
