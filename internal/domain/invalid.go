package domain

import (
	"errors"
	"fmt"
)

// ErrInvalid marks a request that cannot be carried out as asked: the
// caller's mistake, answered with what to change (HTTP 422). Services
// return it wrapped, with the reason in their words.
var ErrInvalid = errors.New("invalid")

// invalidError reads as its reason alone and matches ErrInvalid.
type invalidError struct{ err error }

func (e *invalidError) Error() string        { return e.err.Error() }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }
func (e *invalidError) Unwrap() error        { return errors.Unwrap(e.err) }

// Invalid returns an error that reads msg and matches ErrInvalid.
func Invalid(msg string) error { return &invalidError{errors.New(msg)} }

// Invalidf is Invalid with a format; a %w verb keeps its cause matchable.
func Invalidf(format string, a ...any) error {
	return &invalidError{fmt.Errorf(format, a...)}
}
