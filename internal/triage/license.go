package triage

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Limits on an SPDX expression: a manifest's licence is outside input.
const (
	maxLicenseExprLen = 1024
	maxLicenseChoices = 64
	maxLicenseDepth   = 16
)

// LicenseChoices returns an SPDX licence expression in disjunctive normal
// form: the list of licence sets any one of which satisfies it. "MIT OR
// (Apache-2.0 AND BSD-3-Clause)" gives [[MIT] [Apache-2.0 BSD-3-Clause]].
// AND binds tighter than OR, as SPDX says; operators may be in any case.
// An exception ("GPL-2.0-only WITH Classpath-exception-2.0") is checked for
// form and dropped: it widens what the licence allows but does not change
// which licence it is, and deny lists name licences. Each set is sorted and
// duplicates are dropped.
//
// The policy refuses a licence only when every choice needs a denied
// licence, so reading the expression properly matters: "MIT OR
// AGPL-3.0-only" offers MIT.
func LicenseChoices(expr string) ([][]string, error) {
	if len(expr) > maxLicenseExprLen {
		return nil, fmt.Errorf("the licence expression is %d bytes long; the limit is %d", len(expr), maxLicenseExprLen)
	}
	toks, err := tokenize(expr)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, errors.New("the licence expression is empty")
	}
	p := &licenseParser{toks: toks}
	choices, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q in the licence expression %q", p.toks[p.pos], expr)
	}
	return choices, nil
}

func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, string(c))
			i++
		case isIDByte(c):
			j := i
			for j < len(s) && isIDByte(s[j]) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			return nil, fmt.Errorf("the licence expression has the character %q, which SPDX does not allow", c)
		}
	}
	return toks, nil
}

func isIDByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '+' || c == ':'
}

type licenseParser struct {
	toks []string
	pos  int
}

func (p *licenseParser) peekOp(op string) bool {
	return p.pos < len(p.toks) && strings.EqualFold(p.toks[p.pos], op)
}

// or parses and-expressions separated by OR: the choices add up.
func (p *licenseParser) or(depth int) ([][]string, error) {
	choices, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.peekOp("OR") {
		p.pos++
		more, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		choices = appendChoices(choices, more...)
		if len(choices) > maxLicenseChoices {
			return nil, fmt.Errorf("the licence expression offers more than %d choices", maxLicenseChoices)
		}
	}
	return choices, nil
}

// and parses terms separated by AND: every pairing of their choices.
func (p *licenseParser) and(depth int) ([][]string, error) {
	choices, err := p.term(depth)
	if err != nil {
		return nil, err
	}
	for p.peekOp("AND") {
		p.pos++
		right, err := p.term(depth)
		if err != nil {
			return nil, err
		}
		if len(choices)*len(right) > maxLicenseChoices {
			return nil, fmt.Errorf("the licence expression offers more than %d choices", maxLicenseChoices)
		}
		var product [][]string
		for _, l := range choices {
			for _, r := range right {
				product = appendChoices(product, union(l, r))
			}
		}
		choices = product
	}
	return choices, nil
}

// term is a parenthesised expression or a licence id, with an optional
// exception.
func (p *licenseParser) term(depth int) ([][]string, error) {
	if p.pos >= len(p.toks) {
		return nil, errors.New("the licence expression ends where a licence id was expected")
	}
	tok := p.toks[p.pos]
	if tok == "(" {
		if depth >= maxLicenseDepth {
			return nil, fmt.Errorf("the licence expression nests parentheses more than %d deep", maxLicenseDepth)
		}
		p.pos++
		inner, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.pos >= len(p.toks) || p.toks[p.pos] != ")" {
			return nil, errors.New("the licence expression has an unclosed parenthesis")
		}
		p.pos++
		return inner, nil
	}
	if tok == ")" || isOperator(tok) {
		return nil, fmt.Errorf("the licence expression has %q where a licence id was expected", tok)
	}
	p.pos++
	id := tok
	if p.peekOp("WITH") {
		p.pos++
		if p.pos >= len(p.toks) || p.toks[p.pos] == "(" || p.toks[p.pos] == ")" || isOperator(p.toks[p.pos]) {
			return nil, fmt.Errorf("the licence expression has WITH after %s but no exception id", id)
		}
		p.pos++
	}
	return [][]string{{id}}, nil
}

func isOperator(tok string) bool {
	return strings.EqualFold(tok, "AND") || strings.EqualFold(tok, "OR") || strings.EqualFold(tok, "WITH")
}

func union(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// appendChoices adds choices not already present.
func appendChoices(choices [][]string, more ...[]string) [][]string {
	for _, c := range more {
		if !slices.ContainsFunc(choices, func(x []string) bool { return slices.Equal(x, c) }) {
			choices = append(choices, c)
		}
	}
	return choices
}
