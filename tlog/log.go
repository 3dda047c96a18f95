package tlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"

	"gatehouse.dev/gatehouse/trust"
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

// Log is a transparency log stored in a directory. Its methods are safe for
// concurrent use. Only one process may open a directory at a time; Open
// enforces that with a lock where the system supports one.
type Log struct {
	dir    string
	origin string
	signer note.Signer
	max    int

	hashes *os.File // state/hashes: stored hash i at offset 32*i
	lock   *os.File // held for the log's lifetime; nil where unsupported

	// Published state, read by proofs without the writer's lock.
	size atomic.Uint64
	mu   sync.RWMutex // guards cp and signed
	cp   Checkpoint
	note []byte

	// Writer state, owned by the sequencer goroutine.
	pending     []Hash   // stored hashes computed but not yet written
	pendingBase int64    // stored hash index of pending[0]
	partial     [][]byte // entries of the last, incomplete bundle

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
	hf, err := os.OpenFile(filepath.Join(dir, "state", "hashes"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		closeLock(lock)
		return nil, fmt.Errorf("tlog: %w", err)
	}
	l := &Log{
		dir: dir, origin: opts.Origin, signer: opts.Signer, max: opts.MaxBatch,
		hashes: hf, lock: lock,
		reqs: make(chan *appendRequest, opts.MaxBatch),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
	if err := l.recover(); err != nil {
		hf.Close()
		closeLock(lock)
		return nil, err
	}
	go l.sequence()
	return l, nil
}

// recover loads the published state from the checkpoint, or starts an empty
// log when there is none.
func (l *Log) recover() error {
	signed, err := os.ReadFile(filepath.Join(l.dir, CheckpointPath))
	if errors.Is(err, fs.ErrNotExist) {
		fi, err := l.hashes.Stat()
		if err != nil {
			return fmt.Errorf("tlog: %w", err)
		}
		if fi.Size() != 0 {
			return fmt.Errorf("tlog: %s has stored hashes but no checkpoint; refusing to guess which entries were published", l.dir)
		}
		return l.publish(Checkpoint{Origin: l.origin, Size: 0, Hash: emptyTreeHash()})
	}
	if err != nil {
		return fmt.Errorf("tlog: %w", err)
	}
	text, err := noteText(signed)
	if err != nil {
		return err
	}
	cp, err := ParseCheckpoint(text)
	if err != nil {
		return err
	}
	if cp.Origin != l.origin {
		return fmt.Errorf("tlog: %s holds log %q, not %q", l.dir, cp.Origin, l.origin)
	}
	n := sumtlog.StoredHashCount(int64(cp.Size))
	fi, err := l.hashes.Stat()
	if err != nil {
		return fmt.Errorf("tlog: %w", err)
	}
	if fi.Size() < n*sumtlog.HashSize {
		return fmt.Errorf("tlog: %s: stored hashes cover fewer entries than the checkpoint's %d; the log is damaged", l.dir, cp.Size)
	}
	// Drop hashes of a batch that never reached its checkpoint.
	if err := l.hashes.Truncate(n * sumtlog.HashSize); err != nil {
		return fmt.Errorf("tlog: %w", err)
	}
	l.size.Store(cp.Size)
	l.pendingBase = n
	root, err := sumtlog.TreeHash(int64(cp.Size), l.hashReader())
	if err != nil {
		return fmt.Errorf("tlog: %w", err)
	}
	if root != cp.Hash {
		return fmt.Errorf("tlog: %s: stored hashes do not match the checkpoint's root hash; the log is damaged", l.dir)
	}
	if w := int(cp.Size % tileWidth); w > 0 {
		data, err := os.ReadFile(filepath.Join(l.dir, filepath.FromSlash(EntryBundlePath(cp.Size/tileWidth, w))))
		if err != nil {
			return fmt.Errorf("tlog: reading the last entry bundle: %w", err)
		}
		entries, err := ParseEntryBundle(data)
		if err != nil || len(entries) != w {
			return fmt.Errorf("tlog: the last entry bundle does not hold %d entries; the log is damaged", w)
		}
		l.partial = entries
	}
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

// commit writes one batch: hashes, bundles, tiles, then the checkpoint.
func (l *Log) commit(batch []*appendRequest) error {
	oldSize := l.size.Load()
	size := oldSize
	var all [][]byte
	hr := l.hashReader()
	for _, r := range batch {
		r.first = size
		for _, e := range r.entries {
			hs, err := sumtlog.StoredHashes(int64(size), e, hr)
			if err != nil {
				l.pending = nil
				return err
			}
			l.pending = append(l.pending, hs...)
			all = append(all, e)
			size++
		}
	}
	defer func() { l.pending = nil }()

	// 1. Stored hashes.
	if err := l.writeHashes(); err != nil {
		return err
	}
	// 2. Entry bundles and hash tiles, each synced, then their directories.
	dirs := map[string]bool{}
	partial := l.partial
	for len(all) > 0 {
		room := tileWidth - len(partial)
		take := min(room, len(all))
		bundle := append(partial[:len(partial):len(partial)], all[:take]...)
		all = all[take:]
		start := size - uint64(len(all)) - uint64(len(bundle))
		data, err := MarshalEntryBundle(bundle)
		if err != nil {
			return err
		}
		if err := l.writeFile(EntryBundlePath(start/tileWidth, len(bundle)), data, dirs); err != nil {
			return err
		}
		if len(bundle) == tileWidth {
			partial = nil
		} else {
			partial = bundle
		}
	}
	for _, t := range sumtlog.NewTiles(TileHeight, int64(oldSize), int64(size)) {
		data, err := sumtlog.ReadTileData(t, hr)
		if err != nil {
			return err
		}
		if err := l.writeFile(TilePath(t.L, uint64(t.N), t.W), data, dirs); err != nil {
			return err
		}
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return fmt.Errorf("tlog: %w", err)
		}
	}
	// 3. The checkpoint: once it is replaced, the batch is published.
	root, err := sumtlog.TreeHash(int64(size), hr)
	if err != nil {
		return err
	}
	if err := l.publish(Checkpoint{Origin: l.origin, Size: size, Hash: root}); err != nil {
		return err
	}
	l.partial = partial
	l.pendingBase += int64(len(l.pending))
	l.size.Store(size)
	return nil
}

func (l *Log) writeHashes() error {
	buf := make([]byte, 0, len(l.pending)*sumtlog.HashSize)
	for _, h := range l.pending {
		buf = append(buf, h[:]...)
	}
	if _, err := l.hashes.WriteAt(buf, l.pendingBase*sumtlog.HashSize); err != nil {
		return fmt.Errorf("tlog: writing stored hashes: %w", err)
	}
	if err := l.hashes.Sync(); err != nil {
		return fmt.Errorf("tlog: syncing stored hashes: %w", err)
	}
	return nil
}

// writeFile writes a tile or bundle through a synced temporary file and a
// rename, so a reader never sees half a tile, and records the directory to
// sync.
func (l *Log) writeFile(rel string, data []byte, dirs map[string]bool) error {
	path := filepath.Join(l.dir, filepath.FromSlash(rel))
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("tlog: %w", err)
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("tlog: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("tlog: writing %s: %w", rel, err)
	}
	dirs[dir] = true
	return nil
}

// publish signs and atomically replaces the checkpoint.
func (l *Log) publish(cp Checkpoint) error {
	signed, err := signCheckpoint(cp, l.signer)
	if err != nil {
		return fmt.Errorf("tlog: signing checkpoint: %w", err)
	}
	if err := trust.WriteFileAtomic(filepath.Join(l.dir, CheckpointPath), signed, 0o644); err != nil {
		return fmt.Errorf("tlog: writing checkpoint: %w", err)
	}
	l.mu.Lock()
	l.cp, l.note = cp, signed
	l.mu.Unlock()
	return nil
}

// hashReader reads stored hashes: published ones from state/hashes, the
// current batch's from memory.
func (l *Log) hashReader() sumtlog.HashReader {
	return sumtlog.HashReaderFunc(func(indexes []int64) ([]Hash, error) {
		out := make([]Hash, len(indexes))
		for i, x := range indexes {
			if x >= l.pendingBase && x < l.pendingBase+int64(len(l.pending)) {
				out[i] = l.pending[x-l.pendingBase]
				continue
			}
			if x >= l.pendingBase {
				return nil, fmt.Errorf("tlog: stored hash %d does not exist yet", x)
			}
			if _, err := l.hashes.ReadAt(out[i][:], x*sumtlog.HashSize); err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return nil, fmt.Errorf("tlog: reading stored hash %d: %w", x, err)
			}
		}
		return out, nil
	})
}

// publishedReader reads only hashes of published entries; proofs use it so
// they never race the writer's in-memory batch.
func (l *Log) publishedReader(size uint64) sumtlog.HashReader {
	limit := sumtlog.StoredHashCount(int64(size))
	return sumtlog.HashReaderFunc(func(indexes []int64) ([]Hash, error) {
		out := make([]Hash, len(indexes))
		for i, x := range indexes {
			if x < 0 || x >= limit {
				return nil, fmt.Errorf("tlog: stored hash %d is beyond the published tree", x)
			}
			if _, err := l.hashes.ReadAt(out[i][:], x*sumtlog.HashSize); err != nil {
				return nil, fmt.Errorf("tlog: reading stored hash %d: %w", x, err)
			}
		}
		return out, nil
	})
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
	if size := l.size.Load(); treeSize > size {
		return nil, fmt.Errorf("tlog: tree size %d is beyond the published %d", treeSize, size)
	}
	if index >= treeSize {
		return nil, fmt.Errorf("tlog: entry %d is outside a tree of %d entries", index, treeSize)
	}
	p, err := sumtlog.ProveRecord(int64(treeSize), int64(index), l.publishedReader(treeSize))
	if err != nil {
		return nil, fmt.Errorf("tlog: proving entry %d: %w", index, err)
	}
	return Proof(p), nil
}

// ConsistencyProof proves that the tree of newSize entries extends the tree
// of oldSize entries; both must be published.
func (l *Log) ConsistencyProof(oldSize, newSize uint64) (Proof, error) {
	if size := l.size.Load(); newSize > size {
		return nil, fmt.Errorf("tlog: tree size %d is beyond the published %d", newSize, size)
	}
	if oldSize > newSize {
		return nil, fmt.Errorf("tlog: old tree size %d is larger than new %d", oldSize, newSize)
	}
	if oldSize == 0 || oldSize == newSize {
		return Proof{}, nil
	}
	p, err := sumtlog.ProveTree(int64(newSize), int64(oldSize), l.publishedReader(newSize))
	if err != nil {
		return nil, fmt.Errorf("tlog: proving consistency %d..%d: %w", oldSize, newSize, err)
	}
	return Proof(p), nil
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
	l.closeErr = l.hashes.Close()
	closeLock(l.lock)
	return l.closeErr
}

func closeLock(f *os.File) {
	if f != nil {
		f.Close()
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
