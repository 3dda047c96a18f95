package pkgfile

import "fmt"

// Limits bound what Read accepts and what it holds. Every field must be
// positive, but MaxMemoryBytes may be 0.
type Limits struct {
	// MaxPackageBytes bounds the compressed package, as read.
	MaxPackageBytes int64
	// MaxTotalBytes bounds the uncompressed tar stream: file contents plus
	// tar headers and padding. It therefore bounds the memory a package's
	// files take and the work spent decompressing it.
	MaxTotalBytes int64
	// MaxFileBytes bounds one file's contents.
	MaxFileBytes int64
	// MaxFiles bounds the number of entries, SHA256SUMS included.
	MaxFiles int
	// MaxPathLen bounds a path's length in bytes.
	MaxPathLen int
	// MaxDepth bounds the number of slash-separated components of a path.
	MaxDepth int
	// MaxMemoryBytes bounds the file contents a Package holds in memory.
	// A file that would take the total past it is written to a temporary
	// file instead (see Read) and read back by File, one copy for the
	// callers holding it at once. 0 holds every file in memory.
	MaxMemoryBytes int64
}

// DefaultLimits returns the limits the marketplace applies to uploads.
//
// A plugin is a WebAssembly module of a few MiB (a Go plugin is 2 to 20 MiB,
// a debug build with DWARF up to ~100 MiB) plus small text files, so:
// 100 MiB compressed and 128 MiB per file leave room for a large debug
// module; 256 MiB uncompressed bounds the memory one Read holds; 10,000 files
// allows vendored source while keeping per-entry bookkeeping small; 255 bytes
// is the common file-name limit of file systems and keeps paths printable;
// depth 16 is deeper than any sane source tree and stops path-building games.
//
// 8 MiB held in memory keeps a typical plugin (a module of a few MiB and its
// text files) whole, so reading its files costs nothing, while a package of
// vendored source or a large debug module costs a vetting process 8 MiB,
// not up to the 256 MiB it unpacks to: a worker vets two versions at once,
// each beside its previous version, and the garbage collector lets the heap
// grow to twice what is held, so what it holds per package counts eight
// times. (Without the bound a worker could need 2 GiB for packages alone.)
func DefaultLimits() Limits {
	return Limits{
		MaxPackageBytes: 100 << 20,
		MaxTotalBytes:   256 << 20,
		MaxFileBytes:    128 << 20,
		MaxFiles:        10_000,
		MaxPathLen:      255,
		MaxDepth:        16,
		MaxMemoryBytes:  8 << 20,
	}
}

func (l Limits) validate() error {
	switch {
	case l.MaxPackageBytes <= 0:
		return fmt.Errorf("pkgfile: invalid limits: MaxPackageBytes must be positive, got %d", l.MaxPackageBytes)
	case l.MaxTotalBytes <= 0:
		return fmt.Errorf("pkgfile: invalid limits: MaxTotalBytes must be positive, got %d", l.MaxTotalBytes)
	case l.MaxFileBytes <= 0:
		return fmt.Errorf("pkgfile: invalid limits: MaxFileBytes must be positive, got %d", l.MaxFileBytes)
	case l.MaxFiles <= 0:
		return fmt.Errorf("pkgfile: invalid limits: MaxFiles must be positive, got %d", l.MaxFiles)
	case l.MaxPathLen <= 0:
		return fmt.Errorf("pkgfile: invalid limits: MaxPathLen must be positive, got %d", l.MaxPathLen)
	case l.MaxDepth <= 0:
		return fmt.Errorf("pkgfile: invalid limits: MaxDepth must be positive, got %d", l.MaxDepth)
	case l.MaxMemoryBytes < 0:
		return fmt.Errorf("pkgfile: invalid limits: MaxMemoryBytes must be 0 (hold every file in memory) or positive, got %d", l.MaxMemoryBytes)
	}
	return nil
}
