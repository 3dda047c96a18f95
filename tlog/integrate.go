package tlog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// Integrator grows a log kept in a Storage: given the tree published so
// far and the entries that follow it, it writes their entry bundles and
// hash tiles, then signs and writes the new checkpoint.
//
// Integration is deterministic: the same tree and the same entries always
// produce the same files, byte for byte (Ed25519 signatures are
// deterministic too). So when the order of entries is fixed before they are
// integrated (a Log fixes it in its sequencer; a shared log in its
// database), two integrators that ever run at once, or one that retries
// after a crash, write identical files, and two different checkpoints of the
// same size cannot exist.
//
// An Integrator keeps a cache of the full tiles it has read or written,
// which never change; it is safe for concurrent use, but concurrent
// Integrate calls from the same tree waste work, so callers serialise them.
type Integrator struct {
	st     Storage
	signer note.Signer
	origin string

	mu    sync.Mutex
	tiles map[sumtlog.Tile][]byte // verified full tiles
}

// maxCachedTiles bounds the tile cache (8 KiB each): the right edge of a
// tree of 2^32 entries is a few dozen tiles.
const maxCachedTiles = 1024

// NewIntegrator returns an Integrator writing to st and signing checkpoints
// with signer, whose name is the log's origin.
func NewIntegrator(st Storage, signer note.Signer) (*Integrator, error) {
	if st == nil || signer == nil {
		return nil, errors.New("tlog: an integrator needs a storage and a checkpoint signer")
	}
	return &Integrator{st: st, signer: signer, origin: signer.Name(), tiles: map[sumtlog.Tile][]byte{}}, nil
}

// Origin returns the log's name.
func (in *Integrator) Origin() string { return in.origin }

// Empty returns the checkpoint of the log with no entries.
func (in *Integrator) Empty() Checkpoint {
	return Checkpoint{Origin: in.origin, Size: 0, Hash: emptyTreeHash()}
}

// Publish signs cp and writes it as the storage's checkpoint. Integrate
// does this itself; a new log calls it once for its empty tree.
func (in *Integrator) Publish(ctx context.Context, cp Checkpoint) ([]byte, error) {
	if cp.Origin != in.origin {
		return nil, fmt.Errorf("tlog: checkpoint of log %q, not %q", cp.Origin, in.origin)
	}
	signed, err := signCheckpoint(cp, in.signer)
	if err != nil {
		return nil, fmt.Errorf("tlog: signing checkpoint: %w", err)
	}
	if err := in.st.WriteFile(ctx, CheckpointPath, signed); err != nil {
		return nil, fmt.Errorf("tlog: writing checkpoint: %w", err)
	}
	return signed, nil
}

// Integrate appends entries to the tree cp, whose tiles the storage holds,
// and returns the new checkpoint and its signed note once it is written.
// Bundles and tiles are written before the checkpoint that covers them, so
// a reader that sees a checkpoint finds all of its files.
func (in *Integrator) Integrate(ctx context.Context, cp Checkpoint, entries [][]byte) (Checkpoint, []byte, error) {
	if cp.Origin != in.origin {
		return Checkpoint{}, nil, fmt.Errorf("tlog: tree of log %q, not %q", cp.Origin, in.origin)
	}
	if len(entries) == 0 {
		return Checkpoint{}, nil, errors.New("tlog: no entries to integrate")
	}
	for i, e := range entries {
		if len(e) > MaxEntryBytes {
			return Checkpoint{}, nil, fmt.Errorf("tlog: entry %d is %d bytes; the limit is %d", i, len(e), MaxEntryBytes)
		}
	}
	published := in.HashReader(ctx, cp)
	pendingBase := sumtlog.StoredHashCount(int64(cp.Size))
	var pending []Hash
	hr := sumtlog.HashReaderFunc(func(indexes []int64) ([]Hash, error) {
		out := make([]Hash, len(indexes))
		var old []int64
		for _, x := range indexes {
			if x < pendingBase {
				old = append(old, x)
			}
		}
		var oldHashes []Hash
		if len(old) > 0 {
			var err error
			if oldHashes, err = published.ReadHashes(old); err != nil {
				return nil, err
			}
		}
		for i, x := range indexes {
			switch {
			case x < pendingBase:
				out[i], oldHashes = oldHashes[0], oldHashes[1:]
			case x-pendingBase < int64(len(pending)):
				out[i] = pending[x-pendingBase]
			default:
				return nil, fmt.Errorf("tlog: stored hash %d does not exist yet", x)
			}
		}
		return out, nil
	})
	size := cp.Size
	for _, e := range entries {
		hs, err := sumtlog.StoredHashes(int64(size), e, hr)
		if err != nil {
			return Checkpoint{}, nil, fmt.Errorf("tlog: hashing entry %d: %w", size, err)
		}
		pending = append(pending, hs...)
		size++
	}

	// Entry bundles: the first one continues the tree's last, partial
	// bundle.
	var partial [][]byte
	if w := int(cp.Size % tileWidth); w > 0 {
		var err error
		partial, err = TileProver{Fetch: in.fetch}.Entries(ctx, cp.Size/tileWidth, cp)
		if err != nil {
			return Checkpoint{}, nil, fmt.Errorf("tlog: reading the last entry bundle: %w", err)
		}
	}
	start := cp.Size - uint64(len(partial))
	rest := entries
	for len(rest) > 0 {
		take := min(tileWidth-len(partial), len(rest))
		bundle := append(partial[:len(partial):len(partial)], rest[:take]...)
		rest = rest[take:]
		data, err := MarshalEntryBundle(bundle)
		if err != nil {
			return Checkpoint{}, nil, err
		}
		if err := in.st.WriteFile(ctx, EntryBundlePath(start/tileWidth, len(bundle)), data); err != nil {
			return Checkpoint{}, nil, err
		}
		start += uint64(len(bundle))
		partial = nil
	}
	for _, t := range sumtlog.NewTiles(TileHeight, int64(cp.Size), int64(size)) {
		data, err := sumtlog.ReadTileData(t, hr)
		if err != nil {
			return Checkpoint{}, nil, fmt.Errorf("tlog: computing tile %s: %w", TilePath(t.L, uint64(t.N), t.W), err)
		}
		if err := in.st.WriteFile(ctx, TilePath(t.L, uint64(t.N), t.W), data); err != nil {
			return Checkpoint{}, nil, err
		}
		if t.W == tileWidth {
			in.save(t, data)
		}
	}
	root, err := sumtlog.TreeHash(int64(size), hr)
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("tlog: computing the root hash: %w", err)
	}
	next := Checkpoint{Origin: in.origin, Size: size, Hash: root}
	signed, err := in.Publish(ctx, next)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	return next, signed, nil
}

// Verify checks that the storage's tiles hold the tree cp: its root hash
// is recomputed from the tiles on the tree's right edge.
func (in *Integrator) Verify(ctx context.Context, cp Checkpoint) error {
	root, err := sumtlog.TreeHash(int64(cp.Size), in.HashReader(ctx, cp))
	if err != nil {
		return fmt.Errorf("tlog: the stored tiles do not hold the checkpoint's tree; the log is damaged: %w", err)
	}
	if root != cp.Hash {
		return errors.New("tlog: the stored tiles do not match the checkpoint's root hash; the log is damaged")
	}
	return nil
}

// ReadCheckpoint returns the storage's checkpoint and its signed note, or
// an error matching fs.ErrNotExist when the log has none yet. The note's
// signature is not checked: the storage is the integrator's own.
func (in *Integrator) ReadCheckpoint(ctx context.Context) (Checkpoint, []byte, error) {
	signed, err := in.st.ReadFile(ctx, CheckpointPath)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	text, err := noteText(signed)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	cp, err := ParseCheckpoint(text)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	if cp.Origin != in.origin {
		return Checkpoint{}, nil, fmt.Errorf("tlog: the storage holds log %q, not %q", cp.Origin, in.origin)
	}
	return cp, signed, nil
}

// HashReader reads the stored hashes of the tree cp from the storage's
// tiles, each tile checked against cp's root hash before use.
func (in *Integrator) HashReader(ctx context.Context, cp Checkpoint) sumtlog.HashReader {
	return sumtlog.TileHashReader(sumtlog.Tree{N: int64(cp.Size), Hash: cp.Hash}, &cachedTiles{ctx: ctx, in: in})
}

// InclusionProof proves that entry index is in the tree cp.
func (in *Integrator) InclusionProof(ctx context.Context, index uint64, cp Checkpoint) (Proof, error) {
	return proveInclusion(in.HashReader(ctx, cp), index, cp)
}

// ConsistencyProof proves that the tree newer extends the tree of oldSize
// entries.
func (in *Integrator) ConsistencyProof(ctx context.Context, oldSize uint64, newer Checkpoint) (Proof, error) {
	return proveConsistency(in.HashReader(ctx, newer), oldSize, newer)
}

func (in *Integrator) fetch(ctx context.Context, p string) ([]byte, error) {
	return in.st.ReadFile(ctx, p)
}

func (in *Integrator) save(t sumtlog.Tile, data []byte) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.tiles) >= maxCachedTiles {
		clear(in.tiles)
	}
	in.tiles[t] = data
}

func (in *Integrator) cached(t sumtlog.Tile) ([]byte, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	data, ok := in.tiles[t]
	return data, ok
}

// cachedTiles is a TileReader over the storage that keeps verified full
// tiles (partial ones are replaced as the tree grows).
type cachedTiles struct {
	ctx context.Context
	in  *Integrator
}

func (r *cachedTiles) Height() int { return TileHeight }

func (r *cachedTiles) ReadTiles(tiles []sumtlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		if data, ok := r.in.cached(t); ok {
			out[i] = data
			continue
		}
		p := TilePath(t.L, uint64(t.N), t.W)
		data, err := r.in.st.ReadFile(r.ctx, p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("tlog: tile %s is missing: %w", p, err)
		}
		if err != nil {
			return nil, fmt.Errorf("tlog: reading tile %s: %w", p, err)
		}
		if len(data) != t.W*sumtlog.HashSize {
			return nil, fmt.Errorf("tlog: tile %s is %d bytes, want %d", p, len(data), t.W*sumtlog.HashSize)
		}
		out[i] = data
	}
	return out, nil
}

// SaveTiles is called with the tiles TileHashReader has verified.
func (r *cachedTiles) SaveTiles(tiles []sumtlog.Tile, data [][]byte) {
	for i, t := range tiles {
		if t.W == tileWidth {
			r.in.save(t, data[i])
		}
	}
}
