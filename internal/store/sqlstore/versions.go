package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
)

const versionCols = `id, plugin_id, version, digest, size, manifest, files, submitter, state, reason, created_at, updated_at`

func scanVersion(sc scanner) (domain.Version, error) {
	var v domain.Version
	var files string
	var created, updated int64
	if err := sc.Scan(&v.ID, &v.PluginID, &v.Version, &v.Digest, &v.Size, &v.Manifest, &files, &v.Submitter, &v.State, &v.Reason, &created, &updated); err != nil {
		return v, err
	}
	v.CreatedAt, v.UpdatedAt = fromMicros(created), fromMicros(updated)
	return v, decodeFiles(&v, files)
}

// decodeFiles reads a version's file list, stored as a JSON array.
func decodeFiles(v *domain.Version, files string) error {
	if err := json.Unmarshal([]byte(files), &v.Files); err != nil {
		return fmt.Errorf("version %s has an unreadable file list: %w", v.ID, err)
	}
	if len(v.Files) == 0 {
		v.Files = nil
	}
	return nil
}

// splitPluginID splits "namespace/name".
func splitPluginID(id string) (ns, name string, err error) {
	ns, name, ok := strings.Cut(id, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("plugin id %q must have the form namespace/name", id)
	}
	return ns, name, nil
}

func checkVersion(v *domain.Version) error {
	if v.ID == "" {
		return errors.New("version has no id")
	}
	if _, _, err := splitPluginID(v.PluginID); err != nil {
		return err
	}
	if _, err := semver.NewVersion(v.Version); err != nil {
		return fmt.Errorf("%s version %q is not a semantic version: %w", v.PluginID, v.Version, err)
	}
	switch {
	case v.Digest == "":
		return fmt.Errorf("%s@%s has no digest", v.PluginID, v.Version)
	case len(v.Manifest) == 0:
		return fmt.Errorf("%s@%s has no manifest", v.PluginID, v.Version)
	case v.Submitter == "":
		return fmt.Errorf("%s@%s has no submitter", v.PluginID, v.Version)
	case !lifecycle.Valid(v.State):
		return fmt.Errorf("%s@%s has unknown state %q", v.PluginID, v.Version, v.State)
	case len(v.Reason) > MaxReason:
		return fmt.Errorf("%s@%s reason is %d bytes, over the limit of %d", v.PluginID, v.Version, len(v.Reason), MaxReason)
	}
	v.CreatedAt, v.UpdatedAt = norm(v.CreatedAt), norm(v.UpdatedAt)
	if v.UpdatedAt.IsZero() {
		v.UpdatedAt = v.CreatedAt
	}
	if len(v.Files) == 0 {
		v.Files = nil
	}
	return nil
}

// manifestText is what the catalog shows of a manifest. The store treats
// the manifest as opaque bytes otherwise: it was validated at intake.
func manifestText(m []byte) (name, description string) {
	var t struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	_ = json.Unmarshal(m, &t) // missing fields show as empty
	return t.Name, t.Description
}

// semverGreater reports whether a > b; a version that does not parse
// (which checkVersion keeps out) loses to one that does.
func semverGreater(a, b string) bool {
	va, errA := semver.NewVersion(a)
	vb, errB := semver.NewVersion(b)
	switch {
	case errA != nil:
		return false
	case errB != nil:
		return true
	}
	return va.GreaterThan(vb)
}

// CreateVersion records a new version, creating its namespace (owned by
// the submitter) and plugin when they do not exist.
func (s *Store) CreateVersion(ctx context.Context, v domain.Version, events []audit.Event) (domain.Version, bool, error) {
	if err := checkVersion(&v); err != nil {
		return domain.Version{}, false, err
	}
	if len(events) == 0 {
		return domain.Version{}, false, fmt.Errorf("creating %s@%s: a change must be recorded by at least one audit event", v.PluginID, v.Version)
	}
	files, err := json.Marshal(v.Files)
	if err != nil {
		return domain.Version{}, false, fmt.Errorf("encoding the file list of %s@%s: %w", v.PluginID, v.Version, err)
	}
	if v.Files == nil {
		files = []byte("[]")
	}
	ns, name, _ := splitPluginID(v.PluginID)
	display, description := manifestText(v.Manifest)

	var stored domain.Version
	created := false
	err = s.write(ctx, func(tx *sql.Tx) error {
		existing, err := scanVersion(tx.QueryRowContext(ctx, s.d.rebind(`SELECT `+versionCols+` FROM versions WHERE plugin_id = ? AND version = ?`), v.PluginID, v.Version))
		switch {
		case err == nil:
			if existing.Digest != v.Digest {
				return fmt.Errorf("%s@%s exists with digest %s, not %s; versions are immutable: %w", v.PluginID, v.Version, existing.Digest, v.Digest, domain.ErrConflict)
			}
			stored = existing
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("%s: looking up %s@%s: %w", s.d.Name, v.PluginID, v.Version, err)
		}

		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO namespaces (name, owners, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`),
			ns, ownersJSON([]string{v.Submitter}), micros(v.CreatedAt)); err != nil {
			return fmt.Errorf("%s: creating namespace %s: %w", s.d.Name, ns, err)
		}
		if err := s.upsertPlugin(ctx, tx, v, ns, name, display, description); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`INSERT INTO versions (`+versionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			v.ID, v.PluginID, v.Version, v.Digest, v.Size, v.Manifest, string(files), v.Submitter, string(v.State), v.Reason, micros(v.CreatedAt), micros(v.UpdatedAt))
		if s.d.IsUniqueViolation(err) {
			return fmt.Errorf("a version with id %s exists: %w", v.ID, domain.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("%s: creating %s@%s: %w", s.d.Name, v.PluginID, v.Version, err)
		}
		if err := s.appendEvents(ctx, tx, events); err != nil {
			return err
		}
		stored, created = v, true
		return nil
	})
	if err != nil {
		return domain.Version{}, false, err
	}
	return stored, created, nil
}

// upsertPlugin creates the catalog entry, or moves it to v when v is the
// highest version so far. SemVer order is decided here, not by SQL string
// order (1.10.0 > 1.9.0).
func (s *Store) upsertPlugin(ctx context.Context, tx *sql.Tx, v domain.Version, ns, name, display, description string) error {
	search := strings.ToLower(v.PluginID + "\n" + display + "\n" + description)
	var latest string
	var updated int64
	err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT latest_version, updated_at FROM plugins WHERE id = ?`), v.PluginID).Scan(&latest, &updated)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = tx.ExecContext(ctx, s.d.rebind(`INSERT INTO plugins (id, namespace, name, display_name, description, latest_version, search_text, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			v.PluginID, ns, name, display, description, v.Version, search, micros(v.CreatedAt))
	case err != nil:
	case semverGreater(v.Version, latest):
		_, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE plugins SET display_name = ?, description = ?, latest_version = ?, search_text = ?, updated_at = ? WHERE id = ?`),
			display, description, v.Version, search, max(updated, micros(v.CreatedAt)), v.PluginID)
	default:
		_, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE plugins SET updated_at = ? WHERE id = ?`), max(updated, micros(v.CreatedAt)), v.PluginID)
	}
	if err != nil {
		return fmt.Errorf("%s: recording plugin %s: %w", s.d.Name, v.PluginID, err)
	}
	return nil
}

// GetVersion returns a version by its id (the submission id).
func (s *Store) GetVersion(ctx context.Context, id string) (domain.Version, error) {
	return getOne(ctx, s, s.db, "reading submission "+id, "submission "+id, scanVersion, `SELECT `+versionCols+` FROM versions WHERE id = ?`, id)
}

// GetVersionByName returns namespace/name@version.
func (s *Store) GetVersionByName(ctx context.Context, pluginID, version string) (domain.Version, error) {
	name := pluginID + "@" + version
	return getOne(ctx, s, s.db, "reading "+name, name, scanVersion, `SELECT `+versionCols+` FROM versions WHERE plugin_id = ? AND version = ?`, pluginID, version)
}

// VersionByDigest returns the earliest version whose package has digest.
func (s *Store) VersionByDigest(ctx context.Context, digest string) (domain.Version, error) {
	return getOne(ctx, s, s.db, "looking up digest "+digest, "no version has digest "+digest, scanVersion,
		`SELECT `+versionCols+` FROM versions WHERE digest = ? ORDER BY created_at, id LIMIT 1`, digest)
}

// DigestReferenced reports whether any version names this blob digest.
func (s *Store) DigestReferenced(ctx context.Context, digest string) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, s.d.rebind(`SELECT 1 FROM versions WHERE digest = ? LIMIT 1`), digest).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: looking up digest %s: %w", s.d.Name, digest, err)
	}
	return true, nil
}

// ListVersions returns a plugin's versions, oldest first.
func (s *Store) ListVersions(ctx context.Context, pluginID string) ([]domain.Version, error) {
	return listAll(ctx, s, "listing versions of "+pluginID, fmt.Sprintf("plugin %s has more than %d versions, more than one list can hold", pluginID, MaxListRows), MaxListRows,
		scanVersion, `SELECT `+versionCols+` FROM versions WHERE plugin_id = ? ORDER BY created_at, id`, pluginID)
}

// ListVersionsOf returns the versions of each of pluginIDs (at most
// MaxListRows plugins), each plugin's in ListVersions' order, in one query:
// what a catalog page needs, without a query per plugin.
func (s *Store) ListVersionsOf(ctx context.Context, pluginIDs []string) (map[string][]domain.Version, error) {
	out := make(map[string][]domain.Version, len(pluginIDs))
	if len(pluginIDs) == 0 {
		return out, nil
	}
	if len(pluginIDs) > MaxListRows {
		return nil, fmt.Errorf("listing the versions of %d plugins at once; the limit is %d", len(pluginIDs), MaxListRows)
	}
	args := make([]any, len(pluginIDs))
	for i, id := range pluginIDs {
		args[i] = id
	}
	in := strings.TrimSuffix(strings.Repeat("?, ", len(pluginIDs)), ", ")
	vs, err := list(ctx, s, s.db, "listing versions of a page of plugins", scanVersion,
		`SELECT `+versionCols+` FROM versions WHERE plugin_id IN (`+in+`) ORDER BY plugin_id, created_at, id`, args...)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		out[v.PluginID] = append(out[v.PluginID], v)
	}
	return out, nil
}

// FindVersions returns versions across plugins, oldest first (a queue
// order). Limit 0 means DefaultVersionLimit; more than MaxVersionLimit is
// cut to it.
func (s *Store) FindVersions(ctx context.Context, q domain.VersionQuery) ([]domain.Version, error) {
	limit := q.Limit
	switch {
	case limit < 0:
		return nil, fmt.Errorf("version query limit %d must not be negative", limit)
	case limit == 0:
		limit = DefaultVersionLimit
	case limit > MaxVersionLimit:
		limit = MaxVersionLimit
	}
	where, args := []string{}, []any{}
	if q.State != "" {
		if !lifecycle.Valid(q.State) {
			return nil, fmt.Errorf("unknown state %q", q.State)
		}
		where, args = append(where, "state = ?"), append(args, string(q.State))
	}
	if !q.UpdatedBefore.IsZero() {
		where, args = append(where, "updated_at < ?"), append(args, micros(q.UpdatedBefore))
	}
	query := `SELECT ` + versionCols + ` FROM versions`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	return list(ctx, s, s.db, "finding versions", scanVersion, query+` ORDER BY created_at, id LIMIT ?`, append(args, limit)...)
}

// Transition moves a version from one state to another by compare-and-set.
func (s *Store) Transition(ctx context.Context, id string, from, to lifecycle.State, reason string, ev audit.Event) error {
	if err := lifecycle.Check(from, to); err != nil {
		return fmt.Errorf("submission %s: %w", id, err)
	}
	if len(reason) > MaxReason {
		return fmt.Errorf("submission %s: reason is %d bytes, over the limit of %d", id, len(reason), MaxReason)
	}
	ev.OldState, ev.NewState = string(from), string(to)
	if ev.Reason == "" {
		ev.Reason = reason
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.Time = norm(ev.Time)
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		return s.transitionTx(ctx, tx, id, from, to, reason, ev.Time)
	})
}

// transitionTx moves a version by compare-and-set inside a write: for
// Transition, and for a change of trust that moves the version too.
func (s *Store) transitionTx(ctx context.Context, tx *sql.Tx, id string, from, to lifecycle.State, reason string, at time.Time) error {
	res, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE versions SET state = ?, reason = ?, updated_at = ? WHERE id = ? AND state = ?`),
		string(to), reason, micros(at), id, string(from))
	if err != nil {
		return fmt.Errorf("%s: moving submission %s to %s: %w", s.d.Name, id, to, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: moving submission %s to %s: %w", s.d.Name, id, to, err)
	}
	if n == 0 {
		cur, err := getOne(ctx, s, tx, "reading submission "+id, "submission "+id, scanValue[string], `SELECT state FROM versions WHERE id = ?`, id)
		if err != nil {
			return err
		}
		return fmt.Errorf("submission %s is %s, not %s: %w", id, cur, from, domain.ErrStateChanged)
	}
	if from == lifecycle.InReview && to != lifecycle.InReview {
		// Leaving review closes the queue item in the same transaction.
		if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE review_items SET is_open = ? WHERE version_id = ?`), false, id); err != nil {
			return fmt.Errorf("%s: closing the review of %s: %w", s.d.Name, id, err)
		}
	}
	return nil
}

// ---- Catalog --------------------------------------------------------------

const pluginCols = `id, namespace, name, display_name, description, latest_version, updated_at`

func scanPlugin(sc scanner) (domain.Plugin, error) {
	var p domain.Plugin
	var updated int64
	err := sc.Scan(&p.ID, &p.Namespace, &p.Name, &p.DisplayName, &p.Description, &p.LatestVersion, &updated)
	p.UpdatedAt = fromMicros(updated)
	return p, err
}

// likeEscaper makes a user's search text match literally inside LIKE.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// ListPlugins returns one page of the catalog by id. Search is a
// case-insensitive substring of the id, display name or description; the
// lower-casing is done in Go on both sides, so both databases agree.
func (s *Store) ListPlugins(ctx context.Context, q domain.PluginQuery) ([]domain.Plugin, error) {
	limit := q.Limit
	switch {
	case limit < 0 || q.Offset < 0:
		return nil, fmt.Errorf("catalog limit %d and offset %d must not be negative", q.Limit, q.Offset)
	case limit == 0:
		limit = DefaultPluginLimit
	case limit > MaxPluginLimit:
		limit = MaxPluginLimit
	}
	var where []string
	var args []any
	if q.Namespace != "" {
		where = append(where, `namespace = ?`)
		args = append(args, q.Namespace)
	}
	if q.Search != "" {
		where = append(where, `search_text LIKE ? ESCAPE '\'`)
		args = append(args, "%"+likeEscaper.Replace(strings.ToLower(q.Search))+"%")
	}
	if q.Reader != nil {
		cond, readerArgs := readable(*q.Reader)
		where = append(where, cond)
		args = append(args, readerArgs...)
	}
	query := `SELECT ` + pluginCols + ` FROM plugins`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY id LIMIT ? OFFSET ?`
	args = append(args, limit, q.Offset)
	return list(ctx, s, s.db, "listing plugins", scanPlugin, query, args...)
}

// readable is the condition on plugins that keeps what r reads: a plugin
// with a version in a released state (domain.ReleasedStates, the states
// domain.Released admits), or any plugin of r's namespaces. It admits
// nothing else, not even when there are no released states to match
// (versions_plugin_state serves the lookup).
func readable(r domain.PluginReader) (string, []any) {
	var or []string
	var args []any
	if states := domain.ReleasedStates(); len(states) > 0 {
		or = append(or, `EXISTS (SELECT 1 FROM versions rv WHERE rv.plugin_id = plugins.id AND rv.state IN (`+marks(len(states))+`))`)
		for _, st := range states {
			args = append(args, string(st))
		}
	}
	if len(r.Namespaces) > 0 {
		or = append(or, `namespace IN (`+marks(len(r.Namespaces))+`)`)
		for _, ns := range r.Namespaces {
			args = append(args, ns)
		}
	}
	if len(or) == 0 {
		return `1 = 0`, nil
	}
	return `(` + strings.Join(or, ` OR `) + `)`, args
}

// marks is n comma-separated placeholders.
func marks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// GetPlugin returns one catalog entry.
func (s *Store) GetPlugin(ctx context.Context, id string) (domain.Plugin, error) {
	return getOne(ctx, s, s.db, "reading plugin "+id, "plugin "+id, scanPlugin, `SELECT `+pluginCols+` FROM plugins WHERE id = ?`, id)
}
