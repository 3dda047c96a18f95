// Package gobuildinfo reads the module information that the Go linker
// embeds in the WebAssembly modules it builds.
//
// debug/buildinfo reads ELF, Mach-O, PE and XCOFF but not WebAssembly, and
// a wasm module has no "Go buildinf:" header. The information is still
// there: the linker stores runtime.modinfo, the text that
// runtime/debug.ParseBuildInfo reads, between two fixed 16-byte sentinels
// in the data section, and records the Go version in the module's
// "producers" custom section (language "Go").
package gobuildinfo

import (
	"bytes"
	"errors"
	"fmt"
	"runtime/debug"

	"gatehouse.dev/gatehouse/internal/wasmfile"
)

// The sentinels cmd/go writes around runtime.modinfo
// (cmd/go/internal/modload.ModInfoData).
var (
	startSentinel = []byte{0x30, 0x77, 0xaf, 0x0c, 0x92, 0x74, 0x08, 0x02, 0x41, 0xe1, 0xc1, 0x07, 0xe6, 0xd6, 0x18, 0xe6}
	endSentinel   = []byte{0xf9, 0x32, 0x43, 0x31, 0x86, 0x18, 0x20, 0x72, 0x00, 0x82, 0x42, 0x10, 0x41, 0x16, 0xd8, 0xf2}
)

// maxModInfo caps the module information text. A build with a thousand
// dependencies writes about 100 KiB.
const maxModInfo = 1 << 20

// ErrNotFound means the module carries no Go module information: it was
// not built by Go with module support, or the data was stripped.
var ErrNotFound = errors.New("no Go module information (runtime.modinfo) in the data section")

// Info is a Go-built module's build information.
type Info struct {
	*debug.BuildInfo
	// Offset is the file offset of the module information text (just
	// after the start sentinel); Length is its size in bytes.
	Offset int64
	Length int64
}

// Read finds and parses the module information of a Go-built module: the
// first block, which is the only one a Go binary has (see ReadAll).
// BuildInfo.GoVersion comes from the text when present, otherwise from the
// producers section.
func Read(m *wasmfile.Module) (*Info, error) {
	all, err := readAll(m, 1)
	if err != nil {
		return nil, err
	}
	return all[0], nil
}

// maxBlocks caps how many module information blocks ReadAll returns.
const maxBlocks = 16

// ReadAll returns every module information block in the module's data. A
// Go binary has exactly one; a module with more carries copies (an
// embedded binary, or a decoy placed to hide the real list), so a caller
// listing components should list those of every block.
func ReadAll(m *wasmfile.Module) ([]*Info, error) { return readAll(m, maxBlocks) }

func readAll(m *wasmfile.Module, limit int) ([]*Info, error) {
	blocks, err := find(m, limit)
	if err != nil {
		return nil, err
	}
	goVersion := ""
	out := make([]*Info, 0, len(blocks))
	for _, blk := range blocks {
		bi, err := debug.ParseBuildInfo(string(blk.text))
		if err != nil {
			return nil, fmt.Errorf("gobuildinfo: module information at offset %d: %w", blk.off, err)
		}
		if bi.GoVersion == "" {
			if goVersion == "" {
				if goVersion, err = producersGoVersion(m); err != nil {
					return nil, err
				}
			}
			bi.GoVersion = goVersion
		}
		out = append(out, &Info{BuildInfo: bi, Offset: blk.off, Length: int64(len(blk.text))})
	}
	return out, nil
}

// producersGoVersion is the Go version the producers section records.
func producersGoVersion(m *wasmfile.Module) (string, error) {
	p, err := m.Producers()
	if err != nil {
		return "", fmt.Errorf("gobuildinfo: %w", err)
	}
	if v := p["language"]["Go"]; v != "" {
		return v, nil
	}
	return p["processed-by"]["Go cmd/compile"], nil
}

type block struct {
	text []byte
	off  int64
}

// find returns up to limit texts between the sentinels, with their file
// offsets.
//
// The Go linker splits the data section into segments at long runs of
// zero bytes, and the text has none, so it sits in one segment. If a
// segment holds the start but not the end, the text continues in the
// segments placed right after it in memory; find follows them (filling
// small gaps with the zeros memory would hold), up to maxModInfo.
func find(m *wasmfile.Module, limit int) ([]block, error) {
	var out []block
	for i, seg := range m.Data {
		for pos := 0; ; {
			j := bytes.Index(seg.Data[pos:], startSentinel)
			if j < 0 {
				break
			}
			if len(out) == limit {
				if limit == 1 {
					return out, nil
				}
				return nil, fmt.Errorf("gobuildinfo: more than %d module information blocks", limit)
			}
			start := pos + j + len(startSentinel)
			off := seg.Offset + int64(start)
			rest := seg.Data[start:]
			k := bytes.Index(rest, endSentinel)
			if k < 0 {
				text, err := stitch(m.Data[i:], start)
				if err != nil {
					return nil, fmt.Errorf("gobuildinfo: module information at offset %d: %w", off, err)
				}
				out = append(out, block{text, off})
				break // the rest of this segment is inside the text
			}
			if k > maxModInfo {
				return nil, fmt.Errorf("gobuildinfo: module information at offset %d is larger than %d bytes", off, maxModInfo)
			}
			out = append(out, block{rest[:k], off})
			pos = start + k + len(endSentinel)
		}
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return out, nil
}

// stitch rebuilds the bytes of memory from segs[0].Data[start:] onwards
// until the end sentinel.
func stitch(segs []wasmfile.DataSegment, start int) ([]byte, error) {
	first := segs[0]
	if !first.AddressKnown || first.Passive {
		return nil, errors.New("no end sentinel in its data segment")
	}
	buf := append([]byte(nil), first.Data[start:]...)
	end := first.Address + uint64(len(first.Data))
	for _, s := range segs[1:] {
		if !s.AddressKnown || s.Passive || s.MemIndex != first.MemIndex || s.Address < end {
			break
		}
		gap := s.Address - end
		if uint64(len(buf))+gap+uint64(len(s.Data)) > maxModInfo+uint64(len(endSentinel)) {
			break
		}
		buf = append(buf, make([]byte, gap)...)
		buf = append(buf, s.Data...)
		end = s.Address + uint64(len(s.Data))
		if k := bytes.Index(buf, endSentinel); k >= 0 {
			return buf[:k], nil
		}
	}
	return nil, fmt.Errorf("no end sentinel within %d bytes", maxModInfo)
}
