// Command templater is the acme/templater Gatehouse plugin: it renders a
// Go text/template kept in a read-only folder the host mounts at
// /templates, with the data the caller passes.
//
// The folder is granted by the fs:read:/templates permission; the plugin
// can read nothing else, and cannot write there.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"text/template"

	"gatehouse.dev/gatehouse/pdk"
)

// mount is where the host mounts the granted templates folder.
const mount = "/templates"

// Limits: a template is small text, and a rendered result goes back to the
// host in one piece.
const (
	maxTemplateSize = 64 << 10
	maxOutputSize   = 256 << 10
)

// RenderInput is the JSON input of the render export.
type RenderInput struct {
	// Template is the template's file name relative to the templates
	// folder, such as "welcome.txt" or "mail/reminder.txt".
	Template string `json:"template"`
	// Data is what the template sees as dot.
	Data map[string]any `json:"data"`
}

// RenderOutput is the JSON output of the render export.
type RenderOutput struct {
	Text string `json:"text"`
}

//go:wasmexport render
func render() int32 {
	return pdk.Handle(func(in RenderInput) (RenderOutput, error) {
		return renderTemplate(pdk.ReadFile, in)
	})
}

// renderTemplate does the work; read is how a template file is fetched
// (pdk.ReadFile in the plugin).
func renderTemplate(read func(path string) ([]byte, error), in RenderInput) (RenderOutput, error) {
	name := in.Template
	if name == "" {
		return RenderOutput{}, errors.New(`template is empty: name a file in the templates folder, like {"template": "welcome.txt"}`)
	}
	// fs.ValidPath refuses absolute paths, "..", "." and empty elements,
	// so the name cannot leave the folder even before the host checks.
	if !fs.ValidPath(name) || strings.Contains(name, `\`) {
		return RenderOutput{}, fmt.Errorf("template %q is not a plain relative file name inside the templates folder", name)
	}
	src, err := read(mount + "/" + name)
	if err != nil {
		if errors.Is(err, pdk.ErrNotFound) {
			return RenderOutput{}, fmt.Errorf("template %q does not exist in the templates folder", name)
		}
		return RenderOutput{}, fmt.Errorf("reading template %q: %w", name, err)
	}
	if len(src) > maxTemplateSize {
		return RenderOutput{}, fmt.Errorf("template %q is %d bytes, the limit is %d", name, len(src), maxTemplateSize)
	}
	// missingkey=error: a typo in a field name is an error the caller sees,
	// not a silent "<no value>" in a message sent to a customer.
	t, err := template.New(name).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return RenderOutput{}, fmt.Errorf("template %q does not parse: %w", name, err)
	}
	var out bytes.Buffer
	if err := t.Execute(&limitWriter{buf: &out, max: maxOutputSize}, in.Data); err != nil {
		return RenderOutput{}, fmt.Errorf("rendering template %q: %w", name, err)
	}
	return RenderOutput{Text: out.String()}, nil
}

// errTooLong stops a template whose output outgrows maxOutputSize (a range
// over a large list, say).
var errTooLong = fmt.Errorf("the rendered text is longer than %d bytes", maxOutputSize)

type limitWriter struct {
	buf *bytes.Buffer
	max int
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > w.max {
		return 0, errTooLong
	}
	return w.buf.Write(p)
}

// main is never called: the plugin is a WASI reactor whose exports the host
// calls directly.
func main() {}
