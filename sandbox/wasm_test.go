package sandbox

import (
	"context"
	"strings"
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
func wasmModule(imports ...wasmImport) []byte {
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
	mod = append(mod, section(7, append(append(wasmName("run"), 0x00), uleb(nfuncs)...))...)
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
		{"sock_accept", wasmImport{module: hostapi.WASIModule, name: "sock_accept", params: []byte{0x7f, 0x7f, 0x7f}, results: i32}, []string{"sock_accept", "socket"}},
		{"sock_open", wasmImport{module: hostapi.WASIModule, name: "sock_open", params: []byte{0x7f, 0x7f, 0x7f}, results: i32}, []string{"sock_open", "socket"}},
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
