package sandbox

import (
	"errors"
	"fmt"
)

// ErrorKind classifies why a call did not succeed. The kinds are the values
// of the result label of the calls metric, so they are stable identifiers.
type ErrorKind string

const (
	// KindTimeout: the call ran past its deadline and the guest was stopped.
	KindTimeout ErrorKind = "timeout"
	// KindOutOfMemory: the guest needed more linear memory than its cap.
	KindOutOfMemory ErrorKind = "out_of_memory"
	// KindTrap: the guest crashed (a WebAssembly trap, a Go panic or fatal
	// error, an exit, or a status the calling convention does not define).
	KindTrap ErrorKind = "trap"
	// KindDenied: the call failed after the host refused it a capability it
	// was not granted (see Call for the rule).
	KindDenied ErrorKind = "denied"
	// KindThrottled: the call was refused or ended for exceeding a
	// concurrency, rate or host-call budget.
	KindThrottled ErrorKind = "throttled"
	// KindOutputTooLarge: the output, stdout or stderr exceeded its limit.
	KindOutputTooLarge ErrorKind = "output_too_large"
	// KindPluginError: the plugin returned status 1 with an error_set
	// message; it ran correctly and reported a failure.
	KindPluginError ErrorKind = "plugin_error"
	// KindLoadFailed: the module could not be loaded (bad module, an import
	// that was not granted, an incompatible host API range).
	KindLoadFailed ErrorKind = "load_failed"
	// KindBreakerOpen: the plugin's circuit breaker is open; the call was
	// not attempted.
	KindBreakerOpen ErrorKind = "breaker_open"
	// KindCanceled: the caller's context was canceled before the call
	// finished; the guest was stopped.
	KindCanceled ErrorKind = "canceled"
)

// CallError is the error of a call (or load) that did not succeed.
type CallError struct {
	Kind    ErrorKind
	Plugin  string // plugin id
	Version string
	Export  string // empty for load errors
	// Msg says what happened, in a sentence an operator can act on. For
	// KindPluginError it is the plugin's own message.
	Msg string
	// Err is the underlying error, if any.
	Err error
}

func (e *CallError) Error() string {
	where := e.Plugin
	if e.Version != "" {
		where += "@" + e.Version
	}
	if e.Export != "" {
		where += " " + e.Export
	}
	return fmt.Sprintf("%s: %s: %s", where, e.Kind, e.Msg)
}

func (e *CallError) Unwrap() error { return e.Err }

// KindOf returns the ErrorKind of err if it is (or wraps) a *CallError, and
// "" otherwise.
func KindOf(err error) ErrorKind {
	var ce *CallError
	if errors.As(err, &ce) {
		return ce.Kind
	}
	return ""
}

// ErrClosed is returned by calls to a plugin that has been closed or
// unloaded.
var ErrClosed = errors.New("sandbox: plugin is closed")
