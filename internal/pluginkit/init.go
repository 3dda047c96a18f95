// Package pluginkit is the plugin author's tool chain: it scaffolds a new
// plugin folder (Init) and compiles a plugin to WebAssembly with the plugin
// kit embedded in the gatehouse binary (Build).
//
// It runs on the author's machine, outside this repository, so it depends
// on nothing but the go command and the kit source the binary carries.
package pluginkit

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
	"time"

	gatehouse "gatehouse.dev/gatehouse"
	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/manifest"
)

// InitOptions adjust the scaffold Init writes.
type InitOptions struct {
	// Owner is the owner's name in the manifest and the LICENSE. Empty
	// means the id's namespace.
	Owner string
	// Email is the owner's contact address. Empty means a placeholder at
	// example.com the author is expected to replace.
	Email string
	// Year is the copyright year in the LICENSE. Zero means this year.
	Year int
	// Kit is the plugin kit source written to .gatehouse/kit. Nil means
	// the kit embedded in this binary (gatehouse.PDKSource).
	Kit fs.FS
}

//go:embed scaffold/*.tmpl
var scaffoldFS embed.FS

var scaffold = template.Must(template.New("").ParseFS(scaffoldFS, "scaffold/*.tmpl"))

// The id grammar is the manifest schema's (pluginId): a namespace of up to
// 39 and a name of up to 64 lower-case letters, digits and hyphens, each
// starting with a letter. Every such part is also a valid Go module path
// element and a safe file name.
var (
	namespacePart = regexp.MustCompile(`^[a-z][a-z0-9-]{0,38}$`)
	namePart      = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)
)

// ValidateID checks that id is a plugin id, NAMESPACE/NAME, as the manifest
// requires.
func ValidateID(id string) error {
	ns, name, ok := strings.Cut(id, "/")
	if !ok || strings.Contains(name, "/") {
		return fmt.Errorf("plugin id %q must be NAMESPACE/NAME, like acme/hello", id)
	}
	if !namespacePart.MatchString(ns) {
		return fmt.Errorf("plugin id %q: the namespace must be 1 to 39 lower-case letters, digits and hyphens, starting with a letter", id)
	}
	if !namePart.MatchString(name) {
		return fmt.Errorf("plugin id %q: the name must be 1 to 64 lower-case letters, digits and hyphens, starting with a letter", id)
	}
	return nil
}

// ModulePath returns the Go module path Init gives the plugin with id. The
// host part ends in .local, a name reserved for local networks, so the go
// command never mistakes the plugin for a module to download.
func ModulePath(id string) string {
	return "plugins.local/" + id
}

// scaffoldData is what the templates see.
type scaffoldData struct {
	ID, Namespace, Name, ModulePath, Owner, PackName string
	Year                                             int
}

// Init writes a new plugin with id into dir: a Go module with one export
// (greet), its manifest, test scenarios, README, LICENSE (MIT),
// .gatehouseignore, and the plugin kit in .gatehouse/kit (KitDir), which
// its go.mod names with a replace directive so that the ordinary go command
// resolves the kit offline. The result builds as it is with Build. dir is created
// if it does not exist; Init refuses a folder that holds anything, so it
// never overwrites an author's work.
func Init(dir, id string, opts InitOptions) error {
	if err := ValidateID(id); err != nil {
		return err
	}
	if err := emptyDir(dir); err != nil {
		return err
	}
	ns, name, _ := strings.Cut(id, "/")
	d := scaffoldData{
		ID:         id,
		Namespace:  ns,
		Name:       title(name),
		ModulePath: ModulePath(id),
		Owner:      opts.Owner,
		PackName:   ns + "-" + name,
		Year:       opts.Year,
	}
	if d.Owner == "" {
		d.Owner = ns
	}
	if strings.ContainsAny(d.Owner, "\r\n") {
		return fmt.Errorf("owner name %q spans lines; give a single-line name", d.Owner)
	}
	if d.Year == 0 {
		d.Year = time.Now().UTC().Year()
	}
	email := opts.Email
	if email == "" {
		email = "dev@" + ns + ".example.com"
	}

	m := manifest.Manifest{
		ManifestVersion: manifest.SchemaVersion,
		ID:              id,
		Version:         "0.1.0",
		Name:            d.Name,
		Description:     "Greets people by name.",
		Homepage:        "https://" + ns + ".example.com/plugins/" + name,
		Owners:          []manifest.Person{{Name: d.Owner, Email: email}},
		License:         "MIT",
		Runtime: manifest.Runtime{
			Module:  "plugin.wasm",
			Exports: []string{"greet"},
			HostAPI: "^" + hostapi.Version,
		},
		Permissions: []string{},
		// A scaffold passes `gatehouse vet` with no findings: its memory
		// is bounded, and its listing is complete (the homepage and the
		// addresses are placeholders at example.com to replace).
		Limits:  &manifest.Limits{MemoryMiB: 16},
		Data:    &manifest.DataHandling{Categories: []string{}, Purpose: "greets whoever it is given by name; it reads no platform data and keeps nothing", Retention: "none"},
		Support: &manifest.Support{Email: email},
	}
	mjson, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("writing the manifest: %w", err)
	}
	mjson = append(mjson, '\n')

	files := []struct {
		name string
		tmpl string // template name, or "" to use data
		data []byte
	}{
		{name: "go.mod", tmpl: "go.mod.tmpl"},
		{name: "main.go", tmpl: "main.go.tmpl"},
		{name: manifest.FileName, data: mjson},
		{name: filepath.Join("tests", "greet.json"), tmpl: "greet.json.tmpl"},
		{name: "README.md", tmpl: "README.md.tmpl"},
		{name: "LICENSE", tmpl: "LICENSE.tmpl"},
		{name: ".gatehouseignore", tmpl: "gatehouseignore.tmpl"},
	}
	for _, f := range files {
		data := f.data
		if f.tmpl != "" {
			var buf bytes.Buffer
			if err := scaffold.ExecuteTemplate(&buf, f.tmpl, d); err != nil {
				return fmt.Errorf("writing %s: %w", f.name, err)
			}
			data = buf.Bytes()
		}
		if err := writeNew(filepath.Join(dir, f.name), data); err != nil {
			return err
		}
	}
	kit := opts.Kit
	if kit == nil {
		kit = gatehouse.PDKSource
	}
	return syncKit(dir, kit)
}

// emptyDir creates dir if needed and checks that it holds nothing.
func emptyDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating plugin folder: %w", err)
	}
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening plugin folder: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading plugin folder %s: %w", dir, err)
	}
	if len(names) > 0 {
		return fmt.Errorf("folder %s is not empty (it holds %s); init writes a new plugin only into an empty or new folder", dir, names[0])
	}
	return nil
}

// writeNew writes a file that must not exist yet (O_EXCL), so a file
// created meanwhile by someone else is never overwritten.
func writeNew(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return nil
}

// title turns "hello-world" into "Hello World".
func title(name string) string {
	words := strings.Split(name, "-")
	for i, w := range words {
		if w != "" {
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(words, " ")
}
