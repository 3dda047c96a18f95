package trust

import "errors"

// The reasons a signed document is refused. Errors returned by this package
// wrap one of them, with the details, so callers test with errors.Is and
// users read the whole message.
var (
	// ErrUnknownKey: no signature is by a key in the keyring (an
	// unregistered publisher key, or a marketplace key the host does not
	// trust).
	ErrUnknownKey = errors.New("signed by a key that is not trusted")
	// ErrBadSignature: the key is known but the signature does not verify
	// (the document was changed after signing).
	ErrBadSignature = errors.New("bad signature")
	// ErrKeyNotActive: the key is known but was not active when the document
	// says it was signed (a retired key used after its retirement).
	ErrKeyNotActive = errors.New("key not active at signing time")
	// ErrWrongDigest: the document is about other bytes than the ones
	// checked.
	ErrWrongDigest = errors.New("digest does not match")
	// ErrWrongSubject: the document is about another plugin or version.
	ErrWrongSubject = errors.New("subject does not match")
	// ErrMalformed: the document is not of the expected shape.
	ErrMalformed = errors.New("malformed document")
	// ErrNotYetValid: a certificate's issue time is in the future.
	ErrNotYetValid = errors.New("certificate not yet valid")
	// ErrExpired: a certificate is past its expiry time.
	ErrExpired = errors.New("certificate expired")
	// ErrStaleList: a revocation list is past its next-update time or older
	// than the maximum age the client accepts.
	ErrStaleList = errors.New("revocation list is stale")
	// ErrRollback: a revocation list has a lower number than one already
	// seen.
	ErrRollback = errors.New("revocation list rolled back")
)
