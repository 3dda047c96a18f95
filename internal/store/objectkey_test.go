package store

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckObjectKey(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"checkpoint", "log/tile/8/0/000", "log/tile/8/0/x001/234.p/5", "log/tile/entries/000", "A-Z_a.z-0", strings.Repeat("a", 128)} {
		if err := CheckObjectKey(k); err != nil {
			t.Errorf("CheckObjectKey(%q): %v", k, err)
		}
	}
	for _, k := range []string{"", "/a", "a/", "a//b", ".", "..", "a/../b", "a/./b", ".a", "a/.b", "a b", "a\\b", "a:b", "a\x00", "é", strings.Repeat("a", 129), strings.Repeat("a/", 256) + "a"} {
		if err := CheckObjectKey(k); err == nil {
			t.Errorf("CheckObjectKey(%q) accepted it", k)
		}
	}
}

// FuzzCheckObjectKey: a key that passes stays inside its folder when
// joined to one, and inside its prefix as a bucket key.
func FuzzCheckObjectKey(f *testing.F) {
	for _, k := range []string{"log/tile/8/0/000", "../x", "a/..", "a/b/../../..", ".tmp-1", "a//b"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if CheckObjectKey(key) != nil {
			return
		}
		root := "/srv/objects"
		p := filepath.Join(root, filepath.FromSlash(key))
		if !strings.HasPrefix(p, root+"/") || filepath.Clean(p) != p || p != root+"/"+key {
			t.Errorf("key %q escapes or changes under a folder: %s", key, p)
		}
		if len(key) > MaxObjectKey || strings.HasPrefix(key, "/") || strings.Contains(key, "..") && strings.Contains("/"+key+"/", "/../") {
			t.Errorf("key %q passed but should not", key)
		}
	})
}
