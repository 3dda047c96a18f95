// Command licensescan is the licence step of the sequential pipeline that
// BenchmarkWholePath runs beside Gatehouse: what a platform would script
// around github.com/google/licensecheck. It walks DIR, classifies every
// licence file (LICENSE*, LICENCE*, COPYING*, UNLICENSE*, at any depth)
// and prints one JSON object per file: its path relative to DIR and the
// licence ids licensecheck matched.
//
//	go build -o licensescan ./testdata/licensescan && licensescan DIR
package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/licensecheck"
)

type file struct {
	File     string   `json:"file"`
	Licenses []string `json:"licenses"`
	Percent  float64  `json:"percent"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: licensescan DIR")
		os.Exit(2)
	}
	root := os.Args[1]
	enc := json.NewEncoder(os.Stdout)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !licenseName(d.Name()) {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		cov := licensecheck.Scan(data)
		f := file{File: filepath.ToSlash(rel), Licenses: []string{}, Percent: cov.Percent}
		for _, m := range cov.Match {
			if !m.IsURL && !slices.Contains(f.Licenses, m.ID) {
				f.Licenses = append(f.Licenses, m.ID)
			}
		}
		return enc.Encode(f)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "licensescan:", err)
		os.Exit(1)
	}
}

func licenseName(name string) bool {
	up := strings.ToUpper(name)
	for _, p := range []string{"LICENSE", "LICENCE", "COPYING", "UNLICENSE"} {
		if strings.HasPrefix(up, p) {
			return true
		}
	}
	return false
}
