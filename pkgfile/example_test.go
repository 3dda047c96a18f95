package pkgfile_test

import (
	"bytes"
	"errors"
	"fmt"
	"log"

	"gatehouse.dev/gatehouse/pkgfile"
)

func ExampleWrite() {
	var pkg bytes.Buffer
	_, err := pkgfile.Write(&pkg, []pkgfile.File{
		{Path: "manifest.json", Data: []byte(`{"id":"acme/hello"}`)},
		{Path: "plugin.wasm", Data: []byte("\x00asm\x01\x00\x00\x00")},
	})
	if err != nil {
		log.Fatal(err)
	}
	p, err := pkgfile.Read(&pkg, pkgfile.DefaultLimits())
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range p.Files {
		fmt.Println(f.Path, f.Size, f.SHA256[:12])
	}
	// Output:
	// manifest.json 19 bb56c6e4a0e8
	// plugin.wasm 8 93a44bbb96c7
}

func ExampleRefusalError() {
	_, err := pkgfile.Write(&bytes.Buffer{}, []pkgfile.File{
		{Path: "manifest.json", Data: []byte(`{}`)},
		{Path: "../evil", Data: []byte("x")},
	})
	var refusal *pkgfile.RefusalError
	if errors.As(err, &refusal) {
		fmt.Println(refusal.Rule)
		fmt.Println(err)
	}
	// Output:
	// path-traversal
	// package entry "../evil": rule path-traversal: the path has a ".." component and could escape the package root
}
