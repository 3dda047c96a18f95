package sandbox

import (
	"bytes"
	"encoding/binary"
)

// coalesceData returns mod with its active data segments merged where they
// lie close together, or mod itself when it does not have the simple shape
// this handles.
//
// Why: Go's linker writes one data segment per run of non-zero bytes, tens
// of thousands for an ordinary plugin, and wazero evaluates each segment's
// offset expression on every instantiation. Since every call gets a fresh
// instance, that was most of a call's cost. Merging changes no byte of the
// initial memory: segments are applied in order into a zero-filled
// buffer, exactly as instantiation would, and gaps of up to maxGap zero
// bytes are written as zeros onto memory that is already zero.
//
// Only modules whose data segments are all active, for memory 0, with an
// i32.const offset, and that have no data count section (so no
// memory.init or data.drop can refer to a segment by index) are rewritten.
func coalesceData(mod []byte) []byte {
	const (
		maxGap   = 1024
		maxImage = 256 << 20 // never build an image larger than this
	)
	if len(mod) < 8 || !bytes.Equal(mod[:8], []byte{0, 'a', 's', 'm', 1, 0, 0, 0}) {
		return mod
	}
	type seg struct {
		off  uint32
		data []byte
	}
	var (
		segs               []seg
		dataStart, dataEnd = -1, -1
	)
	for i := 8; i < len(mod); {
		id := mod[i]
		size, n := binary.Uvarint(mod[i+1:])
		if n <= 0 || size > uint64(len(mod)) {
			return mod
		}
		body := i + 1 + n
		end := body + int(size)
		if end > len(mod) {
			return mod
		}
		switch id {
		case 12: // data count: bulk memory may name segments by index
			return mod
		case 11:
			if dataStart >= 0 {
				return mod
			}
			dataStart, dataEnd = i, end
			p := mod[body:end]
			count, k := binary.Uvarint(p)
			if k <= 0 || count > uint64(len(p)) {
				return mod
			}
			p = p[k:]
			for range count {
				// flags 0, i32.const (0x41) signed LEB128 offset, end (0x0b)
				if len(p) < 3 || p[0] != 0 || p[1] != 0x41 {
					return mod
				}
				off, k := readSLEB32(p[2:])
				// i32.const is signed; an address above 2 GiB is written
				// negative. Leave such modules alone.
				if k == 0 || off < 0 || len(p) < 2+k+1 || p[2+k] != 0x0b {
					return mod
				}
				p = p[2+k+1:]
				ln, k2 := binary.Uvarint(p)
				if k2 <= 0 || ln > uint64(len(p)-k2) {
					return mod
				}
				segs = append(segs, seg{off: uint32(off), data: p[k2 : k2+int(ln)]})
				p = p[k2+int(ln):]
			}
			if len(p) != 0 {
				return mod
			}
		}
		i = end
	}
	if len(segs) < 2 {
		return mod
	}
	// Apply the segments in order onto an image of the memory they cover,
	// marking the bytes written, then cut the image into spans of written
	// bytes, bridging gaps of up to maxGap unwritten (zero) bytes. Applying
	// in order keeps the rule that a later segment overwrites an earlier
	// one where they overlap.
	lo, hi := uint64(segs[0].off), uint64(0)
	for _, s := range segs {
		lo = min(lo, uint64(s.off))
		hi = max(hi, uint64(s.off)+uint64(len(s.data)))
	}
	if hi-lo > maxImage {
		return mod
	}
	image := make([]byte, hi-lo)
	written := make([]bool, hi-lo)
	for _, s := range segs {
		at := uint64(s.off) - lo
		copy(image[at:], s.data)
		for k := range s.data {
			written[at+uint64(k)] = true
		}
	}
	type span struct{ start, end uint64 } // relative to lo
	var spans []span
	for k := uint64(0); k < uint64(len(image)); {
		if !written[k] {
			k++
			continue
		}
		if n := len(spans); n > 0 && k-spans[n-1].end <= maxGap {
			spans[n-1].end = k + 1
		} else {
			spans = append(spans, span{k, k + 1})
		}
		k++
	}
	var sec []byte
	sec = binary.AppendUvarint(sec, uint64(len(spans)))
	for _, s := range spans {
		sec = append(sec, 0, 0x41)
		sec = appendSLEB32(sec, int64(lo+s.start))
		sec = append(sec, 0x0b)
		sec = binary.AppendUvarint(sec, s.end-s.start)
		sec = append(sec, image[s.start:s.end]...)
	}
	out := make([]byte, 0, len(mod)+len(sec)-(dataEnd-dataStart))
	out = append(out, mod[:dataStart]...)
	out = append(out, 11)
	out = binary.AppendUvarint(out, uint64(len(sec)))
	out = append(out, sec...)
	out = append(out, mod[dataEnd:]...)
	return out
}

// readSLEB32 reads a signed LEB128 i32 (at most 5 bytes) and returns it
// and its length, or length 0 if it is malformed.
func readSLEB32(p []byte) (int64, int) {
	var v int64
	var shift uint
	for i := 0; i < len(p) && i < 5; i++ {
		b := p[i]
		v |= int64(b&0x7f) << shift
		shift += 7
		if b&0x80 == 0 {
			if b&0x40 != 0 {
				v |= -1 << shift
			}
			return v, i + 1
		}
	}
	return 0, 0
}

func appendSLEB32(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
