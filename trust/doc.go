// Package trust holds Gatehouse's signing primitives: keys behind one Signer
// interface, keyrings that keep retired keys verifiable, DSSE envelopes
// around in-toto statements, the publisher's package signature, the
// marketplace's certificate, the signed revocation list and the trust events
// the transparency log records.
//
// # Keys
//
// A key is Ed25519 (the default) or ECDSA P-256. Private keys are stored as
// PEM-encoded PKCS#8, public keys as PEM-encoded PKIX. A private key file must
// be mode 0600 or stricter: WriteKeyPair creates it so, and LoadSigner refuses
// a file that its group or other users can read, because such a key may
// already be copied.
//
// A key id is the lowercase hex of the first 16 bytes of the SHA-256 of the
// key's PKIX (DER) encoding: 32 hex characters, long enough that no two keys
// collide by accident and short enough to read aloud. Anyone holding the
// public key can recompute it.
//
// # Signing times and rotation
//
// A Keyring maps key ids to public keys with an optional validity window.
// Every signed document here carries the time it was signed (the publisher's
// signedAt, a certificate's issuedAt, a revocation list's issuedAt), and a
// signature verifies only when the key was active at that time. Retiring a
// key therefore closes its window instead of deleting it: signatures made
// while it was active keep verifying, and anything claiming a later time is
// refused. A holder of a stolen retired key could backdate a document; the
// transparency log, which records when each certificate was really issued, is
// what exposes that.
//
// The package is pure domain code: it imports no database, HTTP or CLI code.
package trust
