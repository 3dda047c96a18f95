package source

import (
	"bytes"
	"context"
	"go/token"
	"path/filepath"
	"testing"
)

// FuzzFallback feeds arbitrary source to the fallback path, where gosec's
// rules meet code that may not parse or type-check: the analysis must
// never panic, and every finding must point into the file.
func FuzzFallback(f *testing.F) {
	f.Add([]byte(weakHash))
	f.Add([]byte("package main\nimport \"math/rand\"\nfunc f() int { return rand.Int() }\n"))
	f.Add([]byte("package main\nconst password = \"hunter2hunter2\"\n"))
	f.Add([]byte("package p\nfunc f(x []int) { for _, v := range x { _ = &v } }\n"))
	f.Add([]byte("package\n"))
	f.Add([]byte("package p; import \"crypto/md5\"; var _ = md5.New().Sum(nil)[:99]"))
	f.Fuzz(func(t *testing.T, src []byte) {
		dir := filepath.Join(t.TempDir(), "src") // nothing is written: gosec finds no file to quote
		w := &tree{src: dir, files: map[string][]byte{filepath.Join(dir, "main.go"): src}}
		d := &Detail{Loader: LoaderParser}
		issues := w.check(context.Background(), parseAlone(w), d, nil)
		for _, fd := range w.findings(issues, d.Loader) {
			if fd.Location.File != "main.go" || fd.Location.Line < 1 {
				t.Errorf("finding outside the file: %+v", fd)
			}
		}
	})
}

// FuzzGoHeader: the part of a file that decides the package graph is
// always a prefix of the file, whatever the file holds.
func FuzzGoHeader(f *testing.F) {
	f.Add([]byte("//go:build wasip1\n\npackage main\n\nimport (\n\t\"fmt\"\n)\n\nfunc main() { fmt.Println() }\n"))
	f.Add([]byte("package p; import \"C\"; //go:embed x\nvar s string"))
	f.Add([]byte("package"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, src []byte) {
		h := goHeader(token.NewFileSet(), src)
		if !bytes.HasPrefix(src, h) {
			t.Errorf("header %q is not a prefix of the file", h)
		}
	})
}
