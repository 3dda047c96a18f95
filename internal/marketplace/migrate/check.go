package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/marketplace"
	"gatehouse.dev/gatehouse/tlog"
)

// ErrOtherInstallation is returned, before anything is written, when the
// target holds something that is not an earlier copy of this
// installation.
var ErrOtherInstallation = errors.New("the target holds another installation")

// fixTarget says how to fix a refused target.
const fixTarget = "migrate into an empty database (a new one, or a schema of its own: add ?search_path=SCHEMA to the URL) and an empty bucket prefix, or into the ones an earlier `gatehouse migrate` of this data folder filled"

// check makes sure the source is whole (its audit chain and its log
// verify) and that the target is empty or an earlier copy of it, and
// reads the tables to copy. It writes nothing.
func (m *migration) check(ctx context.Context) error {
	m.prog.Step("checking the source and the target")
	sv, err := schemaVersion(ctx, m.src.DB())
	if err != nil {
		return fmt.Errorf("the source: %w", err)
	}
	dv, err := schemaVersion(ctx, m.dst.DB())
	if err != nil {
		return fmt.Errorf("the target: %w", err)
	}
	if sv != dv {
		return fmt.Errorf("the source's schema is at migration %d and the target's at %d: run migrate with the binary that serves the target", sv, dv)
	}
	if m.tables, err = loadTables(ctx, m.dst.DB()); err != nil {
		return err
	}
	for _, t := range m.tables {
		rows, err := m.src.DB().QueryContext(ctx, `SELECT `+t.colList("")+` FROM `+quote(t.name)+` LIMIT 0`)
		if err != nil {
			return fmt.Errorf("the source has no table %s with the columns %s: %w", t.name, t.colList(""), err)
		}
		rows.Close()
	}

	// The source's audit chain holds: a broken one is not copied.
	rep, err := audit.VerifyAll(func(fn func(audit.Event) error) error {
		return m.src.ScanAudit(ctx, domain.AuditQuery{}, fn)
	})
	if err != nil {
		return fmt.Errorf("reading the source's audit trail: %w", err)
	}
	if rep.Break != nil {
		return fmt.Errorf("the source's audit chain is broken at event %d (%s): migrate copies only an intact installation; see `gatehouse audit verify --data %s`", rep.Break.Seq, rep.Break.Reason, m.cfg.Data)
	}
	m.srcAudit = rep

	// The source's log: its checkpoint verifies with the log key, its
	// tiles hold the checkpoint's tree, and the database records it.
	if m.log, err = openLogKeys(ctx, m.cfg.Data); err != nil {
		return err
	}
	state, err := m.src.LogState(ctx)
	if err != nil {
		return err
	}
	if m.srcLog, err = m.log.check(ctx, tlog.DirStorage(m.log.dir), "the source's", state); err != nil {
		return err
	}

	if err := m.checkTarget(ctx); err != nil {
		return err
	}
	how := "an empty target"
	if m.report.Resumed {
		how = "resuming into a target an earlier run filled in part"
	}
	m.prog.Finish("Checked: %d audit events verify, a log of %d entries verifies, %d tables to copy; %s", rep.Count, m.srcLog.Size, len(m.tables), how)
	return nil
}

// checkTarget refuses a target that holds anything but an earlier copy of
// this installation, and sets Report.Resumed when it holds part of one.
func (m *migration) checkTarget(ctx context.Context) error {
	db := m.dst.DB()
	var (
		n   int64
		max sql.NullInt64
	)
	if err := db.QueryRowContext(ctx, `SELECT count(*), max(seq) FROM audit_events`).Scan(&n, &max); err != nil {
		return fmt.Errorf("reading the target's audit trail: %w", err)
	}
	if n == 0 {
		// Audit events are copied first: a target with other rows but no
		// audit event was not filled by migrate. The rows the target's
		// own migrations write (the log's state, the webhook cursor) are
		// overwritten by the source's.
		for _, t := range m.tables {
			if t.name == "log_state" || t.name == "webhook_cursor" {
				continue
			}
			var rows int64
			if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+quote(t.name)).Scan(&rows); err != nil {
				return err
			}
			if rows > 0 {
				return fmt.Errorf("%w: the target database has %d rows in %s and no audit events, so no migrate of this data folder wrote them; %s", ErrOtherInstallation, rows, t.name, fixTarget)
			}
		}
	} else {
		var srcHash, dstHash string
		err := m.src.DB().QueryRowContext(ctx, `SELECT hash FROM audit_events WHERE seq = ?`, max.Int64).Scan(&srcHash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := db.QueryRowContext(ctx, `SELECT hash FROM audit_events WHERE seq = $1`, max.Int64).Scan(&dstHash); err != nil {
			return err
		}
		// Each event's hash covers the one before it, so one equal hash
		// means an equal chain up to there.
		if srcHash != dstHash {
			return fmt.Errorf("%w: the target database's audit event %d is not this installation's (it has %d events; the source %d): %s", ErrOtherInstallation, max.Int64, n, m.srcAudit.Count, fixTarget)
		}
		m.report.Resumed = true
	}

	// A log in the target bucket must be this installation's, and no
	// longer than the source's: a longer one was extended by processes
	// serving the target.
	signed, err := marketplace.ObjectLog(m.dstBlobs).ReadFile(ctx, tlog.CheckpointPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("reading the target's log checkpoint: %w", err)
	default:
		cp, err := tlog.VerifyCheckpoint(signed, m.log.verifier)
		if err != nil {
			return fmt.Errorf("%w: the target blob store holds a log whose checkpoint this installation's log key did not sign (%v): %s", ErrOtherInstallation, err, fixTarget)
		}
		if cp.Size > m.srcLog.Size {
			return fmt.Errorf("%w: the target blob store's log has %d entries, the source's %d: processes have served the target since an earlier migrate; %s", ErrOtherInstallation, cp.Size, m.srcLog.Size, fixTarget)
		}
		m.report.Resumed = true
	}
	return nil
}

func schemaVersion(ctx context.Context, db *sql.DB) (int64, error) {
	var v sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("reading the schema's version: %w", err)
	}
	return v.Int64, nil
}
