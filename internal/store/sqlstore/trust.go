package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
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

const publisherKeyCols = `namespace, id, algorithm, pem, added_by, added_at, retired_by, retired_at, compromised_by, compromised_at, compromised_reason`

func scanPublisherKey(sc scanner) (domain.PublisherKey, error) {
	var k domain.PublisherKey
	var added, retired, compromised int64
	err := sc.Scan(&k.Namespace, &k.ID, &k.Algorithm, &k.PEM, &k.AddedBy, &added, &k.RetiredBy, &retired, &k.CompromisedBy, &compromised, &k.CompromisedReason)
	k.AddedAt, k.RetiredAt, k.CompromisedAt = fromMicros(added), fromMicros(retired), fromMicros(compromised)
	return k, err
}

// AddPublisherKey registers a key for a namespace with its trust event.
func (s *Store) AddPublisherKey(ctx context.Context, k domain.PublisherKey, entry []byte, ev audit.Event) error {
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
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		if err := s.namespaceExists(ctx, tx, k.Namespace); err != nil {
			return err
		}
		if err := s.insert(ctx, tx, "key "+k.ID+" of namespace "+k.Namespace,
			fmt.Sprintf("namespace %s has key %s already (a retired key cannot be added again; make a new one)", k.Namespace, k.ID),
			`INSERT INTO publisher_keys (`+publisherKeyCols+`) VALUES (?, ?, ?, ?, ?, ?, '', 0, '', 0, '')`,
			k.Namespace, k.ID, k.Algorithm, k.PEM, k.AddedBy, micros(k.AddedAt)); err != nil {
			return err
		}
		_, err := s.queueEntries(ctx, tx, [][]byte{entry}, k.AddedAt)
		return err
	})
}

func (s *Store) namespaceExists(ctx context.Context, tx *sql.Tx, ns string) error {
	return s.mustExist(ctx, tx, "namespace "+ns, `SELECT 1 FROM namespaces WHERE name = ?`, ns)
}

// RetirePublisherKey closes a key's window.
func (s *Store) RetirePublisherKey(ctx context.Context, namespace, id string, at time.Time, by string, entry []byte, ev audit.Event) error {
	if at.IsZero() || by == "" {
		return fmt.Errorf("retiring key %s: the time and who retires it are required", id)
	}
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE publisher_keys SET retired_at = ?, retired_by = ? WHERE namespace = ? AND id = ? AND retired_at = 0`),
			micros(at), by, namespace, id)
		if err != nil {
			return fmt.Errorf("%s: retiring key %s of namespace %s: %w", s.d.Name, id, namespace, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("%s: retiring key %s: %w", s.d.Name, id, err)
		} else if n == 0 {
			return fmt.Errorf("namespace %s has no current key %s: %w", namespace, id, domain.ErrNotFound)
		}
		_, err = s.queueEntries(ctx, tx, [][]byte{entry}, at)
		return err
	})
}

// MaxCompromiseReason bounds the reason a key is reported stolen for.
const MaxCompromiseReason = 4096

// CompromisePublisherKey marks a key stolen, retiring it if it was current.
func (s *Store) CompromisePublisherKey(ctx context.Context, namespace, id string, at time.Time, by, reason string, entry []byte, ev audit.Event) error {
	switch {
	case at.IsZero() || by == "" || reason == "":
		return fmt.Errorf("reporting key %s compromised: the time, who reports it and why are required", id)
	case len(reason) > MaxCompromiseReason:
		return fmt.Errorf("reporting key %s compromised: the reason is %d bytes, over the limit of %d", id, len(reason), MaxCompromiseReason)
	}
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		// Both CASEs read the row as it was before the update, so a key
		// retired earlier keeps its retirement (and its window).
		res, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE publisher_keys SET
			compromised_at = ?, compromised_by = ?, compromised_reason = ?,
			retired_by = CASE WHEN retired_at = 0 THEN ? ELSE retired_by END,
			retired_at = CASE WHEN retired_at = 0 THEN ? ELSE retired_at END
			WHERE namespace = ? AND id = ? AND compromised_at = 0`),
			micros(at), by, reason, by, micros(at), namespace, id)
		if err != nil {
			return fmt.Errorf("%s: marking key %s of namespace %s compromised: %w", s.d.Name, id, namespace, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("%s: marking key %s compromised: %w", s.d.Name, id, err)
		} else if n == 0 {
			if err := s.mustExist(ctx, tx, "key "+id+" of namespace "+namespace, `SELECT 1 FROM publisher_keys WHERE namespace = ? AND id = ?`, namespace, id); err != nil {
				return err
			}
			return fmt.Errorf("key %s of namespace %s was reported compromised already: %w", id, namespace, domain.ErrConflict)
		}
		_, err = s.queueEntries(ctx, tx, [][]byte{entry}, at)
		return err
	})
}

// NamespaceVersions returns a namespace's versions in states with their
// publisher signatures.
func (s *Store) NamespaceVersions(ctx context.Context, namespace string, states []lifecycle.State) ([]domain.SignedVersion, error) {
	if len(states) == 0 {
		return nil, nil
	}
	args := []any{namespace}
	for _, st := range states {
		args = append(args, string(st))
	}
	return listAll(ctx, s, "listing the versions of namespace "+namespace,
		fmt.Sprintf("namespace %s has more than %d versions in those states", namespace, MaxListRows), MaxListRows,
		func(sc scanner) (domain.SignedVersion, error) {
			var sv domain.SignedVersion
			var created int64
			err := sc.Scan(&sv.VersionID, &sv.PluginID, &sv.Version, &sv.Digest, &sv.State, &sv.Signature.KeyID, &sv.Signature.Envelope, &created)
			if sv.Signature.KeyID != "" {
				sv.Signature.VersionID, sv.Signature.CreatedAt = sv.VersionID, fromMicros(created)
			}
			return sv, err
		},
		`SELECT v.id, v.plugin_id, v.version, v.digest, v.state, COALESCE(sg.key_id, ''), sg.envelope, COALESCE(sg.created_at, 0)
		FROM versions v JOIN plugins p ON p.id = v.plugin_id
		LEFT JOIN version_signatures sg ON sg.version_id = v.id
		WHERE p.namespace = ? AND v.state IN (`+marks(len(states))+`)
		ORDER BY v.id`, args...)
}

// ListPublisherKeys returns a namespace's keys, oldest first.
func (s *Store) ListPublisherKeys(ctx context.Context, namespace string) ([]domain.PublisherKey, error) {
	return listAll(ctx, s, "listing keys of namespace "+namespace, fmt.Sprintf("namespace %s has more than %d keys", namespace, MaxListRows), MaxListRows,
		scanPublisherKey, `SELECT `+publisherKeyCols+` FROM publisher_keys WHERE namespace = ? ORDER BY added_at, id`, namespace)
}

// PublisherKey returns one key of a namespace.
func (s *Store) PublisherKey(ctx context.Context, namespace, id string) (domain.PublisherKey, error) {
	return getOne(ctx, s, s.db, "reading key "+id, "namespace "+namespace+" has no key "+id, scanPublisherKey,
		`SELECT `+publisherKeyCols+` FROM publisher_keys WHERE namespace = ? AND id = ?`, namespace, id)
}

// SetSignaturesRequired records a namespace's signature requirement.
func (s *Store) SetSignaturesRequired(ctx context.Context, namespace string, required bool, ev audit.Event) error {
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		if err := s.namespaceExists(ctx, tx, namespace); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO namespace_trust (namespace, signatures_required) VALUES (?, ?)
			ON CONFLICT (namespace) DO UPDATE SET signatures_required = excluded.signatures_required`), namespace, required); err != nil {
			return fmt.Errorf("%s: setting the signature requirement of %s: %w", s.d.Name, namespace, err)
		}
		return nil
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
func (s *Store) PutSignature(ctx context.Context, sig domain.Signature, ev audit.Event) error {
	switch {
	case sig.VersionID == "" || sig.KeyID == "" || len(sig.Envelope) == 0:
		return errors.New("a signature needs a version, a key id and its envelope")
	case len(sig.Envelope) > MaxTrustDocument:
		return fmt.Errorf("signature is %d bytes, over the limit of %d", len(sig.Envelope), MaxTrustDocument)
	}
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		return s.insert(ctx, tx, "the signature of "+sig.VersionID, "submission "+sig.VersionID+" has a signature already",
			`INSERT INTO version_signatures (version_id, key_id, envelope, created_at) VALUES (?, ?, ?, ?)`,
			sig.VersionID, sig.KeyID, sig.Envelope, micros(sig.CreatedAt))
	})
}

// GetSignature returns a version's publisher signature.
func (s *Store) GetSignature(ctx context.Context, versionID string) (domain.Signature, error) {
	return getOne(ctx, s, s.db, "reading the signature of "+versionID, "submission "+versionID+" has no publisher signature", func(sc scanner) (domain.Signature, error) {
		var sig domain.Signature
		var created int64
		err := sc.Scan(&sig.VersionID, &sig.KeyID, &sig.Envelope, &created)
		sig.CreatedAt = fromMicros(created)
		return sig, err
	}, `SELECT version_id, key_id, envelope, created_at FROM version_signatures WHERE version_id = ?`, versionID)
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
	evs := make([]audit.Event, len(c.Audit))
	copy(evs, c.Audit)
	if c.From != "" {
		for i := range evs {
			if evs[i].Action == audit.SubmissionTransition {
				evs[i].OldState, evs[i].NewState = string(c.From), string(c.To)
			}
		}
	}
	var seqs []int64
	err := s.writeAudited(ctx, evs, func(tx *sql.Tx) error {
		if c.From != "" {
			if err := s.transitionTx(ctx, tx, c.VersionID, c.From, c.To, c.Reason, now); err != nil {
				return err
			}
		}
		var err error
		if seqs, err = s.queueEntries(ctx, tx, c.Entries, now); err != nil {
			return err
		}
		if c.ReleaseInto != "" {
			if err := s.releaseTx(ctx, tx, c.VersionID, c.ReleaseInto, c.ReleaseActor, now); err != nil {
				return err
			}
		}
		if cr := c.Certificate; cr != nil {
			if len(cr.Envelope) == 0 || len(cr.Envelope) > MaxTrustDocument {
				return fmt.Errorf("certificate of %s is %d bytes; it must be 1 to %d", c.VersionID, len(cr.Envelope), MaxTrustDocument)
			}
			seq, err := s.nextSeq(ctx, tx, "certificates", "seq", "version_id", c.VersionID)
			if err != nil {
				return err
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
		for _, sb := range c.SBOMs {
			if err := s.keepSBOM(ctx, tx, c.VersionID, sb, now); err != nil {
				return err
			}
		}
		if r := c.Revocation; r != nil {
			if err := s.insert(ctx, tx, "the revocation of "+r.VersionID, "submission "+r.VersionID+" is revoked already",
				`INSERT INTO revocations (version_id, digest, reason, revoked_at) VALUES (?, ?, ?, ?)`,
				r.VersionID, r.Digest, r.Reason, micros(r.Time)); err != nil {
				return err
			}
		}
		if l := c.RevocationList; l != nil {
			var latest int64
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(number), 0) FROM revocation_lists`).Scan(&latest); err != nil {
				return fmt.Errorf("%s: reading the latest revocation list: %w", s.d.Name, err)
			}
			if l.Number != latest+1 {
				return fmt.Errorf("revocation list %d does not follow list %d (another process published one): %w", l.Number, latest, domain.ErrStateChanged)
			}
			if len(l.Envelope) == 0 || len(l.Envelope) > MaxTrustDocument {
				return fmt.Errorf("revocation list is %d bytes; it must be 1 to %d", len(l.Envelope), MaxTrustDocument)
			}
			if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO revocation_lists (number, envelope, issued_at, next_update) VALUES (?, ?, ?, ?)`),
				l.Number, l.Envelope, micros(l.IssuedAt), micros(l.NextUpdate)); err != nil {
				return fmt.Errorf("%s: storing revocation list %d: %w", s.d.Name, l.Number, err)
			}
		}
		return nil
	})
	return seqs, err
}

const certificateCols = `version_id, seq, kind, envelope, key_id, issued_at, expires_at, event_seq`

// LatestCertificate returns a version's newest certificate.
func (s *Store) LatestCertificate(ctx context.Context, versionID string) (domain.CertificateRecord, error) {
	return getOne(ctx, s, s.db, "reading the certificate of "+versionID, "submission "+versionID+" has no certificate", func(sc scanner) (domain.CertificateRecord, error) {
		var c domain.CertificateRecord
		var issued, expires int64
		err := sc.Scan(&c.VersionID, &c.Seq, &c.Kind, &c.Envelope, &c.KeyID, &issued, &expires, &c.EventSeq)
		c.IssuedAt, c.ExpiresAt = fromMicros(issued), fromMicros(expires)
		return c, err
	}, `SELECT `+certificateCols+` FROM certificates WHERE version_id = ? ORDER BY seq DESC LIMIT 1`, versionID)
}

// ProvenanceStatement returns a version's marketplace provenance statement.
func (s *Store) ProvenanceStatement(ctx context.Context, versionID string) ([]byte, error) {
	return getOne(ctx, s, s.db, "reading the provenance statement of "+versionID, "submission "+versionID+" has no marketplace provenance statement", scanValue[[]byte],
		`SELECT envelope FROM provenance_statements WHERE version_id = ?`, versionID)
}

// MaxSBOM bounds one stored SBOM: the size the marketplace's own SBOM
// reader accepts. A package at its limits (10,000 files of 255-byte
// paths) gives about 10 MiB of SPDX.
const MaxSBOM = 32 << 20

// keepSBOM stores a version's SBOM of one format, unless it has one; the
// one it has must be the same document.
func (s *Store) keepSBOM(ctx context.Context, tx *sql.Tx, versionID string, sb domain.SBOM, now time.Time) error {
	if sb.VersionID != versionID || sb.Format == "" || len(sb.Document) == 0 || len(sb.Document) > MaxSBOM {
		return fmt.Errorf("the %s SBOM of %s (for %s, %d bytes) must be of that version, name its format and be 1 to %d bytes", sb.Format, versionID, sb.VersionID, len(sb.Document), MaxSBOM)
	}
	if sb.Digest != documentDigest(sb.Document) {
		return fmt.Errorf("the %s SBOM of %s does not match its digest %s", sb.Format, versionID, sb.Digest)
	}
	if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO version_sboms (version_id, format, digest, document, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (version_id, format) DO NOTHING`),
		versionID, sb.Format, sb.Digest, sb.Document, micros(now)); err != nil {
		return fmt.Errorf("%s: keeping the %s SBOM of %s: %w", s.d.Name, sb.Format, versionID, err)
	}
	kept, err := getOne(ctx, s, tx, "reading the "+sb.Format+" SBOM of "+versionID, "the "+sb.Format+" SBOM of "+versionID, scanValue[string],
		`SELECT digest FROM version_sboms WHERE version_id = ? AND format = ?`, versionID, sb.Format)
	if err != nil {
		return err
	}
	if kept != sb.Digest {
		return fmt.Errorf("%s has a %s SBOM already (%s), not %s: %w", versionID, sb.Format, kept, sb.Digest, domain.ErrStateChanged)
	}
	return nil
}

func documentDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// SBOMs returns a version's SBOMs, in order of format.
func (s *Store) SBOMs(ctx context.Context, versionID string) ([]domain.SBOM, error) {
	out, err := listAll(ctx, s, "reading the SBOMs of "+versionID, "submission "+versionID+" has more SBOMs than formats", 16, func(sc scanner) (domain.SBOM, error) {
		var b domain.SBOM
		var created int64
		err := sc.Scan(&b.VersionID, &b.Format, &b.Digest, &b.Document, &created)
		b.CreatedAt = fromMicros(created)
		return b, err
	}, `SELECT version_id, format, digest, document, created_at FROM version_sboms WHERE version_id = ? ORDER BY format`, versionID)
	if out == nil && err == nil {
		out = []domain.SBOM{}
	}
	return out, err
}

// ---- Outbox ---------------------------------------------------------------

func scanTrustEvent(sc scanner) (domain.TrustEvent, error) {
	var e domain.TrustEvent
	var created int64
	err := sc.Scan(&e.Seq, &e.Entry, &created, &e.LogIndex)
	e.CreatedAt = fromMicros(created)
	return e, err
}

// TrustEvent returns one outbox entry.
func (s *Store) TrustEvent(ctx context.Context, seq int64) (domain.TrustEvent, error) {
	name := fmt.Sprintf("trust event %d", seq)
	return getOne(ctx, s, s.db, "reading "+name, name, scanTrustEvent, `SELECT seq, entry, created_at, log_index FROM trust_events WHERE seq = ?`, seq)
}

// PendingTrustEvents returns events not yet logged, in outbox order.
func (s *Store) PendingTrustEvents(ctx context.Context, limit int) ([]domain.TrustEvent, error) {
	if limit <= 0 || limit > MaxPendingBatch {
		limit = MaxPendingBatch
	}
	return list(ctx, s, s.db, "reading the log outbox", scanTrustEvent, `SELECT seq, entry, created_at, log_index FROM trust_events WHERE log_index = -1 ORDER BY seq LIMIT ?`, limit)
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
			return fmt.Errorf("log index %d does not follow the last recorded index %d: %w", firstIndex, last, domain.ErrStateChanged)
		}
		for i, seq := range seqs {
			res, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE trust_events SET log_index = ? WHERE seq = ? AND log_index = -1`), firstIndex+int64(i), seq)
			if err != nil {
				return fmt.Errorf("%s: recording the log index of trust event %d: %w", s.d.Name, seq, err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("%s: recording the log index of trust event %d: %w", s.d.Name, seq, err)
			} else if n == 0 {
				return fmt.Errorf("trust event %d is not pending: %w", seq, domain.ErrStateChanged)
			}
		}
		return nil
	})
}

// ---- Revocation -----------------------------------------------------------

// LatestRevocationList returns the newest signed list.
func (s *Store) LatestRevocationList(ctx context.Context) (domain.RevocationListRecord, error) {
	return getOne(ctx, s, s.db, "reading the revocation list", "no revocation list was published yet", func(sc scanner) (domain.RevocationListRecord, error) {
		var l domain.RevocationListRecord
		var issued, next int64
		err := sc.Scan(&l.Number, &l.Envelope, &issued, &next)
		l.IssuedAt, l.NextUpdate = fromMicros(issued), fromMicros(next)
		return l, err
	}, `SELECT number, envelope, issued_at, next_update FROM revocation_lists ORDER BY number DESC LIMIT 1`)
}

// ListRevocations returns every revoked version, oldest first.
func (s *Store) ListRevocations(ctx context.Context) ([]domain.Revocation, error) {
	return listAll(ctx, s, "listing revocations", fmt.Sprintf("more than %d revocations, more than one list holds", 1<<20), 1<<20,
		func(sc scanner) (domain.Revocation, error) {
			var r domain.Revocation
			var at int64
			err := sc.Scan(&r.VersionID, &r.Digest, &r.Reason, &at)
			r.Time = fromMicros(at)
			return r, err
		}, `SELECT version_id, digest, reason, revoked_at FROM revocations ORDER BY revoked_at, version_id`)
}
