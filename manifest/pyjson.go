package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// This file reproduces, byte for byte, what Python's
// json.dumps(value, sort_keys=True) prints with its default settings
// (separators ", " and ": ", ensure_ascii=True, allow_nan=True). The seed
// form's HMAC is computed over that text, so any difference, however small,
// makes a correctly signed manifest fail to verify.
//
// Values are the tree decodeJSON builds: map[string]any, []any, string,
// json.Number (the number's original text), bool and nil.

// pyMaxIntDigits is CPython's default int_max_str_digits (3.11 and later):
// json.loads refuses an integer literal with more digits, so no seed tool can
// have signed one.
const pyMaxIntDigits = 4300

const hexDigits = "0123456789abcdef"

func appendPyJSON(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		if v {
			return append(b, "true"...), nil
		}
		return append(b, "false"...), nil
	case string:
		return appendPyString(b, v), nil
	case json.Number:
		return appendPyNumber(b, string(v))
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ", "...)
			}
			var err error
			if b, err = appendPyJSON(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		// Python sorts str keys by code point; for valid UTF-8 (which
		// decodeJSON guarantees) byte order is the same order.
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendPyString(b, k)
			b = append(b, ": "...)
			var err error
			if b, err = appendPyJSON(b, v[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	}
	return nil, fmt.Errorf("internal error: unexpected JSON value of type %T", v)
}

// appendPyString writes s as Python's ensure_ascii encoder does: the short
// escapes for '"', '\\', \n, \r, \t, \b and \f, and \uXXXX (lower-case hex)
// for everything else outside ' '..'~', with characters beyond the BMP as
// UTF-16 surrogate pairs.
func appendPyString(b []byte, s string) []byte {
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"':
			b = append(b, '\\', '"')
		case r == '\\':
			b = append(b, '\\', '\\')
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r == '\b':
			b = append(b, '\\', 'b')
		case r == '\f':
			b = append(b, '\\', 'f')
		case r >= ' ' && r <= '~':
			b = append(b, byte(r))
		case r > 0xFFFF:
			r -= 0x10000
			b = appendU4(b, 0xD800+(r>>10))
			b = appendU4(b, 0xDC00+(r&0x3FF))
		default:
			b = appendU4(b, r)
		}
	}
	return append(b, '"')
}

func appendU4(b []byte, r rune) []byte {
	return append(b, '\\', 'u', hexDigits[r>>12&0xF], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
}

// appendPyNumber writes the JSON number text num as Python prints the value
// json.loads makes of it: an int when the text has no fraction or exponent
// (printed exactly, so "-0" becomes "0"), otherwise a float printed by
// float.__repr__.
func appendPyNumber(b []byte, num string) ([]byte, error) {
	if !strings.ContainsAny(num, ".eE") {
		digits := strings.TrimPrefix(num, "-")
		if len(digits) > pyMaxIntDigits {
			return nil, fmt.Errorf("integer with %d digits: Python refuses integers longer than %d digits, so no seed tool can have signed it", len(digits), pyMaxIntDigits)
		}
		if strings.Trim(digits, "0") == "" {
			return append(b, '0'), nil
		}
		return append(b, num...), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, fmt.Errorf("number %q: %v", num, err)
	}
	return appendPyFloat(b, f), nil
}

// appendPyFloat writes f as Python's repr(float) does: the shortest digits
// that round-trip, in fixed notation when the decimal exponent is in
// [-4, 16) (always with a fractional part, "100.0"), otherwise in exponent
// notation with a sign and at least two exponent digits ("1e+16", "1.5e-05").
// json.dumps prints the infinities as Infinity and -Infinity.
func appendPyFloat(b []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	case math.IsNaN(f):
		return append(b, "NaN"...)
	}
	if math.Signbit(f) {
		b = append(b, '-')
		f = -f
	}
	// 'e' with precision -1 gives the shortest round-trip digits, the same
	// digits Python's repr picks: "d.ddde±XX".
	e := strconv.FormatFloat(f, 'e', -1, 64)
	mant, expText, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expText)
	digits := strings.Replace(mant, ".", "", 1)
	if f == 0 {
		digits, exp = "0", 0
	}
	if exp >= -4 && exp < 16 {
		if exp < 0 {
			b = append(b, "0."...)
			b = append(b, strings.Repeat("0", -exp-1)...)
			return append(b, digits...)
		}
		if len(digits) <= exp+1 {
			b = append(b, digits...)
			b = append(b, strings.Repeat("0", exp+1-len(digits))...)
			return append(b, ".0"...)
		}
		b = append(b, digits[:exp+1]...)
		b = append(b, '.')
		return append(b, digits[exp+1:]...)
	}
	b = append(b, digits[0])
	if len(digits) > 1 {
		b = append(b, '.')
		b = append(b, digits[1:]...)
	}
	b = append(b, 'e')
	if exp < 0 {
		b = append(b, '-')
		exp = -exp
	} else {
		b = append(b, '+')
	}
	if exp < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(exp), 10)
}
