package plugintest

import (
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// GraphLibs are the standard library packages GraphSource copies: real Go
// code that imports only public standard packages and each other, so the
// copies build in a plugin's module and import one another as a plugin's
// own packages do (image/png imports image and image/color, compress/gzip
// imports compress/flate).
var GraphLibs = []string{
	"compress/flate", "compress/gzip", "encoding/csv", "encoding/json", "encoding/xml",
	"go/build/constraint", "go/doc/comment", "go/token",
	"image", "image/color", "image/png", "net/textproto", "regexp", "regexp/syntax",
	"text/scanner", "text/tabwriter", "text/template/parse",
}

// GraphSource copies GraphLibs from GOROOT as packages of module under
// prefix (e.g. "lib"): each package's non-test .go files, with imports of
// another copied package rewritten to the copy. It returns the files by
// package path, and a file for package main (main.go's folder, at
// mainDir) that imports every copy, so each is compiled into the plugin.
func GraphSource(t testing.TB, module, prefix, mainDir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	goroot := runtime.GOROOT()
	for _, lib := range GraphLibs {
		dir := filepath.Join(goroot, "src", filepath.FromSlash(lib))
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			src, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			files[path.Join(prefix, lib, name)] = rewriteImports(t, src, module+"/"+prefix)
		}
	}
	var main strings.Builder
	main.WriteString("package main\n\n// The plugin's libraries, each compiled in.\nimport (\n")
	for _, lib := range GraphLibs {
		main.WriteString("\t_ " + strconv.Quote(module+"/"+prefix+"/"+lib) + "\n")
	}
	main.WriteString(")\n")
	files[path.Join(mainDir, "libs.go")] = []byte(main.String())
	return files
}

// rewriteImports points each import of a GraphLibs package at its copy
// under base.
func rewriteImports(t testing.TB, src []byte, base string) []byte {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", src, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	out := slices.Clone(src)
	for i := len(f.Imports) - 1; i >= 0; i-- {
		spec := f.Imports[i]
		p, _ := strconv.Unquote(spec.Path.Value)
		if !slices.Contains(GraphLibs, p) {
			continue
		}
		start := fset.Position(spec.Path.Pos()).Offset
		end := fset.Position(spec.Path.End()).Offset
		out = slices.Concat(out[:start], []byte(strconv.Quote(base+"/"+p)), out[end:])
	}
	return out
}
