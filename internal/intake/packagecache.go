package intake

import (
	"container/list"
	"sync"

	"gatehouse.dev/gatehouse/pkgfile"
)

// DefaultPackageCacheBytes bounds the packages LoadPackage keeps in memory,
// by the sum of their files' sizes: a few packages at the default size
// limits, enough for a version's pipeline steps and its update's.
const DefaultPackageCacheBytes = 64 << 20

// packageCache keeps the packages LoadPackage read last, and those
// SubmitSigned just recorded, by digest, so that the steps of one
// version's pipeline (vetting, triage, the SBOMs of its certificate) and
// the vetting of its next update (which reads it as the previous version)
// read and check each package once, not once per step; a version
// submitted to the process that vets it is not read back from the blob
// store at all. A package is immutable and named by the digest of its
// bytes, which LoadPackage or SubmitSigned checked when it read them; what
// is kept is those checked bytes, so a blob changed at rest afterwards is
// not read back. Callers
// share the cached *pkgfile.Package, whose files must not be modified
// (pkgfile.Package.File says so). Safe for concurrent use.
type packageCache struct {
	max int64

	mu    sync.Mutex
	size  int64
	order list.List // of *cachedPackage, most recently used first
	items map[string]*list.Element
}

type cachedPackage struct {
	pkg  *pkgfile.Package
	size int64
}

func newPackageCache(max int64) *packageCache {
	return &packageCache{max: max, items: map[string]*list.Element{}}
}

// unpackedSize is what a package holds in memory: its files' bytes.
func unpackedSize(p *pkgfile.Package) int64 {
	var n int64
	for _, f := range p.Files {
		n += f.Size
	}
	return n + int64(len(p.Manifest()))
}

func (c *packageCache) get(digest string) (*pkgfile.Package, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[digest]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*cachedPackage).pkg, true
}

// put keeps p, dropping the least recently used packages over the bound;
// a package larger than the whole bound is not kept.
func (c *packageCache) put(p *pkgfile.Package) {
	n := unpackedSize(p)
	if n > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[p.Digest]; ok {
		c.order.MoveToFront(e)
		return
	}
	c.items[p.Digest] = c.order.PushFront(&cachedPackage{pkg: p, size: n})
	c.size += n
	for c.size > c.max {
		last := c.order.Back()
		cp := last.Value.(*cachedPackage)
		c.order.Remove(last)
		delete(c.items, cp.pkg.Digest)
		c.size -= cp.size
	}
}
