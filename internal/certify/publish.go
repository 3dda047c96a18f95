package certify

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/tlog"
)

// publishBatch is how many queued events one integration takes: they
// share the cost of writing the tiles and the checkpoint.
const publishBatch = 1024

// IntegratorLease names the lease of the one process that integrates the
// log; integratorTTL is how long a holder that stops renewing it keeps it.
// Publish renews it, and the background publisher calls Publish far more
// often than that.
const (
	IntegratorLease = "tlog-integrator"
	integratorTTL   = 20 * time.Second
)

// publishSoon publishes right after a commit. A failure is only logged: the
// event stays queued and the background publisher retries.
func (s *Service) publishSoon(ctx context.Context) {
	if _, err := s.Publish(ctx); err != nil && ctx.Err() == nil {
		s.logger.Warn("publishing trust events to the log; they stay queued and are retried", "err", err)
	}
}

// Publish integrates every queued trust event into the log, in outbox
// order, and returns how many it integrated. Only the holder of the
// integrator's lease does: in any other process it returns 0 at once, and
// the events wait for the holder, or for whoever takes the lease over when
// the holder stops renewing it.
//
// Integration has two steps, each in the database. Sequencing gives the
// queued events their log indexes, which fixes each entry's place for good.
// Integrating then writes the tiles and the checkpoint of the sequenced
// entries and records the new tree. A crash between the two, or half-way
// through writing tiles, loses nothing: the next integration recomputes the
// same files from the same entries, so no entry is logged twice and no two
// checkpoints of one size can differ.
func (s *Service) Publish(ctx context.Context) (int, error) {
	if s.readOnly {
		return 0, nil
	}
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	held, err := s.st.AcquireLease(ctx, IntegratorLease, s.holder, integratorTTL)
	if err != nil {
		return 0, fmt.Errorf("taking the log integrator's lease: %w", err)
	}
	if !held {
		return 0, nil
	}
	if err := s.catchUp(ctx); err != nil {
		return 0, err
	}
	n := 0
	for {
		seq, err := s.st.SequenceTrustEvents(ctx, publishBatch)
		if err != nil {
			return n, fmt.Errorf("sequencing trust events: %w", err)
		}
		added := 0
		_, err = s.st.IntegrateLog(ctx, publishBatch, func(cur domain.LogState, events []domain.TrustEvent) (domain.LogState, error) {
			next, err := s.integrate(ctx, cur, events)
			if err == nil {
				added = len(events)
			}
			return next, err
		})
		if errors.Is(err, domain.ErrStateChanged) {
			continue // another integrator recorded this tree first
		}
		if err != nil {
			return n, fmt.Errorf("integrating trust events into the log: %w", err)
		}
		n += added
		if seq == 0 && added == 0 {
			return n, nil
		}
	}
}

// catchUp runs before anything is sequenced, and keeps the log from ever
// forking when its storage is ahead of the database. That happens in two
// ways. An integrator died after writing a checkpoint but before recording
// it: the database has those entries sequenced, the storage's copy must
// match them byte for byte, and the next integration writes the same tree
// again. Or the database was restored from a backup older than the
// bucket: the database has no events at those indexes, and new events
// would be sequenced there, giving a second, different tree of the same
// size. catchUp adopts such entries into the database at their indexes
// (audited), so the log stays one append-only tree; what the lost records
// said stays in the log, which is the point of having one.
func (s *Service) catchUp(ctx context.Context) error {
	state, err := s.st.LogState(ctx)
	if err != nil {
		return err
	}
	cp, _, err := s.integ.ReadCheckpoint(ctx)
	if errors.Is(err, fs.ErrNotExist) && state.Size == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the log's checkpoint from its storage: %w", err)
	}
	if state.Size < 0 || cp.Size <= uint64(state.Size) {
		return nil
	}
	prover := tlog.TileProver{Fetch: tlog.StorageFetcher(s.logStorage)}
	for next := uint64(state.Size); next < cp.Size; {
		want := min(cp.Size-next, publishBatch)
		stored, err := readEntries(ctx, prover, cp, next, want)
		if err != nil {
			return fmt.Errorf("reading the log's entries the database has not recorded as integrated: %w", err)
		}
		known, err := s.st.SequencedTrustEvents(ctx, int64(next), int(want))
		if err != nil {
			return err
		}
		for i, e := range known {
			if e.LogIndex != int64(next)+int64(i) || !bytes.Equal(e.Entry, stored[i]) {
				return fmt.Errorf("log entry %d in the log's storage differs from the database's: the storage holds a log this database did not write; stop and investigate", next+uint64(i))
			}
		}
		if len(known) < len(stored) {
			first := next + uint64(len(known))
			rest := stored[len(known):]
			s.logger.Warn("the log's storage holds entries the database lost (restored from an older backup?); adopting them so the log does not fork", "first", first, "count", len(rest))
			ev := audit.Event{Time: s.now(), Actor: "system", Action: audit.TrustEvent, Subject: "log:adopted",
				Reason: fmt.Sprintf("adopted %d log entries from index %d that the database lost", len(rest), first)}
			if err := s.st.AdoptLogEntries(ctx, int64(first), rest, s.now(), ev); err != nil {
				return fmt.Errorf("adopting the log's entries the database lost: %w", err)
			}
		}
		next += uint64(len(stored))
	}
	return nil
}

// integrate writes events' entries onto the tree cur and returns the new
// tree.
func (s *Service) integrate(ctx context.Context, cur domain.LogState, events []domain.TrustEvent) (domain.LogState, error) {
	cp, err := s.checkpointOf(cur)
	if err != nil {
		return cur, err
	}
	entries := make([][]byte, len(events))
	for i, e := range events {
		entries[i] = e.Entry
	}
	next, note, err := s.integ.Integrate(ctx, cp, entries)
	if err != nil {
		return cur, err
	}
	return domain.LogState{Size: int64(next.Size), Root: next.Hash[:], Checkpoint: note, UpdatedAt: s.now()}, nil
}

// checkpointOf returns the tree a recorded state names.
func (s *Service) checkpointOf(st domain.LogState) (tlog.Checkpoint, error) {
	if st.Size < 0 || len(st.Root) != len(tlog.Hash{}) {
		return tlog.Checkpoint{}, fmt.Errorf("the log's recorded state (size %d, %d-byte root) is not a tree", st.Size, len(st.Root))
	}
	return tlog.Checkpoint{Origin: s.root.LogOrigin, Size: uint64(st.Size), Hash: tlog.Hash(st.Root)}, nil
}

// LogReachable reports whether the log's storage answers with its
// checkpoint (readiness probes).
func (s *Service) LogReachable(ctx context.Context) error {
	_, err := s.logStorage.ReadFile(ctx, tlog.CheckpointPath)
	return err
}

// Release gives up the integrator's lease, so another process takes over
// at once rather than when it runs out. Call it when stopping.
func (s *Service) Release(ctx context.Context) error {
	return s.st.ReleaseLease(ctx, IntegratorLease, s.holder)
}

// openLog records, on the first start, the tree the log's storage holds
// (creating an empty log when it holds none), and on every start checks
// that the storage holds at least the tree the database records: a blob
// store that is not the one this database published to is refused.
func (s *Service) openLog(ctx context.Context) error {
	state, err := s.st.LogState(ctx)
	if err != nil {
		return err
	}
	cp, note, err := s.integ.ReadCheckpoint(ctx)
	switch {
	case errors.Is(err, fs.ErrNotExist) && state.Size <= 0:
		cp = s.integ.Empty()
		if note, err = s.integ.Publish(ctx, cp); err != nil {
			return err
		}
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("the log's storage has no checkpoint, but the database records a log of %d entries: is this the blob store the database published to?", state.Size)
	case err != nil:
		return fmt.Errorf("reading the log's checkpoint: %w", err)
	case state.Size >= 0 && cp.Size < uint64(state.Size):
		return fmt.Errorf("the log's storage holds %d entries, but the database records %d: is this the blob store the database published to?", cp.Size, state.Size)
	default:
		if _, err := tlog.VerifyCheckpoint(note, s.logVerifier); err != nil {
			return fmt.Errorf("the log's checkpoint is not signed by this process's log key: every process of one marketplace needs the same keys (copy the keys folder of the first one): %w", err)
		}
	}
	if state.Size >= 0 {
		return nil
	}
	if err := s.integ.Verify(ctx, cp); err != nil {
		return err
	}
	if err := s.recordLegacyTail(ctx, cp); err != nil {
		return err
	}
	err = s.st.InitLogState(ctx, domain.LogState{Size: int64(cp.Size), Root: cp.Hash[:], Checkpoint: note, UpdatedAt: s.now()})
	if errors.Is(err, domain.ErrStateChanged) {
		return nil // another process recorded it first
	}
	return err
}

// recordLegacyTail records events that a log written before entries were
// sequenced in the database holds but the store still calls pending: such a
// log appended first and recorded after, and a crash could fall between.
// The log's tail is compared with the oldest pending events, byte for byte;
// a tail that does not match is a log written by someone else.
func (s *Service) recordLegacyTail(ctx context.Context, cp tlog.Checkpoint) error {
	last, err := s.st.LastLoggedIndex(ctx)
	if err != nil {
		return err
	}
	next := uint64(last + 1)
	if next > cp.Size {
		return fmt.Errorf("the store records log index %d but the log has only %d entries: the log is not the one this store published to", last, cp.Size)
	}
	prover := tlog.TileProver{Fetch: tlog.StorageFetcher(s.logStorage)}
	for next < cp.Size {
		want := min(cp.Size-next, publishBatch)
		pending, err := s.st.PendingTrustEvents(ctx, int(want))
		if err != nil {
			return err
		}
		if uint64(len(pending)) < want {
			return fmt.Errorf("the log has %d entries after index %d that the store has no pending events for: the log is not the one this store published to", cp.Size-next, last)
		}
		tail, err := readEntries(ctx, prover, cp, next, want)
		if err != nil {
			return fmt.Errorf("reading the log's unrecorded tail: %w", err)
		}
		seqs := make([]int64, len(tail))
		for i, e := range tail {
			if !bytes.Equal(e, pending[i].Entry) {
				return fmt.Errorf("log entry %d differs from the pending trust event %d: the log and the store disagree; stop and investigate", next+uint64(i), pending[i].Seq)
			}
			seqs[i] = pending[i].Seq
		}
		if err := s.st.MarkTrustEventsLogged(ctx, seqs, int64(next)); err != nil {
			return err
		}
		s.logger.Warn("recorded trust events found in the log after an interrupted publish", "count", len(seqs), "first", next)
		next += uint64(len(seqs))
	}
	return nil
}

// readEntries reads count entries from index first of the tree cp.
func readEntries(ctx context.Context, p tlog.TileProver, cp tlog.Checkpoint, first, count uint64) ([][]byte, error) {
	var out [][]byte
	for i := first; i < first+count; {
		bundle := i / (1 << tlog.TileHeight)
		es, err := p.Entries(ctx, bundle, cp)
		if err != nil {
			return nil, err
		}
		off := i % (1 << tlog.TileHeight)
		if uint64(len(es)) <= off {
			return nil, fmt.Errorf("entry bundle %d has %d entries; want index %d", bundle, len(es), i)
		}
		for _, e := range es[off:] {
			if i >= first+count {
				break
			}
			out = append(out, e)
			i++
		}
	}
	return out, nil
}

// Run publishes queued events and keeps the revocation list fresh, every
// interval until ctx ends.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.Publish(ctx); err != nil && ctx.Err() == nil {
			s.logger.Error("publishing trust events to the log", "err", err)
		}
		if _, err := s.RefreshRevocations(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, domain.ErrStateChanged) {
			s.logger.Error("re-signing the revocation list", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// processName names this process for leases: host, process id and a
// random suffix, so two processes never share a name. It is computed once:
// the lease is held by the process, whichever of its services renews it.
var processName = sync.OnceValue(func() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%x", host, os.Getpid(), b)
})
