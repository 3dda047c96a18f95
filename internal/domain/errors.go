package domain

import "errors"

// Errors callers match with errors.Is. Storage drivers return them (wrapped
// with context), the application layer passes them on, and each transport
// maps them once to its own answer (an HTTP status, an exit code).
var (
	ErrNotFound = errors.New("not found")
	// ErrConflict: the write contradicts what is stored (another version
	// with the same namespace/name@version, a namespace that exists).
	ErrConflict = errors.New("conflict")
	// ErrStateChanged: a transition's expected current state no longer
	// holds (another worker moved the version first).
	ErrStateChanged = errors.New("state changed concurrently")
)
