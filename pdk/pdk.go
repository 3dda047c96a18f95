// Package pdk is the plugin kit for Go authors. A plugin is a WASI reactor
// built with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared; each export the
// host may call is a function marked //go:wasmexport that returns an int32
// status, usually through Handle:
//
//	//go:wasmexport greet
//	func greet() int32 {
//		return pdk.Handle(func(in Request) (Response, error) {
//			return Response{Greeting: "hello " + in.Name}, nil
//		})
//	}
//
//	func main() {}
//
// The host functions (key-value store, HTTP fetch, mounts, secrets, data
// scopes) are wrapped with typed functions; each needs its permission in the
// manifest, or the host refuses to load the plugin. See package hostapi for
// the calling convention.
package pdk

import (
	"encoding/json"
	"errors"
	"fmt"

	"gatehouse.dev/gatehouse/hostapi"
)

// Error is a refusal or failure reported by the host.
type Error struct {
	Op     string
	Status hostapi.Status
	Msg    string
}

func (e *Error) Error() string {
	if e.Msg != "" {
		return fmt.Sprintf("%s: %s: %s", e.Op, e.Status, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Op, e.Status)
}

// ErrNotFound matches (with errors.Is) a host error for a missing key,
// file, secret or record.
var ErrNotFound = errors.New("not found")

// ErrDenied matches (with errors.Is) a host refusal for lack of permission.
var ErrDenied = errors.New("denied")

// Is lets errors.Is(err, ErrNotFound) and errors.Is(err, ErrDenied) work.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == hostapi.StatusNotFound
	case ErrDenied:
		return e.Status == hostapi.StatusDenied
	}
	return false
}

// Input returns the call's input bytes.
func Input() []byte {
	n := inputSize()
	if n <= 0 {
		return nil
	}
	buf := make([]byte, n)
	inputRead(ptr(buf))
	return buf
}

// InputJSON decodes the call's input into v.
func InputJSON(v any) error {
	in := Input()
	if len(in) == 0 {
		return errors.New("empty input")
	}
	if err := json.Unmarshal(in, v); err != nil {
		return fmt.Errorf("decoding input: %w", err)
	}
	return nil
}

// Output sets the call's output.
func Output(b []byte) {
	outputSet(ptr(b), uint32(len(b)))
}

// OutputJSON encodes v as the call's output.
func OutputJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding output: %w", err)
	}
	Output(b)
	return nil
}

// SetError reports err as the call's error.
func SetError(err error) {
	msg := []byte(err.Error())
	errorSet(ptr(msg), uint32(len(msg)))
}

// Handle decodes the input as I, calls fn, encodes its result as the output
// and returns the status the export must return. Use it as the body of
// every export.
func Handle[I, O any](fn func(I) (O, error)) int32 {
	var in I
	if err := InputJSON(&in); err != nil {
		SetError(err)
		return 1
	}
	out, err := fn(in)
	if err != nil {
		SetError(err)
		return 1
	}
	if err := OutputJSON(out); err != nil {
		SetError(err)
		return 1
	}
	return 0
}

// Log levels.
const (
	LevelDebug = 0
	LevelInfo  = 1
	LevelWarn  = 2
	LevelError = 3
)

// Log writes a message to the host's log for this plugin.
func Log(level int, msg string) {
	b := []byte(msg)
	logMsg(uint32(level), ptr(b), uint32(len(b)))
}

// KVGet reads key from the plugin's own key-value store (needs kv:read).
func KVGet(key string) ([]byte, error) {
	k := []byte(key)
	return result("kv_get", kvGet(ptr(k), uint32(len(k))))
}

// KVSet writes key (needs kv:write).
func KVSet(key string, value []byte) error {
	k := []byte(key)
	return status("kv_set", kvSet(ptr(k), uint32(len(k)), ptr(value), uint32(len(value))))
}

// KVDelete removes key (needs kv:write).
func KVDelete(key string) error {
	k := []byte(key)
	return status("kv_delete", kvDelete(ptr(k), uint32(len(k))))
}

// Fetch performs an HTTP request to an origin granted by a net: permission.
func Fetch(req hostapi.FetchRequest) (hostapi.FetchResponse, error) {
	var resp hostapi.FetchResponse
	b, err := json.Marshal(req)
	if err != nil {
		return resp, err
	}
	out, err := result("http_fetch", httpFetch(ptr(b), uint32(len(b))))
	if err != nil {
		return resp, err
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return resp, fmt.Errorf("http_fetch: decoding response: %w", err)
	}
	return resp, nil
}

// ReadFile reads a file under a mount granted by an fs:read: permission.
// os.ReadFile works too, through WASI's read-only preopens.
func ReadFile(path string) ([]byte, error) {
	p := []byte(path)
	return result("fs_read", fsRead(ptr(p), uint32(len(p))))
}

// Secret reads a secret granted by a secret: permission.
func Secret(name string) (string, error) {
	n := []byte(name)
	b, err := result("secret_get", secretGet(ptr(n), uint32(len(n))))
	return string(b), err
}

// DataRead asks the host for data in a scope granted by data:read:SCOPE.
func DataRead(req hostapi.DataRequest) ([]byte, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	return result("data_read", dataRead(ptr(b), uint32(len(b))))
}

// DataWrite hands data to the host in a scope granted by data:write:SCOPE.
func DataWrite(req hostapi.DataRequest) ([]byte, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	return result("data_write", dataWrite(ptr(b), uint32(len(b))))
}

// result turns a length-or-status into the bytes of the result buffer.
func result(op string, n int64) ([]byte, error) {
	if n < 0 {
		e := &Error{Op: op, Status: hostapi.Status(n)}
		if e.Status == hostapi.StatusFailed {
			// The host leaves the failure's message in the result buffer.
			if m := readResult(int64(lastResultSize())); m != nil {
				e.Msg = string(m)
			}
		}
		return nil, e
	}
	return readResult(n), nil
}

func readResult(n int64) []byte {
	if n <= 0 {
		return []byte{}
	}
	buf := make([]byte, n)
	resultRead(ptr(buf))
	return buf
}

func status(op string, s int32) error {
	if s < 0 {
		return &Error{Op: op, Status: hostapi.Status(s)}
	}
	return nil
}
