package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/manifest"
)

// callState is the state of one call, reached by host functions through
// the call's context. Only the guest's goroutine touches it while the call
// runs; Call reads it after.
type callState struct {
	p      *Plugin
	export string
	input  []byte
	cancel context.CancelCauseFunc

	output []byte
	errMsg string
	result []byte // the last variable-length result, for result_read

	hostCalls   []HostCall
	denied      int
	firstDenial string
	logs        []LogLine
	logsDropped int

	stdout, stderr *capWriter
	breach         *CallError

	// leases are the secrets handed to this call (SecretsPerCall).
	leases *leaseSet

	// done is closed when the call's context ends (a sleeping guest
	// wakes on it); wasiState is set when the call used a WASI function
	// that changes the instance's descriptors (see wasiState).
	done      <-chan struct{}
	wasiState bool
	// stopped is set when the interrupt checks stopped the guest because
	// the context ended (see interrupt.go).
	stopped bool
}

type callStateKey struct{}

// breachWith records the first limit breach; it decides the call's result.
func (st *callState) breachWith(kind ErrorKind, msg string) {
	if st.breach == nil {
		st.breach = st.p.callErr(st.export, kind, msg, nil)
	}
}

// abort ends the call with a breach: wazero recovers the panic and returns
// it from the export's Call, and run reports st.breach.
func (st *callState) abort(kind ErrorKind, msg string) {
	st.breachWith(kind, msg)
	panic(errAbort)
}

// Limits on what a plugin hands to a host function.
const (
	maxErrorBytes   = 64 << 10
	maxRequestBytes = 1 << 20 // data requests
	maxTargetBytes  = 256     // of a target recorded in Result.HostCalls
)

// read copies n bytes at ptr out of the guest's memory. Out-of-bounds
// arguments end the call as a trap, as a bad pointer would in the guest.
func read(mod api.Module, ptr, n uint32) []byte {
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		panic(fmt.Errorf("host function argument (%d, %d) is outside the plugin's memory", ptr, n))
	}
	return append([]byte(nil), b...)
}

func write(mod api.Module, ptr uint32, b []byte) {
	if !mod.Memory().Write(ptr, b) {
		panic(fmt.Errorf("host function result at %d (%d bytes) does not fit the plugin's memory", ptr, len(b)))
	}
}

func stateOf(ctx context.Context) *callState {
	st, _ := ctx.Value(callStateKey{}).(*callState)
	if st == nil {
		// Only reachable if a module is instantiated outside Call.
		panic(errors.New("host function called outside a plugin call"))
	}
	return st
}

// hostFunc is a host function's body.
type hostFunc func(ctx context.Context, st *callState, mod api.Module, stack []uint64)

// linkHostModule instantiates the gatehouse_v1 module with the calling
// convention and only the capability functions the plugin was granted.
func (p *Plugin) linkHostModule(ctx context.Context) error {
	impls := map[string]hostFunc{
		"input_size":  fnInputSize,
		"input_read":  fnInputRead,
		"output_set":  fnOutputSet,
		"error_set":   fnErrorSet,
		"result_read": fnResultRead,
		"result_size": fnResultSize,
		"log":         fnLog,
		"kv_get":      capability("kv_get", fnKVGet),
		"kv_set":      capability("kv_set", fnKVSet),
		"kv_delete":   capability("kv_delete", fnKVDelete),
		"http_fetch":  capability("http_fetch", fnHTTPFetch),
		"fs_read":     capability("fs_read", fnFSRead),
		"secret_get":  capability("secret_get", fnSecretGet),
		"data_read":   capability("data_read", fnData(false)),
		"data_write":  capability("data_write", fnData(true)),
	}
	b := p.wrt.NewHostModuleBuilder(hostapi.Module)
	for _, f := range hostapi.Functions {
		if !manifest.Grants(p.grants, f.Permission) || !p.rt.cfg.HostAPI.Offers(f) {
			continue // not granted, or not in the host API this host offers
		}
		impl, ok := impls[f.Name]
		if !ok {
			return fmt.Errorf("host function %s has no implementation", f.Name)
		}
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
				impl(ctx, stateOf(ctx), mod, stack)
			}), valTypes(f.Params), valTypes(f.Results)).
			WithName(f.Name).
			Export(f.Name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// capResult is what a capability function did: the status (or length) it
// returns, the target it touched, and the result buffer.
type capResult struct {
	status hostapi.Status
	target string
	result []byte
}

// capability wraps a capability host function: it enforces the host-call
// budget, records the call, counts denials, and hands over the result
// buffer. fn returns the status; a non-negative status is replaced by the
// result's length.
func capability(name string, fn func(ctx context.Context, st *callState, mod api.Module, stack []uint64) capResult) hostFunc {
	hf, ok := hostapi.Lookup(name)
	if !ok || len(hf.Results) != 1 {
		panic("sandbox: " + name + " is not a capability function of the host API")
	}
	returnsI64 := hf.Results[0] == hostapi.I64
	return func(ctx context.Context, st *callState, mod api.Module, stack []uint64) {
		if len(st.hostCalls) >= st.p.limits.HostCalls {
			st.abort(KindThrottled, fmt.Sprintf("the plugin made more than %d host calls in one call", st.p.limits.HostCalls))
		}
		r := fn(ctx, st, mod, stack)
		target := string(st.redact([]byte(r.target)))
		if len(target) > maxTargetBytes {
			target = truncateUTF8(target, maxTargetBytes) + "…"
		}
		st.hostCalls = append(st.hostCalls, HostCall{Function: name, Target: target, Status: min(r.status, 0)})
		if r.status == hostapi.StatusDenied {
			st.denied++
			if st.firstDenial == "" {
				st.firstDenial = name + " " + target
			}
			st.p.rt.metrics.denials.WithLabelValues(st.p.ref.ID, st.p.ref.Version, name).Inc()
			st.p.log.LogAttrs(ctx, slog.LevelWarn, "plugin host call denied",
				slog.String("export", st.export), slog.String("function", name), slog.String("target", target))
		}
		ret := int64(r.status)
		if r.status >= 0 {
			st.result = r.result
			ret = int64(len(r.result))
		} else if r.status == hostapi.StatusFailed {
			st.result = r.result // the failure's message
		} else {
			st.result = nil
		}
		if returnsI64 {
			stack[0] = api.EncodeI64(ret)
		} else {
			stack[0] = api.EncodeI32(int32(min(ret, 0)))
		}
	}
}

func truncateUTF8(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// redact replaces the secret values handed to this call, or held by its
// plugin, in b: what a plugin logs, reports as its error, writes to stdout
// or stderr, or names as a host call's target never carries them out.
func (st *callState) redact(b []byte) []byte {
	return st.p.leases.redact(st.leases.redact(b))
}

// scrub redacts the secrets from the call's captured stdout and stderr.
func (st *callState) scrub() {
	for _, w := range []*capWriter{st.stdout, st.stderr} {
		if b := st.redact(w.buf.Bytes()); !bytes.Equal(b, w.buf.Bytes()) {
			w.buf.Reset()
			w.buf.Write(b)
		}
	}
}

func fnInputSize(_ context.Context, st *callState, _ api.Module, stack []uint64) {
	stack[0] = api.EncodeI32(int32(len(st.input)))
}

func fnInputRead(_ context.Context, st *callState, mod api.Module, stack []uint64) {
	write(mod, api.DecodeU32(stack[0]), st.input)
}

func fnOutputSet(_ context.Context, st *callState, mod api.Module, stack []uint64) {
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	if int64(n) > int64(st.p.limits.OutputBytes) {
		st.abort(KindOutputTooLarge, fmt.Sprintf("the plugin set an output of %d bytes; the limit is %d", n, st.p.limits.OutputBytes))
	}
	st.output = read(mod, ptr, n)
}

func fnErrorSet(_ context.Context, st *callState, mod api.Module, stack []uint64) {
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	n = min(n, maxErrorBytes)
	st.errMsg = string(st.redact(read(mod, ptr, n)))
}

func fnResultRead(_ context.Context, st *callState, mod api.Module, stack []uint64) {
	write(mod, api.DecodeU32(stack[0]), st.result)
}

func fnResultSize(_ context.Context, st *callState, _ api.Module, stack []uint64) {
	stack[0] = api.EncodeI32(int32(len(st.result)))
}

func fnLog(ctx context.Context, st *callState, mod api.Module, stack []uint64) {
	level, ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
	cfg := &st.p.rt.cfg
	if len(st.logs) >= cfg.MaxLogLines {
		st.logsDropped++
		return
	}
	truncated := int64(n) > int64(cfg.MaxLogLineBytes)
	if truncated {
		n = uint32(cfg.MaxLogLineBytes)
	}
	msg := string(st.redact(read(mod, ptr, n)))
	lvl := slog.LevelInfo
	switch level {
	case 0:
		lvl = slog.LevelDebug
	case 2:
		lvl = slog.LevelWarn
	case 3:
		lvl = slog.LevelError
	}
	st.logs = append(st.logs, LogLine{Level: int(min(level, 3)), Message: msg, Truncated: truncated})
	st.p.log.LogAttrs(ctx, lvl, "plugin log", slog.String("export", st.export), slog.String("message", msg))
}

// readArg reads a request argument of at most max bytes.
func readArg(mod api.Module, ptr, n uint32, max int) ([]byte, bool) {
	if int64(n) > int64(max) {
		return nil, false
	}
	return read(mod, ptr, n), true
}

func failed(target string, err error) capResult {
	return capResult{status: hostapi.StatusFailed, target: target, result: []byte(err.Error())}
}

func fnKVGet(ctx context.Context, st *callState, mod api.Module, stack []uint64) capResult {
	key, ok := readArg(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), MaxKVKeyBytes)
	if !ok {
		return capResult{status: hostapi.StatusTooLarge}
	}
	v, err := st.p.rt.cfg.KV.Get(ctx, st.p.ref.ID, string(key))
	switch {
	case errors.Is(err, ErrNotFound):
		return capResult{status: hostapi.StatusNotFound, target: string(key)}
	case err != nil:
		return failed(string(key), errors.New("the key-value store failed"))
	}
	return capResult{target: string(key), result: v}
}

func fnKVSet(ctx context.Context, st *callState, mod api.Module, stack []uint64) capResult {
	key, ok := readArg(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), MaxKVKeyBytes)
	if !ok {
		return capResult{status: hostapi.StatusTooLarge}
	}
	val, ok := readArg(mod, api.DecodeU32(stack[2]), api.DecodeU32(stack[3]), st.p.rt.cfg.MaxKVValueBytes)
	if !ok {
		return capResult{status: hostapi.StatusTooLarge, target: string(key)}
	}
	if err := st.p.kvSet(ctx, string(key), val); err != nil {
		if errors.Is(err, errRetentionNone) || errors.Is(err, errKVUntagged) {
			// The plugin's kit may not show it the message; the host's
			// operator needs it either way.
			st.p.log.LogAttrs(ctx, slog.LevelWarn, "plugin value not stored", slog.String("key", string(key)), slog.String("reason", err.Error()))
			return failed(string(key), err)
		}
		if errors.Is(err, ErrKVFull) {
			return failed(string(key), err)
		}
		return failed(string(key), errors.New("the key-value store failed"))
	}
	return capResult{target: string(key)}
}

// errKVUntagged refuses a kv_set the host's KV could not expire.
var errKVUntagged = errors.New("this host's key-value store cannot expire values, and the plugin's manifest declares a data retention; the host must use a store that implements sandbox.TaggedKV")

// kvSet stores a value, tagged with the manifest's data categories and
// expiring at the end of its retention when the manifest declares one.
func (p *Plugin) kvSet(ctx context.Context, key string, val []byte) error {
	kv := p.rt.cfg.KV
	if p.retention == nil {
		return kv.Set(ctx, p.ref.ID, key, val)
	}
	if p.retention.none {
		return errRetentionNone
	}
	tkv, ok := kv.(TaggedKV)
	if !ok {
		return errKVUntagged
	}
	tag := KVTag{Categories: p.manifest.Data.Categories, Expires: p.retention.after(p.rt.cfg.Now())}
	return tkv.SetTagged(ctx, p.ref.ID, key, val, tag)
}

func fnKVDelete(ctx context.Context, st *callState, mod api.Module, stack []uint64) capResult {
	key, ok := readArg(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), MaxKVKeyBytes)
	if !ok {
		return capResult{status: hostapi.StatusTooLarge}
	}
	if err := st.p.rt.cfg.KV.Delete(ctx, st.p.ref.ID, string(key)); err != nil {
		return failed(string(key), errors.New("the key-value store failed"))
	}
	return capResult{target: string(key)}
}

func fnHTTPFetch(ctx context.Context, st *callState, mod api.Module, stack []uint64) capResult {
	raw, ok := readArg(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), maxFetchRequestBytes)
	if !ok {
		return capResult{status: hostapi.StatusTooLarge}
	}
	out := st.p.fetch.do(ctx, raw)
	return capResult{status: out.status, target: out.target, result: out.body}
}

func fnFSRead(_ context.Context, st *callState, mod api.Module, stack []uint64) capResult {
	raw, ok := readArg(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), maxPathBytes)
	if !ok {
		return capResult{status: hostapi.StatusTooLarge}
	}
	status, b := st.p.mounts.read(string(raw), st.p.rt.cfg.MaxFileBytes)
	return capResult{status: status, target: string(raw), result: b}
}

func fnSecretGet(ctx context.Context, st *callState, mod api.Module, stack []uint64) capResult {
	raw, ok := readArg(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), 64)
	if !ok {
		return capResult{status: hostapi.StatusTooLarge}
	}
	name := string(raw)
	if !st.p.secrets[name] {
		return capResult{status: hostapi.StatusDenied, target: name}
	}
	prov := st.p.rt.cfg.Secrets
	if prov == nil {
		return capResult{status: hostapi.StatusNotFound, target: name}
	}
	set := st.leases
	if st.p.lifetime == SecretsPerPlugin {
		set = st.p.leases
	}
	sec, err := set.get(ctx, prov, st.p.ref, name, st.p.rt.cfg.Now(), st.p.log)
	switch {
	case errors.Is(err, ErrNotFound):
		return capResult{status: hostapi.StatusNotFound, target: name}
	case err != nil:
		// The provider's error may name paths or other secrets: keep it
		// in the host's log, not the plugin's hands.
		st.p.log.LogAttrs(ctx, slog.LevelError, "secret provider failed", slog.String("secret", name), slog.String("error", err.Error()))
		return failed(name, errors.New("the secret provider failed"))
	}
	return capResult{target: name, result: sec.Value}
}

func fnData(write bool) func(ctx context.Context, st *callState, mod api.Module, stack []uint64) capResult {
	return func(ctx context.Context, st *callState, mod api.Module, stack []uint64) capResult {
		raw, ok := readArg(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), maxRequestBytes)
		if !ok {
			return capResult{status: hostapi.StatusTooLarge}
		}
		var req hostapi.DataRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			return capResult{status: hostapi.StatusInvalid, result: []byte("the data request is not valid JSON")}
		}
		granted := st.p.dataR
		if write {
			granted = st.p.dataW
		}
		if !granted[req.Scope] {
			return capResult{status: hostapi.StatusDenied, target: req.Scope}
		}
		if st.p.data == nil {
			return failed(req.Scope, errors.New("this host serves no data scopes"))
		}
		b, err := st.p.data(ctx, st.p.ref, req, write)
		switch {
		case errors.Is(err, ErrNotFound):
			return capResult{status: hostapi.StatusNotFound, target: req.Scope}
		case err != nil:
			return failed(req.Scope, err)
		}
		// A data result is bounded like a fetched body.
		if len(b) > st.p.rt.cfg.MaxFetchResponseBytes {
			return capResult{status: hostapi.StatusTooLarge, target: req.Scope}
		}
		return capResult{target: req.Scope, result: b}
	}
}
