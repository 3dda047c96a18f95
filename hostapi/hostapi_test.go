package hostapi

import "testing"

func TestClassifyWASI(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]WASIClass{
		"fd_write":         WASILinked,
		"path_open":        WASILinked,
		"sock_accept":      WASIInertSocket,
		"sock_shutdown":    WASIInertSocket,
		"sock_open":        WASISocket,
		"sock_connect":     WASISocket,
		"sock_getaddrinfo": WASISocket, // an extension's name: still a socket
		"proc_raise":       WASIForbidden,
		"":                 WASIForbidden,
	} {
		if got := ClassifyWASI(name); got != want {
			t.Errorf("ClassifyWASI(%q) = %d, want %d", name, got, want)
		}
	}
	for name := range WASI {
		if WASISocketsInert[name] || WASISockets[name] {
			t.Errorf("%s is both linkable and a socket call", name)
		}
	}
}

func TestFunctionsAreUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, f := range Functions {
		if seen[f.Name] {
			t.Errorf("%s is listed twice", f.Name)
		}
		seen[f.Name] = true
		if got, ok := Lookup(f.Name); !ok || got.Name != f.Name {
			t.Errorf("Lookup(%s) = %v, %v", f.Name, got, ok)
		}
	}
}
