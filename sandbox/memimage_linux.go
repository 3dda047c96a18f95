//go:build linux

package sandbox

import (
	"encoding/binary"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/tetratelabs/wazero/experimental"
)

// Copy-on-write reset (Linux)
//
// A pooled instance's linear memory is a private mapping: up to the
// snapshot's size, of a sealed memfd holding the snapshot's bytes (the
// image); past it, anonymous memory. A page the guest only reads stays
// the image's page; the first write to a page gives the instance a
// private copy of it. A reset asks the kernel which pages are private
// copies (/proc/self/pagemap: present and not file-backed, or swapped
// out) and drops just those with madvise(MADV_DONTNEED), after which they
// read as the image again. A call that touched a few pages is undone by
// dropping a few pages, instead of copying the whole memory back.
//
// The image cannot change (F_SEAL_WRITE and friends), and a page is
// either the image's or the instance's own, so a page the kernel does not
// report as the instance's own holds the snapshot's bytes. Anything that
// goes wrong (no memfd, no pagemap) falls back to copying.

// memImage is the snapshot's memory as a sealed memfd, and the pagemap
// that tells an instance's own pages from the image's.
type memImage struct {
	fd      int
	size    int
	pagemap *os.File
}

var pageSize = os.Getpagesize()

// newMemImage writes mem to a sealed memfd; nil if the kernel offers no
// memfd or no pagemap, and then instances are reset by copying.
func newMemImage(mem []byte) *memImage {
	if len(mem) == 0 || len(mem)%pageSize != 0 {
		return nil
	}
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return nil
	}
	fd, err := unix.MemfdCreate("gatehouse-snapshot", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		pm.Close()
		return nil
	}
	img := &memImage{fd: fd, size: len(mem), pagemap: pm}
	ok := unix.Ftruncate(fd, int64(len(mem))) == nil
	for off := 0; ok && off < len(mem); {
		n, err := unix.Pwrite(fd, mem[off:], int64(off))
		ok = err == nil && n > 0
		off += n
	}
	if ok {
		_, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SEAL|unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK)
		ok = err == nil
	}
	if !ok {
		img.close()
		return nil
	}
	return img
}

func (img *memImage) close() {
	if img == nil {
		return
	}
	unix.Close(img.fd)
	img.pagemap.Close()
}

// mapOver replaces the first img.size bytes of m with a private mapping
// of the image. The bytes there must equal the image already (the
// instance the snapshot was taken from) or are to be reset anyway.
func (img *memImage) mapOver(m *mappedMemory) bool {
	if len(m.region) < img.size {
		return false
	}
	_, err := unix.MmapPtr(img.fd, 0, unsafe.Pointer(&m.region[0]), uintptr(img.size),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_FIXED)
	if err != nil {
		return false
	}
	m.image = img
	return true
}

// pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst).
const (
	pmPresent = 1 << 63
	pmSwapped = 1 << 62
	pmFile    = 1 << 61
)

// dropThreshold is the share of the image's pages (one in
// dropThreshold) an instance may own before a reset gives them all back
// to the kernel at once rather than copying the snapshot's bytes into
// each.
const dropThreshold = 8

// resetPages puts the snapshot's bytes (snap, the image's content) back
// into every page of m's image range that m owns: it copies them into
// each page (which stays m's own, so the next call that writes it takes
// no page fault), or, once m owns more than one page in dropThreshold,
// drops the whole range with a single madvise(MADV_DONTNEED), after which
// every page reads as the image again. It reports false if the kernel
// would not say which pages are m's own; the caller then copies
// everything.
func (img *memImage) resetPages(m *mappedMemory, snap []byte) bool {
	if m.image != img || len(snap) != img.size {
		return false
	}
	pages := img.size / pageSize
	if cap(m.entries) < pages*8 {
		m.entries = make([]byte, pages*8)
	}
	buf := m.entries[:pages*8]
	base := uintptr(unsafe.Pointer(&m.region[0]))
	n, err := img.pagemap.ReadAt(buf, int64(base/uintptr(pageSize))*8)
	if err != nil || n != len(buf) {
		return false
	}
	m.own = m.own[:0]
	for i := range pages {
		e := binary.LittleEndian.Uint64(buf[i*8:])
		if e&pmSwapped != 0 || e&pmPresent != 0 && e&pmFile == 0 {
			m.own = append(m.own, int32(i))
		}
	}
	if len(m.own) > pages/dropThreshold {
		return unix.Madvise(m.region[:img.size], unix.MADV_DONTNEED) == nil
	}
	for _, i := range m.own {
		off := int(i) * pageSize
		copy(m.region[off:off+pageSize], snap[off:off+pageSize])
	}
	return true
}

// mappedAllocator gives a new instance a mappedMemory: the image's pages
// up to its size when img is set (a new instance from the snapshot), all
// anonymous otherwise (the first instance, before there is a snapshot).
type mappedAllocator struct {
	img *memImage
	// made is the memory allocated, for the instance to keep.
	made *mappedMemory
}

func (a *mappedAllocator) Allocate(capacity, max uint64) experimental.LinearMemory {
	m, err := newMappedMemory(max)
	if err == nil && a.img != nil && !a.img.mapOver(m) {
		m.Free()
		err = fmt.Errorf("mapping the snapshot image")
	}
	if err != nil {
		// A plain Go slice then, reset by copying.
		return &linearMemory{buf: make([]byte, 0, capacity)}
	}
	a.made = m
	return m
}

// mappedMemory is a linear memory in one reserved mapping of the largest
// size the memory may reach; growing never moves it.
type mappedMemory struct {
	region  []byte
	image   *memImage // the image mapped at its start, if any
	entries []byte    // pagemap buffer, kept between resets
	own     []int32   // the pages a reset found m owns, kept likewise
}

func newMappedMemory(max uint64) (*mappedMemory, error) {
	size := (max + uint64(pageSize) - 1) &^ uint64(pageSize-1)
	if size == 0 {
		size = uint64(pageSize)
	}
	b, err := unix.Mmap(-1, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("reserving %d bytes for a linear memory: %w", size, err)
	}
	return &mappedMemory{region: b}, nil
}

func (m *mappedMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.region)) {
		return nil
	}
	return m.region[:size]
}

func (m *mappedMemory) Free() {
	if m.region != nil {
		unix.Munmap(m.region)
		m.region = nil
	}
}

// copyOnWrite reports whether this platform resets by dropping pages.
const copyOnWrite = true
