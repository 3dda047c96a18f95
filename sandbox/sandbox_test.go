package sandbox

import (
	"context"
	"encoding/json"
	"testing"
)

func TestEchoAndIsolation(t *testing.T) {
	env := newEnv(t, nil)
	p := env.load(t, LoadRequest{
		Manifest: testManifest("acme/echo", []string{"echo", "leak", "log", "fail"}),
		Module:   buildPlugin(t, "echo"),
	})
	ctx := context.Background()
	res, err := p.Call(ctx, "echo", []byte(`{"message":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Output) != `{"message":"hi"}` {
		t.Errorf("output = %s", res.Output)
	}
	if res.MemoryBytes == 0 || res.Duration <= 0 {
		t.Errorf("result lacks measurements: %+v", res)
	}
	// Per-call isolation: the global set by one call is never seen by the
	// next.
	for i := 0; i < 3; i++ {
		res, err := p.Call(ctx, "leak", []byte(`{"message":"secret-from-call"}`))
		if err != nil {
			t.Fatal(err)
		}
		var out struct{ Message string }
		json.Unmarshal(res.Output, &out)
		if out.Message != "" {
			t.Fatalf("call %d saw the previous call's memory: %q", i, out.Message)
		}
	}
	if got := env.calls(t, p, ResultOK); got != 4 {
		t.Errorf("ok calls metric = %v, want 4", got)
	}
}
