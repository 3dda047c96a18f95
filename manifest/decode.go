package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// MaxSize bounds a manifest's size in bytes. Real manifests are a few
// kilobytes; the limit keeps a hostile one from costing memory or time.
const MaxSize = 256 << 10

// maxDepth bounds the nesting of objects and arrays. A v1 manifest nests
// four levels deep; the slack is for legacy documents.
const maxDepth = 32

// decodeJSON parses a manifest document into a tree of map[string]any,
// []any, string, json.Number, bool and nil. It is stricter than
// encoding/json on purpose, because a manifest is outside input and a
// signature may cover it:
//
//   - input over MaxSize, invalid UTF-8 and nesting deeper than maxDepth are
//     refused;
//   - a key repeated in one object is refused (parsers disagree on which
//     copy wins, which lets a document say two things at once);
//   - an escaped UTF-16 surrogate without its partner is refused
//     (encoding/json would silently turn it into U+FFFD, so the text a
//     signer saw and the text checked here would differ);
//   - one leading UTF-8 byte order mark is skipped, as Python's json.loads
//     does for bytes.
//
// Numbers keep their original text. The error is a Problem whose message
// gives the line and column.
func decodeJSON(data []byte) (any, *Problem) {
	if len(data) > MaxSize {
		return nil, &Problem{Message: fmt.Sprintf("the manifest is %d bytes, the limit is %d bytes", len(data), MaxSize)}
	}
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		line, col := lineCol(data, off)
		return nil, &Problem{Message: fmt.Sprintf("the manifest is not valid UTF-8 (line %d, column %d)", line, col)}
	}
	if off, ok := loneSurrogate(data); ok {
		line, col := lineCol(data, off)
		return nil, &Problem{Message: fmt.Sprintf("invalid JSON at line %d, column %d: the \\u escape is half of a UTF-16 surrogate pair without its other half", line, col)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err == nil {
		rest := bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n")
		if len(rest) == 0 {
			return v, nil
		}
		err = &positionedError{int64(len(data) - len(rest)), "unexpected content after the end of the JSON document"}
	}
	return nil, &Problem{Message: describeJSONError(data, dec, err)}
}

type positionedError struct {
	offset int64
	msg    string
}

func (e *positionedError) Error() string { return e.msg }

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok := tok.(type) {
	case json.Delim:
		if depth >= maxDepth {
			return nil, &positionedError{dec.InputOffset() - 1, fmt.Sprintf("objects and arrays nest more than %d levels deep", maxDepth)}
		}
		switch tok {
		case '{':
			obj := map[string]any{}
			for dec.More() {
				start := dec.InputOffset()
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, &positionedError{start, "an object key must be a string"}
				}
				if _, dup := obj[key]; dup {
					return nil, &positionedError{start, fmt.Sprintf("the key %q appears twice in one object", key)}
				}
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				obj[key] = v
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return obj, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return arr, nil
		}
		return nil, &positionedError{dec.InputOffset(), fmt.Sprintf("unexpected %q", rune(tok))}
	default:
		return tok, nil // string, json.Number, bool or nil
	}
}

func describeJSONError(data []byte, dec *json.Decoder, err error) string {
	var (
		pe  *positionedError
		se  *json.SyntaxError
		off = dec.InputOffset()
		msg = err.Error()
	)
	switch {
	case errors.As(err, &pe):
		// The offset was taken before the separators and whitespace that
		// lead to the offending token; point at the token itself.
		off = pe.offset
		for off < int64(len(data)) && bytes.IndexByte([]byte(" \t\r\n,:"), data[off]) >= 0 {
			off++
		}
	case errors.As(err, &se):
		// Decoder.Token reports the offset of the offending byte itself.
		off = se.Offset
		if strings.HasPrefix(msg, "invalid character") && strings.HasSuffix(msg, "'") {
			msg += " where an object key string should start" // the one state encoding/json gives no context for
		}
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		off, msg = int64(len(data)), "the document ends before its JSON value is complete"
	}
	line, col := lineCol(data, int(off))
	return fmt.Sprintf("invalid JSON at line %d, column %d: %s", line, col, msg)
}

// lineCol converts a byte offset to a 1-based line and a 1-based column
// counted in characters.
func lineCol(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	lineStart := bytes.LastIndexByte(data[:off], '\n') + 1
	return line, 1 + utf8.RuneCount(data[lineStart:off])
}

// loneSurrogate reports the offset of the first \u escape inside a string
// that encodes half of a UTF-16 surrogate pair without the other half. It
// only needs to be right for syntactically valid JSON; decodeJSON reports
// anything else.
func loneSurrogate(data []byte) (int, bool) {
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if !inString {
			if c == '"' {
				inString = true
			}
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if i+1 >= len(data) {
				return 0, false
			}
			if data[i+1] != 'u' {
				i++ // skip the escaped character
				continue
			}
			r, ok := hex4(data, i+2)
			if !ok {
				return 0, false
			}
			switch {
			case r >= 0xD800 && r <= 0xDBFF:
				if i+11 < len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
					if lo, ok := hex4(data, i+8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
						i += 11
						continue
					}
				}
				return i, true
			case r >= 0xDC00 && r <= 0xDFFF:
				return i, true
			}
			i += 5
		}
	}
	return 0, false
}

func hex4(data []byte, at int) (rune, bool) {
	if at+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
