// Package tlog is Gatehouse's transparency log: an append-only Merkle tree of
// trust events, stored and served in the C2SP tlog-tiles format, with
// checkpoints signed as C2SP signed notes.
//
// # Layout
//
// A log lives in one directory, which a plain file server can publish:
//
//	checkpoint                     the latest signed checkpoint (C2SP tlog-checkpoint)
//	tile/<L>/<N>[.p/<W>]           Merkle tree hash tiles, height 8
//	tile/entries/<N>[.p/<W>]       entry bundles: each entry is a big-endian
//	                               uint16 length and the entry's bytes
//	state/hashes                   the log's own index of every stored hash
//	state/lock                     held (flock) by the one process writing the log
//
// Tiles and bundles are immutable once the checkpoint that covers them is
// published, so they may be cached forever; only checkpoint changes.
// state/ holds nothing secret (every stored hash is derivable from the
// tiles) but is not part of the protocol: publish only checkpoint and tile/.
//
// # Hashing and proofs
//
// Leaves and nodes are hashed as RFC 6962 does (SHA-256 with 0x00 and 0x01
// prefixes); the hashing, tile arithmetic and proofs are those of
// golang.org/x/mod/sumdb/tlog, the code behind the Go checksum database, and
// the signed notes those of golang.org/x/mod/sumdb/note.
//
// # Durability
//
// Append returns once its entry is part of a published checkpoint: the
// hashes, the tiles and the bundle are synced to disk before the checkpoint
// is replaced (atomically), and the checkpoint is what Open trusts. An append
// that returned survives a crash; one interrupted before its checkpoint was
// written leaves unreferenced files that the next append overwrites.
// Concurrent Appends are committed together (group commit), so the cost of
// the syncs is shared by a whole batch.
package tlog
