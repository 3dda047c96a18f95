package tlog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// Options configure a Log.
type Options struct {
	// Origin is the log's name, the checkpoint's first line, e.g.
	// "gatehouse.example/log". It must equal the signer's name.
	Origin string
	// Signer signs checkpoints (see NewNoteSigner).
	Signer note.Signer
	// MaxBatch bounds the entries committed together. Zero means 1024.
	MaxBatch int
}

// ErrClosed is returned by a Log that was closed.
var ErrClosed = errors.New("tlog: the log is closed")

// Log is a transparency log stored in a directory, written by this process
// alone: Open enforces that with a lock where the system supports one. Its
// methods are safe for concurrent use. A log that many processes share is
// an Integrator over shared Storage, with the order of entries fixed in a
// database (see the certify package).
type Log struct {
	dir  string
	in   *Integrator
	max  int
	lock *os.File // held for the log's lifetime; nil where unsupported

	// Published state, read by proofs without the writer's lock.
	size atomic.Uint64
	mu   sync.RWMutex // guards cp and note
	cp   Checkpoint
	note []byte

	reqs     chan *appendRequest
	quit     chan struct{}
	done     chan struct{}
	closeMu  sync.Mutex
	closed   bool
	closeErr error
}

type appendRequest struct {
	entries [][]byte
	first   uint64
	err     error
	done    chan struct{}
}

// Open opens the log in dir, creating an empty one (and its first
// checkpoint) if dir holds none. On reopening it trusts only the checkpoint:
// state written after the last checkpoint by an append that never returned
// is discarded, and the stored hashes are checked against the checkpoint's
// root hash.
func Open(dir string, opts Options) (*Log, error) {
	if opts.Signer == nil {
		return nil, errors.New("tlog: a checkpoint signer is required")
	}
	if opts.Origin == "" || opts.Origin != opts.Signer.Name() {
		return nil, fmt.Errorf("tlog: origin %q must be non-empty and equal the signer's name %q", opts.Origin, opts.Signer.Name())
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1024
	}
	if err := os.MkdirAll(filepath.Join(dir, "state"), 0o755); err != nil {
		return nil, fmt.Errorf("tlog: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	in, err := NewIntegrator(DirStorage(dir), opts.Signer)
	if err != nil {
		closeLock(lock)
		return nil, err
	}
	l := &Log{
		dir: dir, in: in, max: opts.MaxBatch, lock: lock,
		reqs: make(chan *appendRequest, opts.MaxBatch),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
	if err := l.recover(); err != nil {
		closeLock(lock)
		return nil, err
	}
	// Earlier versions kept an index of every stored hash here; the tiles
	// hold the same hashes, and the log now reads them from there.
	os.Remove(filepath.Join(dir, "state", "hashes"))
	go l.sequence()
	return l, nil
}

// recover loads the published state from the checkpoint, checked against
// the tiles, or starts an empty log when there is none. Files written after
// the checkpoint by an append that never returned are not referenced by it
// and are overwritten by the next append.
func (l *Log) recover() error {
	ctx := context.Background()
	cp, signed, err := l.in.ReadCheckpoint(ctx)
	if errors.Is(err, fs.ErrNotExist) {
		cp = l.in.Empty()
		if signed, err = l.in.Publish(ctx, cp); err != nil {
			return err
		}
	} else if err != nil {
		return fmt.Errorf("tlog: %s: %w", l.dir, err)
	} else if err := l.in.Verify(ctx, cp); err != nil {
		return fmt.Errorf("tlog: %s: %w", l.dir, err)
	}
	l.size.Store(cp.Size)
	l.mu.Lock()
	l.cp, l.note = cp, signed
	l.mu.Unlock()
	return nil
}

func emptyTreeHash() Hash {
	h, _ := sumtlog.TreeHash(0, nil)
	return h
}

// Append adds entry to the log and returns its index once a published
// checkpoint includes it. If ctx ends first, Append returns ctx's error,
// and the entry may or may not have been logged.
func (l *Log) Append(ctx context.Context, entry []byte) (uint64, error) {
	return l.AppendBatch(ctx, [][]byte{entry})
}

// AppendBatch adds entries, in order, and returns the index of the first.
// Their indexes are consecutive.
func (l *Log) AppendBatch(ctx context.Context, entries [][]byte) (uint64, error) {
	if len(entries) == 0 {
		return 0, errors.New("tlog: no entries to append")
	}
	for i, e := range entries {
		if len(e) > MaxEntryBytes {
			return 0, fmt.Errorf("tlog: entry %d is %d bytes; the limit is %d", i, len(e), MaxEntryBytes)
		}
	}
	req := &appendRequest{entries: entries, done: make(chan struct{})}
	select {
	case l.reqs <- req:
	case <-l.quit:
		return 0, ErrClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case <-req.done:
		return req.first, req.err
	case <-l.done:
		// The sequencer stopped; the request was either answered before it
		// did or never will be.
		select {
		case <-req.done:
			return req.first, req.err
		default:
			return 0, ErrClosed
		}
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// sequence is the only writer: it takes every queued request, commits them
// as one batch and answers them all.
func (l *Log) sequence() {
	defer close(l.done)
	var failed error
	for {
		var batch []*appendRequest
		select {
		case r := <-l.reqs:
			batch = append(batch, r)
		case <-l.quit:
			l.drain(ErrClosed)
			return
		}
		n := len(batch[0].entries)
	more:
		for n < l.max {
			select {
			case r := <-l.reqs:
				batch = append(batch, r)
				n += len(r.entries)
			default:
				break more
			}
		}
		if failed == nil {
			failed = l.commit(batch)
		}
		if failed != nil {
			// After a failed write the files may be ahead of the checkpoint;
			// refusing further appends until a reopen (which recovers from
			// the checkpoint) keeps the in-memory state honest.
			for _, r := range batch {
				r.err = fmt.Errorf("tlog: append failed; reopen the log: %w", failed)
			}
		}
		for _, r := range batch {
			close(r.done)
		}
	}
}

func (l *Log) drain(err error) {
	for {
		select {
		case r := <-l.reqs:
			r.err = err
			close(r.done)
		default:
			return
		}
	}
}

// commit integrates one batch: bundles and tiles, then the checkpoint.
func (l *Log) commit(batch []*appendRequest) error {
	l.mu.RLock()
	cp := l.cp
	l.mu.RUnlock()
	var all [][]byte
	next := cp.Size
	for _, r := range batch {
		r.first = next
		next += uint64(len(r.entries))
		all = append(all, r.entries...)
	}
	ncp, signed, err := l.in.Integrate(context.Background(), cp, all)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.cp, l.note = ncp, signed
	l.mu.Unlock()
	l.size.Store(ncp.Size)
	return nil
}

// Checkpoint returns the latest published checkpoint and its signed note.
func (l *Log) Checkpoint() (Checkpoint, []byte) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.cp, l.note
}

// Size returns the number of published entries.
func (l *Log) Size() uint64 { return l.size.Load() }

// Dir returns the log's directory, whose checkpoint and tile/ a file server
// publishes.
func (l *Log) Dir() string { return l.dir }

// InclusionProof proves that entry index is in the tree of treeSize
// entries, which must be published.
func (l *Log) InclusionProof(index, treeSize uint64) (Proof, error) {
	cp, err := l.publishedTree(treeSize)
	if err != nil {
		return nil, err
	}
	return l.in.InclusionProof(context.Background(), index, cp)
}

// ConsistencyProof proves that the tree of newSize entries extends the tree
// of oldSize entries; both must be published.
func (l *Log) ConsistencyProof(oldSize, newSize uint64) (Proof, error) {
	cp, err := l.publishedTree(newSize)
	if err != nil {
		return nil, err
	}
	return l.in.ConsistencyProof(context.Background(), oldSize, cp)
}

// publishedTree returns the published tree of size entries: its root is
// recomputed from the tiles, which hold every tree the log has published.
func (l *Log) publishedTree(size uint64) (Checkpoint, error) {
	cp, _ := l.Checkpoint()
	if size > cp.Size {
		return Checkpoint{}, fmt.Errorf("tlog: tree size %d is beyond the published %d", size, cp.Size)
	}
	if size == cp.Size {
		return cp, nil
	}
	root, err := sumtlog.TreeHash(int64(size), l.in.HashReader(context.Background(), cp))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("tlog: the tree of %d entries: %w", size, err)
	}
	return Checkpoint{Origin: cp.Origin, Size: size, Hash: root}, nil
}

// Close stops the sequencer (failing queued appends with ErrClosed) and
// closes the files. It waits for a batch being written to finish.
func (l *Log) Close() error {
	l.closeMu.Lock()
	defer l.closeMu.Unlock()
	if l.closed {
		return l.closeErr
	}
	l.closed = true
	close(l.quit)
	<-l.done
	closeLock(l.lock)
	return l.closeErr
}

func closeLock(f *os.File) {
	if f != nil {
		f.Close()
	}
}
