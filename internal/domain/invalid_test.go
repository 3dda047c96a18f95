package domain

import (
	"errors"
	"io"
	"testing"
)

func TestInvalid(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err   error
		text  string
		cause error
	}{
		{Invalid("the title is empty"), "the title is empty", nil},
		{Invalidf("severity %q is unknown", "dire"), `severity "dire" is unknown`, nil},
		{Invalidf("the URL: %w", io.ErrUnexpectedEOF), "the URL: unexpected EOF", io.ErrUnexpectedEOF},
	} {
		if c.err.Error() != c.text {
			t.Errorf("%q reads %q", c.text, c.err)
		}
		if !errors.Is(c.err, ErrInvalid) {
			t.Errorf("%q does not match ErrInvalid", c.text)
		}
		if c.cause != nil && !errors.Is(c.err, c.cause) {
			t.Errorf("%q lost its cause", c.text)
		}
	}
}
