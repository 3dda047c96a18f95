package vet

import (
	"testing"
)

// FuzzParseConfig: any input either parses into a configuration whose
// modes are coherent, or is refused with an error; it never panics.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"analyzers":{"diff":{"enabled":true}},"rules":{"a/b":{"enabled":false}}}`))
	f.Add([]byte(`{"analyzers":{"a":{"enabled":false,"required":true}}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		for name, m := range c.Analyzers {
			if !m.Enabled && (m.Enforced || m.Required) {
				t.Fatalf("analyzer %q accepted with incoherent mode %+v", name, m)
			}
		}
	})
}

// FuzzPointerLine: positions are inside the document, whatever the JSON
// and the pointer.
func FuzzPointerLine(f *testing.F) {
	f.Add([]byte("{\n \"a\": [1, {\"b\": 2}]\n}"), "/a/1/b")
	f.Add([]byte(`{"x~y": {"/": 1}}`), "/x~0y/~1")
	f.Add([]byte(`[`), "/0")
	f.Fuzz(func(t *testing.T, doc []byte, ptr string) {
		line, col, ok := PointerLine(doc, ptr)
		if !ok {
			return
		}
		if line < 1 || col < 1 || line > 1+len(doc) || col > 1+len(doc) {
			t.Fatalf("PointerLine(%q, %q) = %d:%d", doc, ptr, line, col)
		}
	})
}
