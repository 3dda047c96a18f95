package hostapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ModuleImports lists the functions a WebAssembly module imports, with
// their signatures: what Spec.Check needs to say whether a module runs
// under a host API version. It reads only the type and import sections
// (the sections before them are skipped by their sizes), so hosts, the
// marketplace and `gatehouse plugin check-upgrade` read a module the same
// way without compiling it. Imports of memories, tables and globals are
// left out; the sandbox refuses those on its own.
func ModuleImports(wasm []byte) ([]Import, error) {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" || string(wasm[4:8]) != "\x01\x00\x00\x00" {
		return nil, errors.New("not a WebAssembly module (version 1 binary)")
	}
	r := &wreader{b: wasm, pos: 8}
	var types []([2][]ValType)
	var out []Import
	for r.pos < len(r.b) {
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		size, err := r.u32()
		if err != nil {
			return nil, err
		}
		if uint64(size) > uint64(len(r.b)-r.pos) {
			return nil, fmt.Errorf("section %d at offset %d runs past the end of the module", id, r.pos)
		}
		sec := &wreader{b: r.b[:r.pos+int(size)], pos: r.pos}
		r.pos += int(size)
		switch id {
		case 1: // type
			n, err := sec.u32()
			if err != nil {
				return nil, err
			}
			if n > maxModuleTypes {
				return nil, fmt.Errorf("the module declares %d types; the limit is %d", n, maxModuleTypes)
			}
			for i := uint32(0); i < n; i++ {
				form, err := sec.byte()
				if err != nil {
					return nil, err
				}
				if form != 0x60 {
					return nil, fmt.Errorf("type %d is not a function type (0x%02x)", i, form)
				}
				var ft [2][]ValType
				for k := range 2 {
					m, err := sec.u32()
					if err != nil {
						return nil, err
					}
					if m > maxModuleParams || uint64(m) > uint64(len(sec.b)-sec.pos) {
						return nil, fmt.Errorf("type %d has %d params or results; the limit is %d", i, m, maxModuleParams)
					}
					ft[k] = make([]ValType, m)
					for j := range ft[k] {
						t, err := sec.byte()
						if err != nil {
							return nil, err
						}
						ft[k][j] = ValType(t)
					}
				}
				types = append(types, ft)
			}
		case 2: // import
			n, err := sec.u32()
			if err != nil {
				return nil, err
			}
			if n > maxModuleImports {
				return nil, fmt.Errorf("the module declares %d imports; the limit is %d", n, maxModuleImports)
			}
			for i := uint32(0); i < n; i++ {
				mod, err := sec.name()
				if err != nil {
					return nil, err
				}
				name, err := sec.name()
				if err != nil {
					return nil, err
				}
				kind, err := sec.byte()
				if err != nil {
					return nil, err
				}
				switch kind {
				case 0x00: // function
					idx, err := sec.u32()
					if err != nil {
						return nil, err
					}
					if uint64(idx) >= uint64(len(types)) {
						return nil, fmt.Errorf("import %s.%s names type %d, which does not exist", mod, name, idx)
					}
					out = append(out, Import{Module: mod, Name: name, Params: types[idx][0], Results: types[idx][1]})
				case 0x01: // table: reftype, limits
					if _, err := sec.byte(); err != nil {
						return nil, err
					}
					if err := sec.limits(); err != nil {
						return nil, err
					}
				case 0x02: // memory: limits
					if err := sec.limits(); err != nil {
						return nil, err
					}
				case 0x03: // global: valtype, mutability
					if _, err := sec.byte(); err != nil {
						return nil, err
					}
					if _, err := sec.byte(); err != nil {
						return nil, err
					}
				case 0x04: // tag: attribute, type index
					if _, err := sec.byte(); err != nil {
						return nil, err
					}
					if _, err := sec.u32(); err != nil {
						return nil, err
					}
				default:
					return nil, fmt.Errorf("import %s.%s has the unknown kind 0x%02x", mod, name, kind)
				}
			}
			return out, nil // the import section is the last one read
		}
	}
	return out, nil
}

// Limits of ModuleImports, those the WebAssembly JS API sets for every
// engine.
const (
	maxModuleTypes   = 1_000_000
	maxModuleImports = 100_000
	maxModuleParams  = 1_000
	maxModuleName    = 100_000
)

type wreader struct {
	b   []byte
	pos int
}

var errShort = errors.New("the module ends in the middle of a section")

func (r *wreader) byte() (byte, error) {
	if r.pos >= len(r.b) {
		return 0, errShort
	}
	c := r.b[r.pos]
	r.pos++
	return c, nil
}

func (r *wreader) u32() (uint32, error) {
	var v uint64
	for shift := uint(0); shift < 35; shift += 7 {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if v > 0xffffffff {
				return 0, errors.New("a LEB128 number is over 32 bits")
			}
			return uint32(v), nil
		}
	}
	return 0, errors.New("a LEB128 number is over 5 bytes")
}

func (r *wreader) name() (string, error) {
	n, err := r.u32()
	if err != nil {
		return "", err
	}
	if n > maxModuleName || uint64(n) > uint64(len(r.b)-r.pos) {
		return "", errShort
	}
	s := string(r.b[r.pos : r.pos+int(n)])
	r.pos += int(n)
	return s, nil
}

func (r *wreader) limits() error {
	flag, err := r.byte()
	if err != nil {
		return err
	}
	if _, err := r.u32(); err != nil {
		return err
	}
	if flag&0x01 != 0 {
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	return nil
}

// Published is a published host API version as the marketplace serves it
// to hosts and authors: the Spec, and the deprecation it announces of an
// older version.
type Published struct {
	Spec Spec `json:"spec"`
	// Deprecates is the older version this one replaces; Sunset is when
	// hosts may stop offering it (zero for no date); MigrationURL tells
	// authors how to move.
	Deprecates   string    `json:"deprecates,omitempty"`
	Sunset       time.Time `json:"sunset,omitzero"`
	MigrationURL string    `json:"migrationUrl,omitempty"`
	PublishedAt  time.Time `json:"publishedAt"`
}

// Upgrade is what a plugin's imports meet under a newer host API version:
// what `gatehouse plugin check-upgrade` prints and install and verify
// warn about.
type Upgrade struct {
	To     string  `json:"to"`
	Status string  `json:"status"`
	Usages []Usage `json:"usages"`
	// Replaces, Sunset and MigrationURL are the deprecation To announces,
	// if any.
	Replaces     string    `json:"replaces,omitempty"`
	Sunset       time.Time `json:"sunset,omitzero"`
	MigrationURL string    `json:"migrationUrl,omitempty"`
}

// CheckUpgrade checks a module's imports and the permission kinds it
// needs against each published version, and returns the verdict under
// each, in the order given.
func CheckUpgrade(imports []Import, needs []string, feed []Published) []Upgrade {
	out := make([]Upgrade, 0, len(feed))
	for _, p := range feed {
		st, us := p.Spec.Check(imports, needs)
		out = append(out, Upgrade{To: p.Spec.Version, Status: st, Usages: us, Replaces: p.Deprecates, Sunset: p.Sunset, MigrationURL: p.MigrationURL})
	}
	return out
}

// Limits on a host API versions file.
const (
	MaxPublishedBytes    = 8 << 20
	MaxPublishedVersions = 256
)

// ParsePublished reads a host API versions file: the JSON array the
// marketplace serves at /api/v1/host-api/versions (`gatehouse hostapi
// list -o json`), which hosts verify plugins against. Every version's
// capabilities are checked as ParseSpec checks a capabilities file.
func ParsePublished(data []byte) ([]Published, error) {
	if len(data) > MaxPublishedBytes {
		return nil, fmt.Errorf("the host API versions file is %d bytes; the limit is %d", len(data), MaxPublishedBytes)
	}
	var list []Published
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("reading the host API versions file (the JSON array of /api/v1/host-api/versions): %w", err)
	}
	if dec.More() {
		return nil, errors.New("reading the host API versions file: unexpected data after the JSON array")
	}
	if len(list) > MaxPublishedVersions {
		return nil, fmt.Errorf("the host API versions file lists %d versions; the limit is %d", len(list), MaxPublishedVersions)
	}
	seen := map[string]bool{}
	for i := range list {
		p := &list[i]
		if err := p.Spec.validate(); err != nil {
			return nil, fmt.Errorf("host API version %d: %w", i+1, err)
		}
		if seen[p.Spec.Version] {
			return nil, fmt.Errorf("host API %s is listed twice", p.Spec.Version)
		}
		seen[p.Spec.Version] = true
		if p.Deprecates != "" && !ValidVersion(p.Deprecates) {
			return nil, fmt.Errorf("host API %s deprecates %q, which is not a semantic version", p.Spec.Version, clip(p.Deprecates))
		}
		if len(p.MigrationURL) > 2048 {
			return nil, fmt.Errorf("host API %s: the migration URL is over 2048 bytes", p.Spec.Version)
		}
	}
	return list, nil
}
