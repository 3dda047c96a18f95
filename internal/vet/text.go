package vet

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// IsText reports whether data looks like text worth scanning line by line:
// no NUL byte and valid UTF-8 in its first 8 KiB (a rune cut at the end of
// the window is fine). Binaries, images and the module itself are scanned
// by the analyzers that understand them, if at all.
func IsText(data []byte) bool {
	head := data[:min(len(data), 8<<10)]
	if bytes.IndexByte(head, 0) >= 0 {
		return false
	}
	if len(head) < len(data) {
		// The window may have cut the last rune in two.
		for j := len(head) - 1; j >= 0 && j >= len(head)-utf8.UTFMax; j-- {
			if utf8.RuneStart(head[j]) {
				if !utf8.FullRune(head[j:]) {
					head = head[:j]
				}
				break
			}
		}
	}
	return utf8.Valid(head)
}

// PointerLine returns the 1-based line and column of the value a JSON
// pointer (RFC 6901, such as "/permissions/2") names in the JSON document
// doc, so findings about a manifest field point at the line an author
// edits. ok is false when doc is not JSON or has no such value; "" names
// the whole document.
func PointerLine(doc []byte, pointer string) (line, col int, ok bool) {
	want, err := splitPointer(pointer)
	if err != nil {
		return 0, 0, false
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var path []string
	off := -1
	var walk func() error
	// walk reads one value at the decoder's position, recording the start
	// offset when path equals want.
	walk = func() error {
		start := valueStart(doc, int(dec.InputOffset()))
		if off < 0 && equalPath(path, want) {
			off = start
		}
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := k.(string)
				path = append(path, key)
				if err := walk(); err != nil {
					return err
				}
				path = path[:len(path)-1]
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				path = append(path, strconv.Itoa(i))
				if err := walk(); err != nil {
					return err
				}
				path = path[:len(path)-1]
			}
			_, err = dec.Token()
			return err
		}
		return nil
	}
	if err := walk(); err != nil && off < 0 {
		return 0, 0, false
	}
	if off < 0 {
		return 0, 0, false
	}
	line, col = LineCol(doc, off)
	return line, col, true
}

// valueStart skips the whitespace, ':' and ',' between the decoder's
// offset and the next value.
func valueStart(doc []byte, i int) int {
	for i < len(doc) {
		switch doc[i] {
		case ' ', '\t', '\r', '\n', ':', ',':
			i++
		default:
			return i
		}
	}
	return i
}

func splitPointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if !strings.HasPrefix(p, "/") {
		return nil, io.ErrUnexpectedEOF
	}
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

func equalPath(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
