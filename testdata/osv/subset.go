//go:build ignore

// Subset writes a small, real extract of an OSV all.zip: every record whose
// id, or one of whose affected packages, is listed in a selection file.
// Entries are copied raw (compressed bytes and headers untouched), so each
// record in the subset is byte for byte the one in the full database.
//
// The project's tests and README walkthrough use the subset, so a fresh
// clone needs nothing beside it. To regenerate it from a full copy of the
// Go vulnerability database (https://vuln.go.dev, or OSV's
// https://osv-vulnerabilities.storage.googleapis.com/Go/all.zip):
//
//	go run testdata/osv/subset.go -from osv-go-all.zip -select testdata/osv/selection.txt -o testdata/osv/go-subset.zip
package main

import (
	"archive/zip"
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	from := flag.String("from", "", "the full OSV `all.zip` to read")
	sel := flag.String("select", "testdata/osv/selection.txt", "the selection `file`: lines \"id GO-…\" or \"module PATH\"")
	out := flag.String("o", "testdata/osv/go-subset.zip", "the subset zip to `write`")
	flag.Parse()
	if *from == "" {
		fmt.Fprintln(os.Stderr, "subset: -from is required: the full OSV all.zip, e.g. downloaded from https://vuln.go.dev")
		os.Exit(2)
	}
	n, err := run(*from, *sel, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "subset:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s: %d records\n", *out, n)
}

type selection struct{ ids, modules map[string]bool }

func readSelection(path string) (selection, error) {
	s := selection{ids: map[string]bool{}, modules: map[string]bool{}}
	f, err := os.Open(path)
	if err != nil {
		return s, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		kind, value, ok := strings.Cut(text, " ")
		value = strings.TrimSpace(value)
		switch {
		case ok && kind == "id" && value != "":
			s.ids[value] = true
		case ok && kind == "module" && value != "":
			s.modules[value] = true
		default:
			return s, fmt.Errorf("%s:%d: %q: want \"id GO-YYYY-NNNN\" or \"module PATH\"", path, line, text)
		}
	}
	return s, sc.Err()
}

func run(from, selPath, out string) (int, error) {
	sel, err := readSelection(selPath)
	if err != nil {
		return 0, fmt.Errorf("reading the selection: %w", err)
	}
	zr, err := zip.OpenReader(from)
	if err != nil {
		return 0, fmt.Errorf("opening %s: %w", from, err)
	}
	defer zr.Close()
	f, err := os.Create(out)
	if err != nil {
		return 0, err
	}
	zw := zip.NewWriter(f)
	n := 0
	found := map[string]bool{}
	for _, e := range zr.File {
		keep, id, err := wanted(e, sel)
		if err != nil {
			f.Close()
			return 0, fmt.Errorf("%s: %s: %w", from, e.Name, err)
		}
		if !keep {
			continue
		}
		found[id] = true
		if err := copyRaw(zw, e); err != nil {
			f.Close()
			return 0, fmt.Errorf("copying %s: %w", e.Name, err)
		}
		n++
	}
	for id := range sel.ids {
		if !found[id] {
			f.Close()
			return 0, fmt.Errorf("%s has no record %s named in %s", from, id, selPath)
		}
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return 0, err
	}
	return n, f.Close()
}

// wanted reports whether the entry's record is selected, and its id.
func wanted(e *zip.File, sel selection) (bool, string, error) {
	rc, err := e.Open()
	if err != nil {
		return false, "", err
	}
	defer rc.Close()
	var r struct {
		ID       string `json:"id"`
		Affected []struct {
			Package struct {
				Name string `json:"name"`
			} `json:"package"`
		} `json:"affected"`
	}
	if err := json.NewDecoder(rc).Decode(&r); err != nil {
		return false, "", err
	}
	if sel.ids[r.ID] {
		return true, r.ID, nil
	}
	for _, a := range r.Affected {
		if sel.modules[a.Package.Name] {
			return true, r.ID, nil
		}
	}
	return false, r.ID, nil
}

func copyRaw(zw *zip.Writer, e *zip.File) error {
	src, err := e.OpenRaw()
	if err != nil {
		return err
	}
	hdr := e.FileHeader
	dst, err := zw.CreateRaw(&hdr)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	return err
}
