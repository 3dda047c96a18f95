package tlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// TileHeight is the height of every tile: 256 hashes or entries wide, as
// C2SP tlog-tiles fixes it.
const TileHeight = 8

const tileWidth = 1 << TileHeight

// MaxEntryBytes is the largest entry: bundles store lengths in two bytes.
const MaxEntryBytes = 1<<16 - 1

// CheckpointPath is the checkpoint's path in the log directory and URL space.
const CheckpointPath = "checkpoint"

// TilePath returns the path of the hash tile at level (0 and up), index n
// and width w (1..256; 256 is a full tile), as C2SP tlog-tiles spells it.
func TilePath(level int, n uint64, w int) string {
	return tilePath(strconv.Itoa(level), n, w)
}

// EntryBundlePath returns the path of the entry bundle n of width w.
func EntryBundlePath(n uint64, w int) string {
	return tilePath("entries", n, w)
}

func tilePath(level string, n uint64, w int) string {
	var b strings.Builder
	b.WriteString("tile/")
	b.WriteString(level)
	b.WriteString("/")
	// N is zero-padded three-digit elements, all but the last prefixed
	// with x: 1234067 is x001/x234/067.
	var parts []string
	for {
		parts = append(parts, fmt.Sprintf("%03d", n%1000))
		n /= 1000
		if n == 0 {
			break
		}
	}
	for i := len(parts) - 1; i > 0; i-- {
		b.WriteString("x")
		b.WriteString(parts[i])
		b.WriteString("/")
	}
	b.WriteString(parts[0])
	if w < tileWidth {
		fmt.Fprintf(&b, ".p/%d", w)
	}
	return b.String()
}

// MarshalEntryBundle encodes entries as an entry bundle.
func MarshalEntryBundle(entries [][]byte) ([]byte, error) {
	n := 0
	for _, e := range entries {
		n += 2 + len(e)
	}
	out := make([]byte, 0, n)
	for i, e := range entries {
		if len(e) > MaxEntryBytes {
			return nil, fmt.Errorf("tlog: entry %d is %d bytes; the limit is %d", i, len(e), MaxEntryBytes)
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(e)))
		out = append(out, e...)
	}
	return out, nil
}

// ParseEntryBundle decodes an entry bundle fetched from a log, refusing
// more than 256 entries and any trailing bytes.
func ParseEntryBundle(data []byte) ([][]byte, error) {
	var entries [][]byte
	for len(data) > 0 {
		if len(entries) == tileWidth {
			return nil, errors.New("tlog: entry bundle holds more than 256 entries")
		}
		if len(data) < 2 {
			return nil, errors.New("tlog: entry bundle ends inside a length")
		}
		n := int(binary.BigEndian.Uint16(data))
		data = data[2:]
		if len(data) < n {
			return nil, fmt.Errorf("tlog: entry bundle entry %d is truncated", len(entries))
		}
		entries = append(entries, data[:n:n])
		data = data[n:]
	}
	return entries, nil
}
