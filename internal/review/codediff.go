package review

import (
	"bytes"
	"unicode/utf8"

	"gatehouse.dev/gatehouse/internal/textdiff"
	"gatehouse.dev/gatehouse/pkgfile"
)

// FileChange is one file that differs between two versions of a package,
// as a reviewer reads it.
type FileChange struct {
	Path   string
	Status string // added, removed, changed
	// Diff is the unified diff of a text file (three lines of context);
	// empty for a removed or binary file, or when Omitted.
	Diff string
	// Binary is set for a changed file that is not text on either side,
	// with its sizes before and after.
	Binary           bool
	OldSize, NewSize int64
	// Omitted is set when the diff was left out because the limit on the
	// total diff text was reached.
	Omitted bool
}

// CodeDiff lists the files that differ between prev and cur, in cur's file
// order and then the removed files in prev's order, with unified diffs of
// the text files up to limit bytes of diff text in all, so a huge change
// cannot make a review page or response unbounded.
func CodeDiff(prev, cur *pkgfile.Package, limit int) []FileChange {
	before := make(map[string]pkgfile.Entry, len(prev.Files))
	for _, e := range prev.Files {
		before[e.Path] = e
	}
	text := func(p *pkgfile.Package, path string) (string, bool) {
		data, _ := p.File(path)
		return string(data), utf8.Valid(data) && !bytes.ContainsRune(data, 0)
	}
	var out []FileChange
	total := 0
	withDiff := func(fc FileChange, a, b string) FileChange {
		d := textdiff.Unified(fc.Path, a, b, 3)
		if total+len(d) > limit {
			fc.Omitted = true
			return fc
		}
		total += len(d)
		fc.Diff = d
		return fc
	}
	for _, e := range cur.Files {
		old, existed := before[e.Path]
		delete(before, e.Path)
		switch {
		case !existed:
			fc := FileChange{Path: e.Path, Status: "added", NewSize: e.Size}
			if t, ok := text(cur, e.Path); ok {
				fc = withDiff(fc, "", t)
			}
			out = append(out, fc)
		case old.SHA256 != e.SHA256:
			fc := FileChange{Path: e.Path, Status: "changed", OldSize: old.Size, NewSize: e.Size}
			ta, oka := text(prev, e.Path)
			tb, okb := text(cur, e.Path)
			if oka && okb {
				fc = withDiff(fc, ta, tb)
			} else {
				fc.Binary = true
			}
			out = append(out, fc)
		}
	}
	for _, e := range prev.Files {
		if _, gone := before[e.Path]; gone {
			out = append(out, FileChange{Path: e.Path, Status: "removed", OldSize: e.Size})
		}
	}
	return out
}
