// Package origins finds network origins (URLs and host names) embedded in a
// WebAssembly module's data and in a package's text files, for the
// capabilities analyzer (an origin no net: permission covers) and the diff
// analyzer (an origin a new version adds).
//
// # What counts as an origin
//
// Precision matters more than recall here: every hit on a clean plugin is
// noise a reviewer learns to ignore. So a hit is one of
//
//   - a URL with a network scheme (http, https, ws, wss, ftp) whose host is
//     an IP address, "localhost", or a DNS name ending in a public suffix
//     (ICANN section of the Public Suffix List);
//   - a bare DNS name with a public suffix right after "//" (a
//     scheme-relative URL such as //api.example.com/v1);
//   - a bare DNS name with a public suffix right after "@" and followed by
//     ":" or "/" (git@host:repo, user@host/path) — an e-mail address, where
//     the name is followed by anything else, is not an origin.
//
// A name without a dot, or whose last label is not a public suffix
// (file.go, runtime.main, a.b), is never a hit.
//
// # Packed strings
//
// Go (and most compilers) lay string constants out back to back with no
// separator, so in a module's data "https://api.example.com" may be
// followed directly by the next constant, "https://api.example.comapplication/json".
// When a host's last label is not a public suffix, Scan shortens it to the
// longest prefix that is one ("com" in "comapplication"), which recovers
// the origin the author wrote; a host that has no such prefix is dropped.
// A lower-case letter followed by an upper-case one also ends a host, as
// DNS names in source are written in lower case.
package origins

import (
	"bytes"
	"net"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Hit is one origin found in data.
type Hit struct {
	// Origin is the canonical origin: "scheme://host[:port]" in lower case
	// with the default port dropped, or just the host for a name found
	// without a scheme.
	Origin string `json:"origin"`
	// Scheme is "" for a name found without one.
	Scheme string `json:"scheme,omitempty"`
	Host   string `json:"host"`
	Port   string `json:"port,omitempty"` // only when not the scheme's default
	// Offset is the byte offset in the scanned data where the match
	// starts (at the scheme, or at the host for a bare name).
	Offset int `json:"offset"`
	// Length is the length of the match in bytes.
	Length int `json:"length"`
}

// MaxHits bounds the hits Scan returns for one input, so a file stuffed
// with URLs costs bounded memory.
const MaxHits = 10_000

// maxHostLen is the DNS limit on a name.
const maxHostLen = 253

var schemes = []string{"https", "http", "wss", "ws", "ftp"}

// Scan returns the origins in data, in order of offset.
func Scan(data []byte) []Hit {
	var hits []Hit
	next := newCandidates()
	for i := 0; i < len(data) && len(hits) < MaxHits; i++ {
		// Only ':', '/' and '@' can start a match: go straight to the
		// next one (most bytes are none of them).
		if i = next.from(data, i); i == len(data) {
			break
		}
		switch data[i] {
		case ':':
			// "scheme://": look back for the scheme.
			if i+2 >= len(data) || data[i+1] != '/' || data[i+2] != '/' {
				continue
			}
			scheme, start := schemeBefore(data, i)
			if scheme == "" {
				continue
			}
			h, end, ok := hostAt(data, i+3, true)
			if !ok {
				continue
			}
			h.Scheme = scheme
			h.Offset = start
			h.Length = end - start
			h.Origin = canonical(h)
			hits = append(hits, h)
			i = end - 1
		case '/':
			// A scheme-relative "//host" not preceded by a scheme.
			if i+1 >= len(data) || data[i+1] != '/' || (i > 0 && (data[i-1] == ':' || data[i-1] == '/')) {
				continue
			}
			h, end, ok := hostAt(data, i+2, false)
			if !ok {
				continue
			}
			h.Offset = i + 2
			h.Length = end - h.Offset
			h.Origin = h.Host
			hits = append(hits, h)
			i = end - 1
		case '@':
			h, end, ok := hostAt(data, i+1, false)
			if !ok || end >= len(data) || (data[end] != ':' && data[end] != '/') {
				continue
			}
			h.Offset = i + 1
			h.Length = end - h.Offset
			h.Origin = h.Host
			hits = append(hits, h)
			i = end - 1
		}
	}
	return hits
}

// candidates finds the bytes where a match can start (':', '/', '@') with
// bytes.IndexByte, which looks at many bytes at a time, keeping the next
// position of each so that the data is searched once for each of them.
type candidates struct {
	// pos holds the next position of each of candidateBytes found so far
	// (len(data) when there is none left); -1 before the first search.
	pos [3]int
}

var candidateBytes = [3]byte{':', '/', '@'}

func newCandidates() candidates { return candidates{pos: [3]int{-1, -1, -1}} }

// from returns the first position at or after i holding a candidate byte,
// or len(data).
func (c *candidates) from(data []byte, i int) int {
	first := len(data)
	for k, b := range candidateBytes {
		if c.pos[k] < i {
			if n := bytes.IndexByte(data[i:], b); n >= 0 {
				c.pos[k] = i + n
			} else {
				c.pos[k] = len(data)
			}
		}
		first = min(first, c.pos[k])
	}
	return first
}

// schemeBefore returns the network scheme that ends at colon (data[colon]
// is ':') and where it starts, or "" when there is none. The scheme may be
// the tail of a longer word: in packed strings a URL often follows the
// previous constant directly ("...comhttps://").
func schemeBefore(data []byte, colon int) (string, int) {
	for _, s := range schemes {
		start := colon - len(s)
		if start < 0 || !strings.EqualFold(string(data[start:colon]), s) {
			continue
		}
		return s, start
	}
	return "", 0
}

// hostAt reads a host (and for a scheme URL an optional port) starting at
// pos. withScheme allows IP literals and localhost; bare names need a
// public suffix.
func hostAt(data []byte, pos int, withScheme bool) (Hit, int, bool) {
	if pos >= len(data) {
		return Hit{}, 0, false
	}
	// Userinfo: skip "user:pass@" in a scheme URL; the origin is the host.
	if withScheme {
		if at := userinfoEnd(data, pos); at > 0 {
			pos = at
		}
	}
	if pos < len(data) && data[pos] == '[' {
		end := pos + 1
		for end < len(data) && end-pos < 64 && (isHex(data[end]) || data[end] == ':' || data[end] == '.') {
			end++
		}
		if !withScheme || end >= len(data) || data[end] != ']' {
			return Hit{}, 0, false
		}
		addr, err := netip.ParseAddr(string(data[pos+1 : end]))
		if err != nil || !addr.Is6() {
			return Hit{}, 0, false
		}
		h := Hit{Host: addr.String()}
		end++
		h.Port, end = portAt(data, end)
		return h, end, true
	}
	end := pos
	for end < len(data) && end-pos <= maxHostLen && isHostByte(data[end]) {
		if end > pos && isLower(data[end-1]) && isUpper(data[end]) {
			break // the next packed string starts here
		}
		end++
	}
	// A host does not end in a dot or a hyphen ("see https://x.org.").
	for end > pos && (data[end-1] == '.' || data[end-1] == '-') {
		end--
	}
	if end == pos || end-pos > maxHostLen {
		return Hit{}, 0, false
	}
	host := strings.ToLower(string(data[pos:end]))
	if withScheme {
		if addr, err := netip.ParseAddr(host); err == nil && addr.Is4() {
			h := Hit{Host: host}
			h.Port, end = portAt(data, end)
			return h, end, true
		}
		if host == "localhost" {
			h := Hit{Host: host}
			h.Port, end = portAt(data, end)
			return h, end, true
		}
	}
	name, cut := trimToSuffix(host)
	if name == "" {
		return Hit{}, 0, false
	}
	end = pos + len(name)
	h := Hit{Host: name}
	if withScheme && !cut {
		h.Port, end = portAt(data, end)
	}
	return h, end, true
}

// userinfoEnd returns the position after "user[:pass]@" at pos, or 0.
func userinfoEnd(data []byte, pos int) int {
	for i := pos; i < len(data) && i-pos < 128; i++ {
		c := data[i]
		switch {
		case c == '@':
			if i == pos {
				return 0
			}
			return i + 1
		case isAlnum(c) || strings.IndexByte("-._~%!$&'()*+,;=:", c) >= 0:
		default:
			return 0
		}
	}
	return 0
}

// portAt reads ":digits" at pos.
func portAt(data []byte, pos int) (string, int) {
	if pos >= len(data) || data[pos] != ':' {
		return "", pos
	}
	end := pos + 1
	for end < len(data) && end-pos <= 5 && data[end] >= '0' && data[end] <= '9' {
		end++
	}
	n, err := strconv.Atoi(string(data[pos+1 : end]))
	if err != nil || n < 1 || n > 65535 {
		return "", pos
	}
	return strconv.Itoa(n), end
}

// trimToSuffix returns host, or host with its last label cut to the
// longest prefix that is a public suffix (for packed strings), or "" when
// neither is a registrable DNS name. cut reports a shortened name.
func trimToSuffix(host string) (string, bool) {
	dot := strings.LastIndexByte(host, '.')
	if dot <= 0 || dot == len(host)-1 {
		return "", false
	}
	if validName(host) {
		return host, false
	}
	// Try the longest prefix of the last label first: "community" before
	// "com", so a real longer TLD wins.
	last := host[dot+1:]
	for n := len(last) - 1; n >= 2; n-- {
		if cand := host[:dot+1+n]; validName(cand) {
			return cand, true
		}
	}
	return "", false
}

// validName reports whether host is a well-formed DNS name whose suffix is
// an ICANN public suffix and which has at least one label before it.
func validName(host string) bool {
	if len(host) > maxHostLen {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
	}
	// Every label is letters, digits and hyphens (hostAt only reads
	// those), so the last label must hold a letter to be a TLD.
	tld := host[strings.LastIndexByte(host, '.')+1:]
	if !strings.ContainsFunc(tld, func(r rune) bool { return r >= 'a' && r <= 'z' }) {
		return false
	}
	suffix, icann := publicsuffix.PublicSuffix(host)
	// PublicSuffix falls back to the last label ("*" rule) for unknown
	// TLDs and reports icann=false for those.
	return icann && suffix != host && strings.HasSuffix(host, "."+suffix)
}

// canonical is the origin of a scheme hit, in the form
// manifest.ParseOrigin gives.
func canonical(h Hit) string {
	host := h.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	port := h.Port
	if (h.Scheme == "https" || h.Scheme == "wss") && port == "443" || (h.Scheme == "http" || h.Scheme == "ws") && port == "80" || h.Scheme == "ftp" && port == "21" {
		port = ""
	}
	if port != "" {
		host = net.JoinHostPort(h.Host, port)
	}
	return h.Scheme + "://" + host
}

// Covered reports whether a hit is covered by one of the granted origins
// (canonical "scheme://host[:port]" strings from net: permissions). A URL
// needs an origin with the same host and port and the matching scheme
// (ws and wss count as http and https: the host's fetch cannot open
// sockets, but the origin is the same server); a bare name needs any
// origin with that host.
func Covered(h Hit, granted []string) bool {
	scheme := h.Scheme
	switch scheme {
	case "ws":
		scheme = "http"
	case "wss":
		scheme = "https"
	}
	for _, g := range granted {
		gs, rest, ok := strings.Cut(g, "://")
		if !ok {
			continue
		}
		ghost, gport := rest, ""
		if hp, p, err := net.SplitHostPort(rest); err == nil {
			ghost, gport = hp, p
		}
		ghost = strings.Trim(ghost, "[]")
		if ghost != h.Host {
			continue
		}
		if scheme == "" {
			return true
		}
		if gs == scheme && gport == h.Port {
			return true
		}
	}
	return false
}

// GoToolchain lists hosts that appear in every Go-built module because the
// runtime and standard library mention them in error messages and
// documentation links ("see https://go.dev/issue/66821"), found by building
// wasip1 modules that import most of the standard library. They are never
// fetched by the plugin's own code, so they are not findings.
var GoToolchain = []string{
	"go.dev",
	"golang.org",
	"pkg.go.dev",
	"proxy.golang.org",
	"sum.golang.org",
}

// LicenseFile reports licence texts (LICENSE*, LICENCE*, COPYING*,
// NOTICE*, UNLICENSE*), whose URLs are the licence's own address and say
// nothing about what a plugin contacts; callers do not scan them.
func LicenseFile(name string) bool {
	base := strings.ToUpper(path.Base(name))
	for _, p := range []string{"LICENSE", "LICENCE", "COPYING", "NOTICE", "UNLICENSE"} {
		if strings.HasPrefix(base, p) {
			return true
		}
	}
	return false
}

// Wellknown reports whether host is one of GoToolchain.
func Wellknown(host string) bool {
	return slices.Contains(GoToolchain, host)
}

func isAlnum(c byte) bool { return isLower(c) || isUpper(c) || c >= '0' && c <= '9' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
func isHostByte(c byte) bool { return isAlnum(c) || c == '.' || c == '-' }
