package sandbox

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"gatehouse.dev/gatehouse/hostapi"
)

// The Go toolchain cannot produce a module that imports WASI sockets (its
// wasip1 net package opens none), so these tests write WebAssembly binaries
// by hand: a "run" export () -> i32 returning 0, plus the imports under
// test.

type wasmImport struct {
	module, name    string
	params, results []byte // value types: 0x7f i32, 0x7e i64
	memory          bool   // import a memory instead of a function
}

// sleb encodes a non-negative v as a signed LEB128 (an i32.const
// immediate).
func sleb(v int32) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v == 0 && b&0x40 == 0 {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

func uleb(v uint32) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			out = append(out, b|0x80)
			continue
		}
		return append(out, b)
	}
}

func wasmName(s string) []byte { return append(uleb(uint32(len(s))), s...) }

func section(id byte, items ...[]byte) []byte {
	body := uleb(uint32(len(items)))
	for _, it := range items {
		body = append(body, it...)
	}
	return append(append([]byte{id}, uleb(uint32(len(body)))...), body...)
}

func functype(params, results []byte) []byte {
	b := append([]byte{0x60}, uleb(uint32(len(params)))...)
	b = append(b, params...)
	b = append(b, uleb(uint32(len(results)))...)
	return append(b, results...)
}

// wasmModule returns a module importing imports and exporting run.
func wasmModule(imports ...wasmImport) []byte { return wasmModuleExporting("run", imports...) }

// wasmModuleExporting is wasmModule with the export called name.
func wasmModuleExporting(name string, imports ...wasmImport) []byte {
	types := [][]byte{functype(nil, []byte{0x7f})}
	var imps [][]byte
	nfuncs := uint32(0)
	for _, im := range imports {
		b := append(wasmName(im.module), wasmName(im.name)...)
		if im.memory {
			b = append(b, 0x02, 0x00, 0x01) // memory, limits min 1
		} else {
			types = append(types, functype(im.params, im.results))
			b = append(b, 0x00)
			b = append(b, uleb(uint32(len(types)-1))...)
			nfuncs++
		}
		imps = append(imps, b)
	}
	mod := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	mod = append(mod, section(1, types...)...)
	if len(imps) > 0 {
		mod = append(mod, section(2, imps...)...)
	}
	mod = append(mod, section(3, []byte{0x00})...)
	mod = append(mod, section(7, append(append(wasmName(name), 0x00), uleb(nfuncs)...))...)
	body := []byte{0x00, 0x41, 0x00, 0x0b} // no locals; i32.const 0; end
	mod = append(mod, section(10, append(uleb(uint32(len(body))), body...))...)
	return mod
}

func TestHandWrittenModuleRuns(t *testing.T) {
	env := newEnv(t, nil)
	p := env.load(t, LoadRequest{Manifest: testManifest("acme/tiny", []string{"run"}), Module: wasmModule()})
	if _, err := p.Call(context.Background(), "run", nil); err != nil {
		t.Fatal(err)
	}
}

func TestHostileSocketImports(t *testing.T) {
	i32 := []byte{0x7f}
	cases := []struct {
		name string
		imp  wasmImport
		want []string
	}{
		{"sock_open", wasmImport{module: hostapi.WASIModule, name: "sock_open", params: []byte{0x7f, 0x7f, 0x7f}, results: i32}, []string{"sock_open", "socket"}},
		{"sock_connect", wasmImport{module: hostapi.WASIModule, name: "sock_connect", params: []byte{0x7f, 0x7f, 0x7f}, results: i32}, []string{"sock_connect", "socket"}},
		{"sock_listen", wasmImport{module: hostapi.WASIModule, name: "sock_listen", params: []byte{0x7f, 0x7f}, results: i32}, []string{"sock_listen", "socket"}},
		{"unlisted socket call", wasmImport{module: hostapi.WASIModule, name: "sock_addr_resolve", params: []byte{0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f}, results: i32}, []string{"sock_addr_resolve", "socket"}},
		{"other WASI", wasmImport{module: hostapi.WASIModule, name: "thread_spawn", params: i32, results: i32}, []string{"thread_spawn"}},
		{"unknown module", wasmImport{module: "env", name: "socket", params: []byte{0x7f, 0x7f, 0x7f}, results: i32}, []string{"env.socket"}},
		{"unknown host function", wasmImport{module: hostapi.Module, name: "exec", results: i32}, []string{"exec", "does not have"}},
		{"wrong signature", wasmImport{module: hostapi.Module, name: "input_size", results: []byte{0x7e}}, []string{"input_size", "signature"}},
		{"imported memory", wasmImport{module: "env", name: "memory", memory: true}, []string{"memory"}},
	}
	env := newEnv(t, nil)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := testManifest("evil/wasm", []string{"run"})
			_, err := env.rt.Load(context.Background(), LoadRequest{Manifest: m, Module: wasmModule(tc.imp)})
			ce := wantKind(t, err, KindLoadFailed)
			for _, w := range tc.want {
				if !strings.Contains(ce.Msg, w) {
					t.Errorf("load error %q does not mention %q", ce.Msg, w)
				}
			}
			if got := env.metric(t, "gatehouse_plugin_loads_total", map[string]string{"plugin": m.ID, "result": "failed"}); got != float64(i+1) {
				t.Errorf("failed loads metric = %v, want %d", got, i+1)
			}
		})
	}
	env.stillServes(t)
}

// sockAcceptModule imports sock_accept and output_set and exports run,
// which calls sock_accept(fd, 0, &newfd) for fd 0 to maxFD and hands back
// one byte per fd: the WASI errno it got.
func sockAcceptModule(maxFD byte) []byte {
	i32 := byte(0x7f)
	types := [][]byte{
		functype(nil, []byte{i32}),                   // run
		functype([]byte{i32, i32, i32}, []byte{i32}), // sock_accept
		functype([]byte{i32, i32}, nil),              // output_set
	}
	imps := [][]byte{
		append(append(wasmName(hostapi.WASIModule), wasmName("sock_accept")...), 0x00, 1),
		append(append(wasmName(hostapi.Module), wasmName("output_set")...), 0x00, 2),
	}
	var body []byte
	body = append(body, 0x00) // no locals
	for fd := byte(0); fd <= maxFD; fd++ {
		body = append(body, 0x41, fd)                                     // i32.const fd: where the errno goes
		body = append(body, 0x41, fd, 0x41, 0x00, 0x41, 0x20, 0x10, 0x00) // sock_accept(fd, 0, 32)
		body = append(body, 0x3a, 0x00, 0x00)                             // i32.store8
	}
	body = append(body, 0x41, 0x00, 0x41, maxFD+1, 0x10, 0x01) // output_set(0, maxFD+1)
	body = append(body, 0x41, 0x00, 0x0b)                      // return 0
	mod := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	mod = append(mod, section(1, types...)...)
	mod = append(mod, section(2, imps...)...)
	mod = append(mod, section(3, []byte{0x00})...)
	mod = append(mod, section(5, []byte{0x00, 0x01})...) // one memory, min 1 page
	mod = append(mod, section(7, append(append(wasmName("run"), 0x00), 2))...)
	mod = append(mod, section(10, append(uleb(uint32(len(body))), body...))...)
	return mod
}

// TestInertSocketImportsLoad: a module importing sock_accept (as every Go
// plugin that uses text/template does) loads, and calling it on any
// descriptor it has, stdio and a granted mount included, fails with EBADF
// and reaches nothing.
func TestInertSocketImportsLoad(t *testing.T) {
	// A listener on the host that a working accept could only ever reach
	// through a descriptor the host handed over; it must see nothing.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()

	env := newEnv(t, nil)
	m := testManifest("evil/accept", []string{"run"}, "fs:read:/data")
	p := env.load(t, LoadRequest{Manifest: m, Module: sockAcceptModule(5), Mounts: map[string]string{"/data": t.TempDir()}})
	res, err := p.Call(context.Background(), "run", nil)
	if err != nil {
		t.Fatalf("calling sock_accept: %v", err)
	}
	const wasiEBADF = 8
	if len(res.Output) != 6 {
		t.Fatalf("output = %v, want one errno for each of fds 0 to 5", res.Output)
	}
	for fd, errno := range res.Output {
		if errno != wasiEBADF {
			t.Errorf("sock_accept(%d) = errno %d, want EBADF (%d)", fd, errno, wasiEBADF)
		}
	}
	if len(res.HostCalls) != 0 {
		t.Errorf("host calls = %+v, want none", res.HostCalls)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("the host listener saw %d connections", n)
	}
	if got := env.metric(t, "gatehouse_plugin_loads_total", map[string]string{"plugin": m.ID, "result": "ok"}); got != 1 {
		t.Errorf("successful loads metric = %v, want 1", got)
	}
	env.stillServes(t)
}
