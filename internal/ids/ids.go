// Package ids makes the identifiers of stored records: a prefix naming the
// kind of record ("sub", "tok", "inc", "hr", "wh") and 80 random bits in
// lowercase base32, so an id is unguessable, safe in a URL path and tells
// its reader what it names.
package ids

import (
	"crypto/rand"
	"encoding/base32"
)

var encoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// New returns prefix, an underscore and 16 random characters.
func New(prefix string) string {
	var b [10]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error (Go 1.24)
	return prefix + "_" + encoding.EncodeToString(b[:])
}
