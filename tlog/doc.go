// Package tlog is Gatehouse's transparency log: an append-only Merkle tree of
// trust events, stored and served in the C2SP tlog-tiles format, with
// checkpoints signed as C2SP signed notes.
//
// # Layout
//
// A log's files live in a Storage (a directory, which a plain file server
// can publish, or an object store bucket):
//
//	checkpoint                     the latest signed checkpoint (C2SP tlog-checkpoint)
//	tile/<L>/<N>[.p/<W>]           Merkle tree hash tiles, height 8
//	tile/entries/<N>[.p/<W>]       entry bundles: each entry is a big-endian
//	                               uint16 length and the entry's bytes
//
// Tiles and bundles are immutable once the checkpoint that covers them is
// published, so they may be cached forever; only checkpoint changes. The
// writer reads the hashes it needs from the tiles themselves, each checked
// against the checkpoint's root, so the files are the whole state: any
// process can pick up writing where another stopped. A Log in a directory
// also keeps state/lock, held (flock) by the one process writing it.
//
// # Writers
//
// An Integrator writes: given the published tree and the entries that
// follow it, it writes their bundles and tiles, then the checkpoint. It is
// deterministic, so once the order of entries is fixed, any number of
// integrators, or one retrying after a crash, write the same bytes. A Log
// is an Integrator with an in-process sequencer that fixes the order of
// concurrent Appends; a log shared by many processes fixes the order in a
// database instead and elects one integrator (see internal/certify).
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
// tiles and the bundle are written durably before the checkpoint is
// replaced (atomically), and the checkpoint is what Open trusts. An append
// that returned survives a crash; one interrupted before its checkpoint was
// written leaves unreferenced files that the next append overwrites.
// Concurrent Appends are committed together (group commit), so the cost of
// the syncs is shared by a whole batch.
package tlog
