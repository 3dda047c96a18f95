package certify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/tlog"
)

// publishBatch is how many queued events one append takes: the log commits
// them together, sharing the cost of its syncs.
const publishBatch = 1024

// publishSoon publishes right after a commit. A failure is only logged: the
// event stays queued and the background publisher retries.
func (s *Service) publishSoon(ctx context.Context) {
	if _, err := s.Publish(ctx); err != nil && ctx.Err() == nil {
		s.logger.Warn("publishing trust events to the log; they stay queued and are retried", "err", err)
	}
}

// Publish appends every queued trust event to the log, in outbox order,
// and records each one's index. It returns how many it appended or
// recorded.
//
// The append and the record are two systems, so a crash can fall between
// them: the log then ends with entries the store still calls pending.
// Publish first compares the log's unrecorded tail with the oldest pending
// events, byte for byte, and records them instead of appending them again,
// so no event is logged twice. A tail that does not match is a log written
// by someone else, and Publish stops rather than guess.
func (s *Service) Publish(ctx context.Context) (int, error) {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	n, err := s.recover(ctx)
	if err != nil {
		return n, err
	}
	for {
		pending, err := s.st.PendingTrustEvents(ctx, publishBatch)
		if err != nil {
			return n, err
		}
		if len(pending) == 0 {
			return n, nil
		}
		entries := make([][]byte, len(pending))
		seqs := make([]int64, len(pending))
		for i, e := range pending {
			entries[i], seqs[i] = e.Entry, e.Seq
		}
		first, err := s.log.AppendBatch(ctx, entries)
		if err != nil {
			return n, fmt.Errorf("appending %d trust events to the log: %w", len(entries), err)
		}
		if err := s.st.MarkTrustEventsLogged(ctx, seqs, int64(first)); err != nil {
			return n, fmt.Errorf("recording the log indexes of %d trust events (the next publish finds them in the log): %w", len(seqs), err)
		}
		n += len(pending)
	}
}

// recover records events that are in the log but not yet marked logged.
func (s *Service) recover(ctx context.Context) (int, error) {
	last, err := s.st.LastLoggedIndex(ctx)
	if err != nil {
		return 0, err
	}
	cp, _ := s.log.Checkpoint()
	next := uint64(last + 1)
	if next > cp.Size {
		return 0, fmt.Errorf("the store records log index %d but the log has only %d entries: the log directory is not the one this store published to", last, cp.Size)
	}
	done := 0
	prover := tlog.TileProver{Fetch: DirFetcher(s.log.Dir())}
	for next < cp.Size {
		want := min(cp.Size-next, publishBatch)
		pending, err := s.st.PendingTrustEvents(ctx, int(want))
		if err != nil {
			return done, err
		}
		if uint64(len(pending)) < want {
			return done, fmt.Errorf("the log has %d entries after index %d that the store has no pending events for: the log directory is not the one this store published to", cp.Size-next, last)
		}
		tail, err := readEntries(ctx, prover, cp, next, want)
		if err != nil {
			return done, fmt.Errorf("reading the log's unrecorded tail: %w", err)
		}
		seqs := make([]int64, len(tail))
		for i, e := range tail {
			if !bytes.Equal(e, pending[i].Entry) {
				return done, fmt.Errorf("log entry %d differs from the pending trust event %d: the log and the store disagree; stop and investigate", next+uint64(i), pending[i].Seq)
			}
			seqs[i] = pending[i].Seq
		}
		if err := s.st.MarkTrustEventsLogged(ctx, seqs, int64(next)); err != nil {
			return done, err
		}
		s.logger.Warn("recorded trust events found in the log after an interrupted publish", "count", len(seqs), "first", next)
		done += len(seqs)
		next += uint64(len(seqs))
	}
	return done, nil
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

// DirFetcher reads a log's public files (checkpoint and tile/) from its
// directory, refusing every other path (state/ is not part of the
// protocol).
func DirFetcher(dir string) tlog.Fetcher {
	return func(ctx context.Context, p string) ([]byte, error) {
		if !PublicLogPath(p) {
			return nil, fmt.Errorf("%q is not a published path of the log: %w", p, os.ErrNotExist)
		}
		return os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
	}
}

// PublicLogPath reports whether p (relative, slash-separated) is one of the
// log's published files: the checkpoint or a tile.
func PublicLogPath(p string) bool {
	if p == tlog.CheckpointPath {
		return true
	}
	if !strings.HasPrefix(p, "tile/") || path.Clean(p) != p || strings.Contains(p, "..") || strings.ContainsRune(p, '\\') {
		return false
	}
	for _, c := range p {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == '/' || c == '.' || c == 'x') {
			return false
		}
	}
	return true
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
