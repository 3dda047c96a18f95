package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
)

// Bounds of the trust tables.
const (
	// MaxTrustEntry bounds a queued log entry: the log stores lengths in
	// two bytes.
	MaxTrustEntry = 1<<16 - 1
	// MaxTrustDocument bounds a stored envelope (certificate, signature,
	// revocation list).
	MaxTrustDocument = 8 << 20
	// MaxPendingBatch bounds one read of the outbox.
	MaxPendingBatch = 4096
)

// ---- Publisher keys -------------------------------------------------------

const publisherKeyCols = `namespace, id, algorithm, pem, added_by, added_at, retired_by, retired_at`

func scanPublisherKey(sc interface{ Scan(...any) error }) (store.PublisherKey, error) {
	var k store.PublisherKey
	var added, retired int64
	err := sc.Scan(&k.Namespace, &k.ID, &k.Algorithm, &k.PEM, &k.AddedBy, &added, &k.RetiredBy, &retired)
	k.AddedAt, k.RetiredAt = fromMicros(added), fromMicros(retired)
	return k, err
}

// AddPublisherKey registers a key for a namespace with its trust event.
func (s *Store) AddPublisherKey(ctx context.Context, k store.PublisherKey, entry []byte, ev audit.Event) error {
	switch {
	case k.ID == "" || k.Algorithm == "" || len(k.PEM) == 0:
		return errors.New("a publisher key needs an id, an algorithm and its PEM encoding")
	case len(k.PEM) > MaxTrustDocument:
		return fmt.Errorf("publisher key is %d bytes, over the limit of %d", len(k.PEM), MaxTrustDocument)
	case k.AddedBy == "":
		return errors.New("a publisher key needs who added it")
	}
	if err := validNamespace(k.Namespace); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := s.namespaceExists(ctx, tx, k.Namespace); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO publisher_keys (`+publisherKeyCols+`) VALUES (?, ?, ?, ?, ?, ?, '', 0)`),
			k.Namespace, k.ID, k.Algorithm, k.PEM, k.AddedBy, micros(k.AddedAt))
		if s.d.IsUniqueViolation(err) {
			return fmt.Errorf("namespace %s has key %s already (a retired key cannot be added again; make a new one): %w", k.Namespace, k.ID, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("%s: adding key %s to namespace %s: %w", s.d.Name, k.ID, k.Namespace, err)
		}
		if _, err := s.queueEntries(ctx, tx, [][]byte{entry}, k.AddedAt); err != nil {
			return err
		}
		return s.appendEvents(ctx, tx, []audit.Event{ev})
	})
}

func (s *Store) namespaceExists(ctx context.Context, tx *sql.Tx, ns string) error {
	var one int
	err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT 1 FROM namespaces WHERE name = ?`), ns).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("namespace %s: %w", ns, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s: reading namespace %s: %w", s.d.Name, ns, err)
	}
	return nil
}

// RetirePublisherKey closes a key's window.
func (s *Store) RetirePublisherKey(ctx context.Context, namespace, id string, at time.Time, by string, entry []byte, ev audit.Event) error {
	if at.IsZero() || by == "" {
		return fmt.Errorf("retiring key %s: the time and who retires it are required", id)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE publisher_keys SET retired_at = ?, retired_by = ? WHERE namespace = ? AND id = ? AND retired_at = 0`),
			micros(at), by, namespace, id)
		if err != nil {
			return fmt.Errorf("%s: retiring key %s of namespace %s: %w", s.d.Name, id, namespace, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("%s: retiring key %s: %w", s.d.Name, id, err)
		} else if n == 0 {
			return fmt.Errorf("namespace %s has no current key %s: %w", namespace, id, store.ErrNotFound)
		}
		if _, err := s.queueEntries(ctx, tx, [][]byte{entry}, at); err != nil {
			return err
		}
		return s.appendEvents(ctx, tx, []audit.Event{ev})
	})
}

// ListPublisherKeys returns a namespace's keys, oldest first.
func (s *Store) ListPublisherKeys(ctx context.Context, namespace string) ([]store.PublisherKey, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT `+publisherKeyCols+` FROM publisher_keys WHERE namespace = ? ORDER BY added_at, id LIMIT ?`), namespace, MaxListRows+1)
	if err != nil {
		return nil, fmt.Errorf("%s: listing keys of namespace %s: %w", s.d.Name, namespace, err)
	}
	defer rows.Close()
	var out []store.PublisherKey
	for rows.Next() {
		k, err := scanPublisherKey(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: listing keys of namespace %s: %w", s.d.Name, namespace, err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: listing keys of namespace %s: %w", s.d.Name, namespace, err)
	}
	if len(out) > MaxListRows {
		return nil, fmt.Errorf("namespace %s has more than %d keys", namespace, MaxListRows)
	}
	return out, nil
}

// PublisherKey returns one key of a namespace.
func (s *Store) PublisherKey(ctx context.Context, namespace, id string) (store.PublisherKey, error) {
	k, err := scanPublisherKey(s.db.QueryRowContext(ctx, s.d.rebind(`SELECT `+publisherKeyCols+` FROM publisher_keys WHERE namespace = ? AND id = ?`), namespace, id))
	if errors.Is(err, sql.ErrNoRows) {
		return k, fmt.Errorf("namespace %s has no key %s: %w", namespace, id, store.ErrNotFound)
	}
	if err != nil {
		return k, fmt.Errorf("%s: reading key %s: %w", s.d.Name, id, err)
	}
	return k, nil
}

// SetSignaturesRequired records a namespace's signature requirement.
func (s *Store) SetSignaturesRequired(ctx context.Context, namespace string, required bool, ev audit.Event) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := s.namespaceExists(ctx, tx, namespace); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO namespace_trust (namespace, signatures_required) VALUES (?, ?)
			ON CONFLICT (namespace) DO UPDATE SET signatures_required = excluded.signatures_required`), namespace, required); err != nil {
			return fmt.Errorf("%s: setting the signature requirement of %s: %w", s.d.Name, namespace, err)
		}
		return s.appendEvents(ctx, tx, []audit.Event{ev})
	})
}

// SignaturesRequired reports whether a namespace requires signatures
// (true unless turned off).
func (s *Store) SignaturesRequired(ctx context.Context, namespace string) (bool, error) {
	var req bool
	err := s.db.QueryRowContext(ctx, s.d.rebind(`SELECT signatures_required FROM namespace_trust WHERE namespace = ?`), namespace).Scan(&req)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return true, fmt.Errorf("%s: reading the signature requirement of %s: %w", s.d.Name, namespace, err)
	}
	return req, nil
}

// ---- Signatures -----------------------------------------------------------

// PutSignature keeps a version's publisher signature.
func (s *Store) PutSignature(ctx context.Context, sig store.Signature, ev audit.Event) error {
	switch {
	case sig.VersionID == "" || sig.KeyID == "" || len(sig.Envelope) == 0:
		return errors.New("a signature needs a version, a key id and its envelope")
	case len(sig.Envelope) > MaxTrustDocument:
		return fmt.Errorf("signature is %d bytes, over the limit of %d", len(sig.Envelope), MaxTrustDocument)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO version_signatures (version_id, key_id, envelope, created_at) VALUES (?, ?, ?, ?)`),
			sig.VersionID, sig.KeyID, sig.Envelope, micros(sig.CreatedAt))
		if s.d.IsUniqueViolation(err) {
			return fmt.Errorf("submission %s has a signature already: %w", sig.VersionID, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("%s: keeping the signature of %s: %w", s.d.Name, sig.VersionID, err)
		}
		return s.appendEvents(ctx, tx, []audit.Event{ev})
	})
}

// GetSignature returns a version's publisher signature.
func (s *Store) GetSignature(ctx context.Context, versionID string) (store.Signature, error) {
	var sig store.Signature
	var created int64
	err := s.db.QueryRowContext(ctx, s.d.rebind(`SELECT version_id, key_id, envelope, created_at FROM version_signatures WHERE version_id = ?`), versionID).
		Scan(&sig.VersionID, &sig.KeyID, &sig.Envelope, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return sig, fmt.Errorf("submission %s has no publisher signature: %w", versionID, store.ErrNotFound)
	}
	if err != nil {
		return sig, fmt.Errorf("%s: reading the signature of %s: %w", s.d.Name, versionID, err)
	}
	sig.CreatedAt = fromMicros(created)
	return sig, nil
}

// ---- Trust changes --------------------------------------------------------

// queueEntries adds entries to the outbox and returns their sequence
// numbers.
func (s *Store) queueEntries(ctx context.Context, tx *sql.Tx, entries [][]byte, at time.Time) ([]int64, error) {
	seqs := make([]int64, 0, len(entries))
	for _, e := range entries {
		if len(e) == 0 || len(e) > MaxTrustEntry {
			return nil, fmt.Errorf("a trust event is %d bytes; it must be 1 to %d", len(e), MaxTrustEntry)
		}
		var seq int64
		if err := tx.QueryRowContext(ctx, s.d.rebind(`INSERT INTO trust_events (entry, created_at, log_index) VALUES (?, ?, -1) RETURNING seq`), e, micros(at)).Scan(&seq); err != nil {
			return nil, fmt.Errorf("%s: queueing a trust event: %w", s.d.Name, err)
		}
		seqs = append(seqs, seq)
	}
	return seqs, nil
}

// ApplyTrustChange records a change of trust in one transaction.
func (s *Store) ApplyTrustChange(ctx context.Context, c store.TrustChange) ([]int64, error) {
	if len(c.Audit) == 0 {
		return nil, errors.New("a change of trust must be recorded by at least one audit event")
	}
	if c.Certificate != nil && len(c.Entries) == 0 {
		return nil, errors.New("a certificate must be published by a trust event")
	}
	if c.From != "" {
		if err := lifecycle.Check(c.From, c.To); err != nil {
			return nil, fmt.Errorf("submission %s: %w", c.VersionID, err)
		}
		if len(c.Reason) > MaxReason {
			return nil, fmt.Errorf("submission %s: reason is %d bytes, over the limit of %d", c.VersionID, len(c.Reason), MaxReason)
		}
	}
	now := norm(c.Audit[0].Time)
	if now.IsZero() {
		now = norm(time.Now())
	}
	var seqs []int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		if c.From != "" {
			if err := s.transitionTx(ctx, tx, c.VersionID, c.From, c.To, c.Reason, now); err != nil {
				return err
			}
		}
		var err error
		if seqs, err = s.queueEntries(ctx, tx, c.Entries, now); err != nil {
			return err
		}
		if cr := c.Certificate; cr != nil {
			if len(cr.Envelope) == 0 || len(cr.Envelope) > MaxTrustDocument {
				return fmt.Errorf("certificate of %s is %d bytes; it must be 1 to %d", c.VersionID, len(cr.Envelope), MaxTrustDocument)
			}
			var seq int
			if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COALESCE(MAX(seq), 0) + 1 FROM certificates WHERE version_id = ?`), c.VersionID).Scan(&seq); err != nil {
				return fmt.Errorf("%s: numbering the certificate of %s: %w", s.d.Name, c.VersionID, err)
			}
			if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO certificates (version_id, seq, kind, envelope, key_id, issued_at, expires_at, event_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
				c.VersionID, seq, cr.Kind, cr.Envelope, cr.KeyID, micros(cr.IssuedAt), micros(cr.ExpiresAt), seqs[0]); err != nil {
				return fmt.Errorf("%s: storing the certificate of %s: %w", s.d.Name, c.VersionID, err)
			}
		}
		if len(c.Provenance) > 0 {
			if len(c.Provenance) > MaxTrustDocument {
				return fmt.Errorf("provenance statement of %s is %d bytes, over the limit of %d", c.VersionID, len(c.Provenance), MaxTrustDocument)
			}
			if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO provenance_statements (version_id, envelope, created_at) VALUES (?, ?, ?) ON CONFLICT (version_id) DO NOTHING`),
				c.VersionID, c.Provenance, micros(now)); err != nil {
				return fmt.Errorf("%s: keeping the provenance statement of %s: %w", s.d.Name, c.VersionID, err)
			}
		}
		if r := c.Revocation; r != nil {
			_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO revocations (version_id, digest, reason, revoked_at) VALUES (?, ?, ?, ?)`),
				r.VersionID, r.Digest, r.Reason, micros(r.Time))
			if s.d.IsUniqueViolation(err) {
				return fmt.Errorf("submission %s is revoked already: %w", r.VersionID, store.ErrConflict)
			}
			if err != nil {
				return fmt.Errorf("%s: revoking %s: %w", s.d.Name, r.VersionID, err)
			}
		}
		if l := c.RevocationList; l != nil {
			var latest int64
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(number), 0) FROM revocation_lists`).Scan(&latest); err != nil {
				return fmt.Errorf("%s: reading the latest revocation list: %w", s.d.Name, err)
			}
			if l.Number != latest+1 {
				return fmt.Errorf("revocation list %d does not follow list %d (another process published one): %w", l.Number, latest, store.ErrStateChanged)
			}
			if len(l.Envelope) == 0 || len(l.Envelope) > MaxTrustDocument {
				return fmt.Errorf("revocation list is %d bytes; it must be 1 to %d", len(l.Envelope), MaxTrustDocument)
			}
			if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO revocation_lists (number, envelope, issued_at, next_update) VALUES (?, ?, ?, ?)`),
				l.Number, l.Envelope, micros(l.IssuedAt), micros(l.NextUpdate)); err != nil {
				return fmt.Errorf("%s: storing revocation list %d: %w", s.d.Name, l.Number, err)
			}
		}
		evs := make([]audit.Event, len(c.Audit))
		copy(evs, c.Audit)
		if c.From != "" {
			for i := range evs {
				if evs[i].Action == "submission.transition" {
					evs[i].OldState, evs[i].NewState = string(c.From), string(c.To)
				}
			}
		}
		return s.appendEvents(ctx, tx, evs)
	})
	return seqs, err
}

// transitionTx is Transition's compare-and-set inside a trust change.
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
		var cur string
		err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT state FROM versions WHERE id = ?`), id).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("submission %s: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("%s: reading submission %s: %w", s.d.Name, id, err)
		}
		return fmt.Errorf("submission %s is %s, not %s: %w", id, cur, from, store.ErrStateChanged)
	}
	if from == lifecycle.InReview && to != lifecycle.InReview {
		// Leaving review closes the queue item, as Transition does.
		if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE review_items SET is_open = ? WHERE version_id = ?`), false, id); err != nil {
			return fmt.Errorf("%s: closing the review of %s: %w", s.d.Name, id, err)
		}
	}
	return nil
}

const certificateCols = `version_id, seq, kind, envelope, key_id, issued_at, expires_at, event_seq`

// LatestCertificate returns a version's newest certificate.
func (s *Store) LatestCertificate(ctx context.Context, versionID string) (store.CertificateRecord, error) {
	var c store.CertificateRecord
	var issued, expires int64
	err := s.db.QueryRowContext(ctx, s.d.rebind(`SELECT `+certificateCols+` FROM certificates WHERE version_id = ? ORDER BY seq DESC LIMIT 1`), versionID).
		Scan(&c.VersionID, &c.Seq, &c.Kind, &c.Envelope, &c.KeyID, &issued, &expires, &c.EventSeq)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("submission %s has no certificate: %w", versionID, store.ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("%s: reading the certificate of %s: %w", s.d.Name, versionID, err)
	}
	c.IssuedAt, c.ExpiresAt = fromMicros(issued), fromMicros(expires)
	return c, nil
}

// ProvenanceStatement returns a version's marketplace provenance statement.
func (s *Store) ProvenanceStatement(ctx context.Context, versionID string) ([]byte, error) {
	var env []byte
	err := s.db.QueryRowContext(ctx, s.d.rebind(`SELECT envelope FROM provenance_statements WHERE version_id = ?`), versionID).Scan(&env)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("submission %s has no marketplace provenance statement: %w", versionID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: reading the provenance statement of %s: %w", s.d.Name, versionID, err)
	}
	return env, nil
}

// ---- Outbox ---------------------------------------------------------------

func scanTrustEvent(sc interface{ Scan(...any) error }) (store.TrustEvent, error) {
	var e store.TrustEvent
	var created int64
	err := sc.Scan(&e.Seq, &e.Entry, &created, &e.LogIndex)
	e.CreatedAt = fromMicros(created)
	return e, err
}

// TrustEvent returns one outbox entry.
func (s *Store) TrustEvent(ctx context.Context, seq int64) (store.TrustEvent, error) {
	e, err := scanTrustEvent(s.db.QueryRowContext(ctx, s.d.rebind(`SELECT seq, entry, created_at, log_index FROM trust_events WHERE seq = ?`), seq))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("trust event %d: %w", seq, store.ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("%s: reading trust event %d: %w", s.d.Name, seq, err)
	}
	return e, nil
}

// PendingTrustEvents returns events not yet logged, in outbox order.
func (s *Store) PendingTrustEvents(ctx context.Context, limit int) ([]store.TrustEvent, error) {
	if limit <= 0 || limit > MaxPendingBatch {
		limit = MaxPendingBatch
	}
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT seq, entry, created_at, log_index FROM trust_events WHERE log_index = -1 ORDER BY seq LIMIT ?`), limit)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the log outbox: %w", s.d.Name, err)
	}
	defer rows.Close()
	var out []store.TrustEvent
	for rows.Next() {
		e, err := scanTrustEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: reading the log outbox: %w", s.d.Name, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// LastLoggedIndex returns the highest recorded log index, or -1.
func (s *Store) LastLoggedIndex(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(log_index), -1) FROM trust_events`).Scan(&n); err != nil {
		return -1, fmt.Errorf("%s: reading the last logged index: %w", s.d.Name, err)
	}
	return n, nil
}

// MarkTrustEventsLogged records the log indexes of appended events. It is
// bookkeeping of a change already audited (the event's own change), so it
// writes no audit event of its own.
func (s *Store) MarkTrustEventsLogged(ctx context.Context, seqs []int64, firstIndex int64) error {
	if len(seqs) == 0 {
		return nil
	}
	if firstIndex < 0 {
		return fmt.Errorf("log index %d is negative", firstIndex)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		var last int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(log_index), -1) FROM trust_events`).Scan(&last); err != nil {
			return fmt.Errorf("%s: reading the last logged index: %w", s.d.Name, err)
		}
		if firstIndex != last+1 {
			return fmt.Errorf("log index %d does not follow the last recorded index %d: %w", firstIndex, last, store.ErrStateChanged)
		}
		for i, seq := range seqs {
			res, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE trust_events SET log_index = ? WHERE seq = ? AND log_index = -1`), firstIndex+int64(i), seq)
			if err != nil {
				return fmt.Errorf("%s: recording the log index of trust event %d: %w", s.d.Name, seq, err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("%s: recording the log index of trust event %d: %w", s.d.Name, seq, err)
			} else if n == 0 {
				return fmt.Errorf("trust event %d is not pending: %w", seq, store.ErrStateChanged)
			}
		}
		return nil
	})
}

// ---- Revocation -----------------------------------------------------------

// LatestRevocationList returns the newest signed list.
func (s *Store) LatestRevocationList(ctx context.Context) (store.RevocationListRecord, error) {
	var l store.RevocationListRecord
	var issued, next int64
	err := s.db.QueryRowContext(ctx, `SELECT number, envelope, issued_at, next_update FROM revocation_lists ORDER BY number DESC LIMIT 1`).
		Scan(&l.Number, &l.Envelope, &issued, &next)
	if errors.Is(err, sql.ErrNoRows) {
		return l, fmt.Errorf("no revocation list was published yet: %w", store.ErrNotFound)
	}
	if err != nil {
		return l, fmt.Errorf("%s: reading the revocation list: %w", s.d.Name, err)
	}
	l.IssuedAt, l.NextUpdate = fromMicros(issued), fromMicros(next)
	return l, nil
}

// ListRevocations returns every revoked version, oldest first.
func (s *Store) ListRevocations(ctx context.Context) ([]store.Revocation, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT version_id, digest, reason, revoked_at FROM revocations ORDER BY revoked_at, version_id LIMIT ?`), 1<<20+1)
	if err != nil {
		return nil, fmt.Errorf("%s: listing revocations: %w", s.d.Name, err)
	}
	defer rows.Close()
	var out []store.Revocation
	for rows.Next() {
		var r store.Revocation
		var at int64
		if err := rows.Scan(&r.VersionID, &r.Digest, &r.Reason, &at); err != nil {
			return nil, fmt.Errorf("%s: listing revocations: %w", s.d.Name, err)
		}
		r.Time = fromMicros(at)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: listing revocations: %w", s.d.Name, err)
	}
	if len(out) > 1<<20 {
		return nil, fmt.Errorf("more than %d revocations, more than one list holds", 1<<20)
	}
	return out, nil
}
