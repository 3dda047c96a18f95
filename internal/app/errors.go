package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/store"
)

// Kind classifies why an operation did not happen. It is the one mapping
// from the application's errors to what each transport says: an HTTP
// status and problem type for the API (RFC 9457), a status for the web
// pages, an exit code for the command line.
type Kind int

const (
	// KindInternal: something broke that the caller cannot fix; the server
	// log has the cause, the caller gets no details.
	KindInternal Kind = iota
	// KindInvalid: the request names something impossible (a malformed
	// version, a permission the manifest does not ask for).
	KindInvalid
	// KindUnauthenticated: no valid credential came with the request.
	KindUnauthenticated
	// KindForbidden: the caller is known but may not do this (role,
	// namespace ownership, separation of duties).
	KindForbidden
	// KindNotFound: there is no such thing, or the caller may not know of
	// it (an unreleased version outside its namespace).
	KindNotFound
	// KindConflict: the request contradicts the current state (a version
	// already decided, a namespace that exists, a concurrent change).
	KindConflict
	// KindTooLarge: the request is over a size limit.
	KindTooLarge
	// KindTooMany: a concurrency or rate limit is reached; retry later.
	KindTooMany
	// KindUnavailable: the part that serves the request is not configured
	// or not reachable.
	KindUnavailable
)

var kinds = [...]struct {
	code   string
	status int
	exit   int
	title  string
}{
	KindInternal:        {"internal", http.StatusInternalServerError, 1, "Internal error"},
	KindInvalid:         {"invalid", http.StatusUnprocessableEntity, 1, "Invalid request"},
	KindUnauthenticated: {"unauthenticated", http.StatusUnauthorized, 4, "Authentication required"},
	KindForbidden:       {"forbidden", http.StatusForbidden, 4, "Forbidden"},
	KindNotFound:        {"not_found", http.StatusNotFound, 1, "Not found"},
	KindConflict:        {"conflict", http.StatusConflict, 1, "Conflict"},
	KindTooLarge:        {"too_large", http.StatusRequestEntityTooLarge, 1, "Too large"},
	KindTooMany:         {"too_many_requests", http.StatusTooManyRequests, 1, "Too many requests"},
	KindUnavailable:     {"unavailable", http.StatusServiceUnavailable, 1, "Unavailable"},
}

// Code is the kind's default problem code (the API's error.code).
func (k Kind) Code() string { return kinds[k].code }

// HTTPStatus is the status the API and the web pages answer with.
func (k Kind) HTTPStatus() int { return kinds[k].status }

// Title is the problem's title (RFC 9457): the same for every problem of
// the kind.
func (k Kind) Title() string { return kinds[k].title }

// ExitCode is the command line's exit status for an operation that failed
// this way: 1 for a refused or failed operation, 4 when the credential is
// missing or not allowed (as gh does). 2 and 3 are the local commands'
// own: a check that failed (verify, audit verify) and a wait that ran out.
func (k Kind) ExitCode() int { return kinds[k].exit }

// KindForStatus is the kind of an API answer with this status, for the
// command line, which meets the application's errors through the API.
func KindForStatus(status int) Kind {
	for k, d := range kinds {
		if d.status == status {
			return Kind(k)
		}
	}
	switch {
	case status == http.StatusBadRequest:
		return KindInvalid
	case status >= 500:
		return KindInternal
	}
	return KindInvalid
}

// Error is an operation's refusal: its kind, a code clients may match
// (more precise than the kind's, e.g. "signature_refused"), and a message
// that names the problem and the fix. Messages are shown to the caller, so
// they never carry secrets or internals.
type Error struct {
	Kind Kind
	Code string
	Msg  string
	Err  error // the cause, for errors.Is and the log; never shown
	// RetryAfter, for KindTooMany, is when the caller may try again (the
	// API's Retry-After header).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Err != nil && e.Msg == "" {
		return e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an Error of kind k with the kind's code and a formatted
// message.
func Errorf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Code: k.Code(), Msg: fmt.Sprintf(format, args...)}
}

// Refuse returns an Error with a specific code.
func Refuse(k Kind, code, msg string) error {
	return &Error{Kind: k, Code: code, Msg: msg}
}

// Wrap classifies err as kind k keeping its message, unless it is already
// an application error.
func Wrap(k Kind, err error) error {
	if err == nil {
		return nil
	}
	var ae *Error
	if errors.As(err, &ae) {
		return err
	}
	return &Error{Kind: k, Code: k.Code(), Msg: err.Error(), Err: err}
}

// Classify says what kind of failure err is, and the code and message the
// caller may see. Errors the application did not classify are matched
// against the storage layer's sentinel errors; anything else is internal,
// and its message is withheld.
func Classify(err error) (k Kind, code, msg string) {
	var ae *Error
	switch {
	case errors.As(err, &ae):
		code = ae.Code
		if code == "" {
			code = ae.Kind.Code()
		}
		return ae.Kind, code, ae.Error()
	case errors.Is(err, domain.ErrNotFound):
		return KindNotFound, KindNotFound.Code(), err.Error()
	case errors.Is(err, domain.ErrConflict), errors.Is(err, domain.ErrStateChanged):
		return KindConflict, KindConflict.Code(), err.Error()
	case errors.Is(err, store.ErrTooLarge):
		return KindTooLarge, KindTooLarge.Code(), err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return KindUnavailable, KindUnavailable.Code(), "the operation ran out of time; retry"
	}
	return KindInternal, KindInternal.Code(), "internal error; the server log has the details"
}
