package manifest

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a manifest.
type Problem struct {
	// Pointer is the RFC 6901 JSON pointer of the offending value, such as
	// "/permissions/2"; "" is the whole document.
	Pointer string `json:"pointer"`
	// Message is a plain sentence saying what is wrong and, where it helps,
	// what to write instead.
	Message string `json:"message"`
}

func (p Problem) String() string {
	ptr := p.Pointer
	if ptr == "" {
		ptr = "(document)"
	}
	return ptr + ": " + p.Message
}

// ValidationError is the error Parse and Validate return for a manifest
// that is not acceptable. It lists every problem found, in document order.
type ValidationError struct {
	Problems []Problem
	// cause, when set, is a sentinel such as ErrLegacySignatureInvalid so
	// callers can tell an authentication failure from a content problem.
	cause error
}

// Error lists the problems one per line as "POINTER: message"; the whole
// document is shown as "(document)".
func (e *ValidationError) Error() string {
	var sb strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(p.String())
	}
	return sb.String()
}

// Unwrap returns the sentinel error behind the problems, if any.
func (e *ValidationError) Unwrap() error { return e.cause }

// Errors a legacy manifest's signature check can end in. Parse returns them
// wrapped in a *ValidationError pointing at /signature; test with errors.Is.
var (
	ErrLegacySignatureMissing = errors.New("legacy manifest has no signature but PLUGIN_SIGNING_KEY is set")
	ErrLegacySignatureInvalid = errors.New("legacy manifest signature does not match: the manifest was changed after it was signed, or it was signed with another PLUGIN_SIGNING_KEY")
)

// problems collects Problems; its zero value is ready to use.
type problems []Problem

func (ps *problems) add(pointer, msg string) {
	*ps = append(*ps, Problem{Pointer: pointer, Message: msg})
}

// err returns nil when there are no problems, otherwise a *ValidationError
// with the problems sorted into document order and duplicates removed.
func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	out := slices.Clone([]Problem(ps))
	slices.SortStableFunc(out, func(a, b Problem) int {
		if c := comparePointers(a.Pointer, b.Pointer); c != 0 {
			return c
		}
		return strings.Compare(a.Message, b.Message)
	})
	out = slices.Compact(out)
	return &ValidationError{Problems: out}
}

// comparePointers orders JSON pointers segment by segment, comparing array
// indexes as numbers so /permissions/10 comes after /permissions/2.
func comparePointers(a, b string) int {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] == bs[i] {
			continue
		}
		an, aerr := strconv.Atoi(as[i])
		bn, berr := strconv.Atoi(bs[i])
		if aerr == nil && berr == nil {
			return cmp.Compare(an, bn)
		}
		return strings.Compare(as[i], bs[i])
	}
	return cmp.Compare(len(as), len(bs))
}

// pointer builds an RFC 6901 pointer from path segments.
func pointer(segments ...string) string {
	var sb strings.Builder
	for _, s := range segments {
		sb.WriteByte('/')
		s = strings.ReplaceAll(s, "~", "~0")
		sb.WriteString(strings.ReplaceAll(s, "/", "~1"))
	}
	return sb.String()
}

// index formats an array index for pointer.
func index(i int) string { return strconv.Itoa(i) }
