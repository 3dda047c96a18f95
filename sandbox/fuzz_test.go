package sandbox

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/manifest"
)

// recordingTransport fails every request, recording its origin.
type recordingTransport struct{ origins []string }

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	o, err := originOf(req.URL)
	if err != nil {
		o = "unparseable:" + req.URL.String()
	}
	r.origins = append(r.origins, o)
	return nil, errors.New("recorded")
}

// FuzzFetchRequest checks that no fetch request a plugin can write reaches
// the network for an origin it was not granted.
func FuzzFetchRequest(f *testing.F) {
	for _, s := range []string{
		`{"url":"https://api.example.com/x"}`,
		`{"url":"https://API.example.com:443/x","method":"post"}`,
		`{"url":"https://api.example.com@evil.example/"}`,
		`{"url":"https://evil.example/?https://api.example.com"}`,
		`{"url":"//api.example.com/x"}`,
		`{"url":"https://api.example.com.evil.example/"}`,
		`{"url":"http://api.example.com/"}`,
		`{"url":"https://[::1]/"}`,
		`{"url":"https://api.example.com\\@evil.example/"}`,
	} {
		f.Add([]byte(s))
	}
	cfg := Config{}.withDefaults()
	f.Fuzz(func(t *testing.T, raw []byte) {
		rt := &recordingTransport{}
		fe := newFetcher([]string{"https://api.example.com"}, rt, &cfg)
		out := fe.do(context.Background(), raw)
		for _, o := range rt.origins {
			if o != "https://api.example.com" {
				t.Fatalf("request %s reached the transport for origin %s", raw, o)
			}
		}
		if out.status == hostapi.StatusOK {
			t.Fatalf("a failing transport produced success")
		}
	})
}

// FuzzLoadModule checks that Load refuses arbitrary bytes cleanly.
func FuzzLoadModule(f *testing.F) {
	f.Add(wasmModule())
	f.Add(wasmModule(wasmImport{module: hostapi.WASIModule, name: "sock_accept", params: []byte{0x7f, 0x7f, 0x7f}, results: []byte{0x7f}}))
	f.Add(wasmModule(wasmImport{module: hostapi.Module, name: "kv_get", params: []byte{0x7f, 0x7f}, results: []byte{0x7e}}))
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	env := newEnv(f, func(c *Config) { c.CacheDir = "" })
	f.Fuzz(func(t *testing.T, mod []byte) {
		m := testManifest("fuzz/load", []string{"run"}, "kv:read")
		p, err := env.rt.Load(context.Background(), LoadRequest{Manifest: m, Module: mod})
		if err != nil {
			if KindOf(err) != KindLoadFailed {
				t.Fatalf("Load failed with %v, not a load_failed CallError", err)
			}
			return
		}
		defer p.Close(context.Background())
		for _, g := range p.Grants() {
			if g != (manifest.Permission{Kind: "kv:read"}) {
				t.Fatalf("unexpected grant %v", g)
			}
		}
	})
}
