package hostapi

import "testing"

func TestPermissionExample(t *testing.T) {
	t.Parallel()
	for kind, want := range map[string]string{
		PermNet:       "net:ORIGIN",
		PermFSRead:    "fs:read:/PATH",
		PermKVRead:    "kv:read",
		PermKVWrite:   "kv:write",
		PermSecret:    "secret:NAME",
		PermDataRead:  "data:read:SCOPE",
		PermDataWrite: "data:write:SCOPE",
	} {
		if got := PermissionExample(kind); got != want {
			t.Errorf("PermissionExample(%q) = %q, want %q", kind, got, want)
		}
	}
}
