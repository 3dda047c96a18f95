package migrate

import (
	"context"
	"fmt"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/marketplace"
)

// verify checks the target as its processes will see it: the audit chain
// verifies (as `gatehouse audit verify --database` checks it) and ends
// where the source's does, every version's package is in the target blob
// store, and the log the database records is the one the blob store
// holds.
func (m *migration) verify(ctx context.Context) error {
	m.prog.Step("verifying the target: audit chain")
	rep, err := audit.VerifyAll(func(fn func(audit.Event) error) error {
		return m.dst.ScanAudit(ctx, domain.AuditQuery{}, fn)
	})
	if err != nil {
		return fmt.Errorf("reading the target's audit trail: %w", err)
	}
	if rep.Break != nil {
		return fmt.Errorf("the target's audit chain is broken at event %d after the copy: %s", rep.Break.Seq, rep.Break.Reason)
	}
	if rep.Count != m.srcAudit.Count || rep.Head != m.srcAudit.Head {
		return fmt.Errorf("the target's audit chain (%d events, head %s) is not the source's (%d events, head %s)", rep.Count, rep.Head, m.srcAudit.Count, m.srcAudit.Head)
	}
	m.report.AuditEvents, m.report.AuditHead = int(rep.Count), rep.Head

	m.prog.Step("verifying the target: every version's package")
	db := m.dst.DB()
	after := ""
	for {
		rows, err := db.QueryContext(ctx, `SELECT id, digest, state FROM versions WHERE id > $1 ORDER BY id COLLATE "C" LIMIT $2`, after, m.cfg.BatchRows)
		if err != nil {
			return err
		}
		type version struct{ id, digest, state string }
		var page []version
		for rows.Next() {
			var v version
			if err := rows.Scan(&v.id, &v.digest, &v.state); err != nil {
				rows.Close()
				return err
			}
			page = append(page, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		err = m.parallel(ctx, len(page), func(ctx context.Context, i int) error {
			ok, err := m.dstBlobs.Exists(ctx, page[i].digest)
			if err != nil {
				return fmt.Errorf("version %s: asking the target for its package %s: %w", page[i].id, page[i].digest, err)
			}
			if !ok {
				return fmt.Errorf("version %s: its package %s is not in the target blob store (nor was it in the source's blobs folder)", page[i].id, page[i].digest)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, v := range page {
			m.report.Versions++
			if lifecycle.MovedBy(lifecycle.State(v.state)) == lifecycle.Pipeline {
				m.report.Pending++
			}
		}
		after = page[len(page)-1].id
		m.tick("verifying the target: %d versions' packages present", m.report.Versions)
	}

	m.prog.Step("verifying the target: the log")
	state, err := m.dst.LogState(ctx)
	if err != nil {
		return err
	}
	cp, err := m.log.check(ctx, marketplace.ObjectLog(m.dstBlobs), "the target's", state)
	if err != nil {
		return err
	}
	m.prog.Finish("Verified the target: %d audit events (head %s), %d versions each with its package, a log of %d entries that the database records",
		rep.Count, rep.Head, m.report.Versions, cp.Size)
	return nil
}
