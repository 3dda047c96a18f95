package tlog

import (
	"context"
	"fmt"

	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// Fetcher returns the bytes at a path of a log's URL space ("checkpoint",
// "tile/0/000", ...). An HTTP client, a directory or a cache can stand behind
// it; what it returns is checked, never trusted.
type Fetcher func(ctx context.Context, path string) ([]byte, error)

// TileProver builds proofs from a log's published tiles, as a monitor or
// an offline auditor does: it needs no help from the log's operator beyond
// the files. Every tile it reads is checked against the checkpoint's root
// hash before any hash in it is used.
type TileProver struct {
	Fetch Fetcher
}

// ConsistencyProof proves that newer extends a tree of oldSize entries,
// from newer's tiles. Check the result with VerifyConsistency against the
// older checkpoint.
func (p TileProver) ConsistencyProof(ctx context.Context, oldSize uint64, newer Checkpoint) (Proof, error) {
	return proveConsistency(p.reader(ctx, newer), oldSize, newer)
}

// InclusionProof proves that entry index is in the tree of cp, from cp's
// tiles.
func (p TileProver) InclusionProof(ctx context.Context, index uint64, cp Checkpoint) (Proof, error) {
	return proveInclusion(p.reader(ctx, cp), index, cp)
}

// proveInclusion proves that entry index is in the tree cp, whose stored
// hashes hr reads.
func proveInclusion(hr sumtlog.HashReader, index uint64, cp Checkpoint) (Proof, error) {
	if index >= cp.Size {
		return nil, fmt.Errorf("tlog: entry %d is outside a tree of %d entries", index, cp.Size)
	}
	rp, err := sumtlog.ProveRecord(int64(cp.Size), int64(index), hr)
	if err != nil {
		return nil, fmt.Errorf("tlog: proving entry %d: %w", index, err)
	}
	return Proof(rp), nil
}

// proveConsistency proves that the tree newer, whose stored hashes hr
// reads, extends the tree of oldSize entries.
func proveConsistency(hr sumtlog.HashReader, oldSize uint64, newer Checkpoint) (Proof, error) {
	if oldSize > newer.Size {
		return nil, fmt.Errorf("tlog: old tree size %d is larger than new %d", oldSize, newer.Size)
	}
	if oldSize == 0 || oldSize == newer.Size {
		return Proof{}, nil
	}
	tp, err := sumtlog.ProveTree(int64(newer.Size), int64(oldSize), hr)
	if err != nil {
		return nil, fmt.Errorf("tlog: proving consistency %d..%d: %w", oldSize, newer.Size, err)
	}
	return Proof(tp), nil
}

// Entries returns the entries of bundle n as of checkpoint cp, each checked
// against the tree. A monitor reads the log with it.
func (p TileProver) Entries(ctx context.Context, n uint64, cp Checkpoint) ([][]byte, error) {
	start := n * tileWidth
	if start >= cp.Size {
		return nil, fmt.Errorf("tlog: bundle %d is beyond a tree of %d entries", n, cp.Size)
	}
	w := int(min(cp.Size-start, tileWidth))
	data, err := p.Fetch(ctx, EntryBundlePath(n, w))
	if err != nil {
		return nil, fmt.Errorf("tlog: fetching entry bundle %d: %w", n, err)
	}
	entries, err := ParseEntryBundle(data)
	if err != nil {
		return nil, err
	}
	if len(entries) != w {
		return nil, fmt.Errorf("tlog: entry bundle %d holds %d entries, want %d", n, len(entries), w)
	}
	hr := p.reader(ctx, cp)
	for i, e := range entries {
		idx := start + uint64(i)
		hs, err := hr.ReadHashes([]int64{sumtlog.StoredHashIndex(0, int64(idx))})
		if err != nil {
			return nil, fmt.Errorf("tlog: checking entry %d: %w", idx, err)
		}
		if hs[0] != sumtlog.RecordHash(e) {
			return nil, fmt.Errorf("tlog: %w: entry %d in its bundle does not match the tree", ErrProof, idx)
		}
	}
	return entries, nil
}

func (p TileProver) reader(ctx context.Context, cp Checkpoint) sumtlog.HashReader {
	return sumtlog.TileHashReader(sumtlog.Tree{N: int64(cp.Size), Hash: cp.Hash}, &tileReader{ctx: ctx, fetch: p.Fetch})
}

type tileReader struct {
	ctx   context.Context
	fetch Fetcher
}

func (r *tileReader) Height() int { return TileHeight }

func (r *tileReader) ReadTiles(tiles []sumtlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		if t.L < 0 {
			return nil, fmt.Errorf("tlog: unexpected data tile request")
		}
		data, err := r.fetch(r.ctx, TilePath(t.L, uint64(t.N), t.W))
		if err != nil {
			return nil, fmt.Errorf("tlog: fetching tile %s: %w", TilePath(t.L, uint64(t.N), t.W), err)
		}
		if len(data) != t.W*sumtlog.HashSize {
			return nil, fmt.Errorf("tlog: tile %s is %d bytes, want %d", TilePath(t.L, uint64(t.N), t.W), len(data), t.W*sumtlog.HashSize)
		}
		out[i] = data
	}
	return out, nil
}

// SaveTiles is where a caching client would persist verified tiles; this
// one keeps nothing.
func (r *tileReader) SaveTiles([]sumtlog.Tile, [][]byte) {}
