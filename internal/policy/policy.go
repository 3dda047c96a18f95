// Package policy evaluates the marketplace's rules, written in Rego, with
// the Open Policy Agent library. A Policy is a set of Rego files; Compile
// turns it into an immutable Engine holding a prepared query, so each
// decision costs tens of microseconds rather than a compilation; Test runs
// the policy's own Rego unit tests; DryRun shows which stored inputs a
// proposed policy would decide differently.
//
// The policy answers one question, data.gatehouse.decision, for one Input
// (the plugin version, its vetting results, the change since the last
// approved version, the publisher's standing and the risk weight) with a
// Decision: what is forbidden, which findings block, the risk tier, each
// auto-approval gate, approvals, deadline and certificate lifetime, and an
// explanation. The default policy is embedded (default/*.rego) together with
// its tests.
//
// The package is pure domain code: no store, HTTP or CLI imports.
package policy

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Policy is the source of a policy: Rego files by name. Files whose name
// ends in _test.rego hold its unit tests.
type Policy struct {
	// Modules maps a file name (no folders) to its Rego source.
	Modules map[string]string
	// Digest identifies the policy: "sha256:" and the hex SHA-256 of its
	// canonical file list (see ComputeDigest). Every decision records it.
	// Build policies with New, Load or Default, which compute it; Compile
	// refuses a policy whose digest does not match its files.
	Digest string
}

// Names returns the policy's file names in order, for showing it.
func (p Policy) Names() []string { return sortedNames(p.Modules) }

// Limits on a policy's files, which come from a steward's upload.
const (
	MaxFiles     = 64
	MaxFileBytes = 256 << 10
	MaxBytes     = 1 << 20
)

//go:embed default/*.rego
var defaultFS embed.FS

// Default returns the embedded default policy with its tests.
func Default() Policy {
	entries, err := fs.ReadDir(defaultFS, "default")
	if err != nil {
		panic("policy: reading the embedded default policy: " + err.Error()) // cannot happen: the files are compiled in
	}
	mods := make(map[string]string, len(entries))
	for _, e := range entries {
		b, err := defaultFS.ReadFile("default/" + e.Name())
		if err != nil {
			panic("policy: reading the embedded default policy: " + err.Error())
		}
		mods[e.Name()] = string(b)
	}
	return New(mods)
}

// New returns a policy of the given files with its digest computed. It
// copies the map.
func New(modules map[string]string) Policy {
	m := make(map[string]string, len(modules))
	for k, v := range modules {
		m[k] = v
	}
	return Policy{Modules: m, Digest: ComputeDigest(m)}
}

// ComputeDigest returns the digest of a policy's files: SHA-256 over a
// domain-separation line and, for each file in name order, its name, its
// length in decimal and its bytes, each followed by a NUL. Map order and
// file-system order therefore never change it, and no two file lists share
// one.
func ComputeDigest(modules map[string]string) string {
	h := sha256.New()
	io.WriteString(h, "gatehouse-policy-v1\n")
	for _, name := range sortedNames(modules) {
		src := modules[name]
		io.WriteString(h, name)
		h.Write([]byte{0})
		io.WriteString(h, strconv.Itoa(len(src)))
		h.Write([]byte{0})
		io.WriteString(h, src)
		h.Write([]byte{0})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Load reads the *.rego files of a folder (not its sub-folders) as a
// policy. Links and other non-regular files are refused, as are folders with
// too many or too large files.
func Load(dir string) (Policy, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Policy{}, fmt.Errorf("reading policy folder: %w", err)
	}
	mods := make(map[string]string)
	total := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".rego") {
			continue
		}
		if !e.Type().IsRegular() {
			return Policy{}, fmt.Errorf("policy file %s is not a regular file; copy it into the folder instead of linking it", e.Name())
		}
		if len(mods) == MaxFiles {
			return Policy{}, fmt.Errorf("policy folder %s has more than %d .rego files", dir, MaxFiles)
		}
		src, err := readLimited(filepath.Join(dir, e.Name()), MaxFileBytes)
		if err != nil {
			return Policy{}, err
		}
		total += len(src)
		if total > MaxBytes {
			return Policy{}, fmt.Errorf("policy folder %s holds more than %d bytes of Rego", dir, MaxBytes)
		}
		mods[e.Name()] = src
	}
	if len(mods) == 0 {
		return Policy{}, fmt.Errorf("policy folder %s has no .rego files", dir)
	}
	return New(mods), nil
}

func readLimited(path string, limit int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading policy file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return "", fmt.Errorf("reading policy file %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return "", fmt.Errorf("policy file %s is larger than %d bytes", path, limit)
	}
	return string(b), nil
}

// check refuses file lists Compile should not parse.
func (p Policy) check() error {
	if len(p.Modules) == 0 {
		return fmt.Errorf("the policy has no files")
	}
	if len(p.Modules) > MaxFiles {
		return fmt.Errorf("the policy has %d files; the limit is %d", len(p.Modules), MaxFiles)
	}
	total := 0
	for _, name := range sortedNames(p.Modules) {
		if name == "" || !strings.HasSuffix(name, ".rego") || strings.ContainsAny(name, `/\`) || name != filepath.Base(name) {
			return fmt.Errorf("policy file name %q must be a plain file name ending in .rego", name)
		}
		n := len(p.Modules[name])
		if n > MaxFileBytes {
			return fmt.Errorf("policy file %s is %d bytes; the limit is %d", name, n, MaxFileBytes)
		}
		total += n
	}
	if total > MaxBytes {
		return fmt.Errorf("the policy is %d bytes; the limit is %d", total, MaxBytes)
	}
	if want := ComputeDigest(p.Modules); p.Digest != want {
		return fmt.Errorf("the policy's digest %q does not match its files (%s); build policies with New, Load or Default", p.Digest, want)
	}
	return nil
}

func sortedNames(m map[string]string) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
