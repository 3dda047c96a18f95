package sbom

import (
	"runtime/debug"
	"strings"
)

// GoStdlib is the name OSV gives the Go standard library (and toolchain)
// in the Go ecosystem.
const GoStdlib = "stdlib"

// FromGoBuildInfo lists the components of a Go binary: the standard
// library at the Go version that built it, the main module, and every
// module dependency with its replacement applied (the replacement is what
// was compiled in). Versions keep Go's "v" prefix; the standard library's
// version has none ("1.26.8"), as in OSV.
func FromGoBuildInfo(bi *debug.BuildInfo) []Component {
	var out []Component
	if v := GoVersionToSemver(bi.GoVersion); v != "" {
		out = append(out, Component{Name: GoStdlib, Version: v, Ecosystem: "Go"})
	}
	if bi.Main.Path != "" {
		out = append(out, goComponent(&bi.Main))
	}
	for _, d := range bi.Deps {
		out = append(out, goComponent(d))
	}
	return out
}

func goComponent(m *debug.Module) Component {
	orig := m
	for m.Replace != nil {
		m = m.Replace
	}
	if localPath(m.Path) {
		// A folder beside the main module (a plugin's carried kit,
		// ./.gatehouse/kit) compiled under the module's own path: name
		// that path, with no version to match.
		return Component{Name: orig.Path, Version: "(devel)", Ecosystem: "Go"}
	}
	c := Component{Name: m.Path, Version: m.Version, Ecosystem: "Go"}
	// A replacement by a local directory has no version: there is no
	// release to name, and nothing to match.
	if m.Version != "" && m.Version != "(devel)" {
		c.PURL = "pkg:golang/" + m.Path + "@" + m.Version
	}
	return c
}

// localPath reports a replacement by a folder rather than a module.
func localPath(p string) bool {
	return strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") || strings.HasPrefix(p, "/") || p == "." || p == ".."
}

// GoVersionToSemver turns a Go toolchain version ("go1.21.3", "go1.22",
// "go1.22rc1", "go1.26.8 X:jsonv2") into the semantic version OSV uses
// for the standard library ("1.21.3", "1.22.0", "1.22.0-rc.1"). It returns
// "" for development builds and anything else it cannot read.
func GoVersionToSemver(v string) string {
	v, _, _ = strings.Cut(v, " ")
	v, ok := strings.CutPrefix(v, "go")
	if !ok || v == "" {
		return ""
	}
	// Some distributions append a suffix ("go1.21.3-fips", "+..."): the
	// suffix does not change which standard library was compiled in.
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		v = v[:i]
	}
	pre := ""
	for _, tag := range []string{"rc", "beta"} {
		if base, n, found := strings.Cut(v, tag); found {
			if !allDigits(n) {
				return ""
			}
			v, pre = base, "-"+tag+"."+n
			break
		}
	}
	parts := strings.Split(v, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return ""
	}
	for _, p := range parts {
		if !allDigits(p) {
			return ""
		}
	}
	if len(parts) == 2 {
		parts = append(parts, "0")
	}
	return strings.Join(parts, ".") + pre
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
