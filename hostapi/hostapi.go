// Package hostapi is the contract between a plugin and the host that runs it:
// the name and version of the import module, every host function with its
// WebAssembly signature, and the permission kind that must be granted before
// the sandbox links it.
//
// The package has no dependencies so that the plugin kit (built for wasip1),
// the sandbox and the vetting analyzers all read one table.
//
// # Calling convention
//
// A plugin export takes no parameters and returns an i32 status: 0 for
// success, 1 for an error the plugin reported with error_set. The call's
// input is read with input_size and input_read; the output is handed over
// with output_set. All strings and byte slices cross the boundary as
// (pointer, length) pairs of i32 into the guest's linear memory.
//
// Host functions that return variable-length data (kv_get, http_fetch,
// fs_read, secret_get, data_read) keep the result in a per-call buffer and
// return its length as an i64 (or a negative Status); the guest then copies
// it with result_read into memory it allocated itself. This keeps all
// allocation on the guest's side of the boundary.
package hostapi

import "strings"

// Module is the name of the import module every host function lives in. A
// breaking change to any signature means a new module name (gatehouse_v2),
// never an edit of this one.
const Module = "gatehouse_v1"

// Version is the host API version this table describes, as a SemVer string.
// A manifest's runtime.hostApi range is checked against it at load time.
const Version = "1.0.0"

// Status is the result code of a host function. Non-negative values are
// successes (or lengths); negative values name why the host refused.
type Status int32

const (
	StatusOK Status = 0
	// StatusNotFound: the key, file, secret or record does not exist.
	StatusNotFound Status = -1
	// StatusDenied: the call needs a permission the plugin was not granted
	// for this target (an origin, mount, secret name or data scope).
	StatusDenied Status = -2
	// StatusInvalid: malformed arguments (out-of-bounds memory, bad JSON).
	StatusInvalid Status = -3
	// StatusTooLarge: a request or result exceeded its size limit.
	StatusTooLarge Status = -4
	// StatusThrottled: the plugin exceeded its host-call budget.
	StatusThrottled Status = -5
	// StatusFailed: the operation was allowed but failed (network error,
	// timeout, provider error). The error text is in the result buffer.
	StatusFailed Status = -6
)

// String returns the status's name.
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusNotFound:
		return "not_found"
	case StatusDenied:
		return "denied"
	case StatusInvalid:
		return "invalid"
	case StatusTooLarge:
		return "too_large"
	case StatusThrottled:
		return "throttled"
	case StatusFailed:
		return "failed"
	}
	if s > 0 {
		return "ok"
	}
	return "unknown"
}

// ValType is a WebAssembly value type as it appears in a function signature.
type ValType byte

const (
	I32 ValType = 0x7f
	I64 ValType = 0x7e
)

// Function describes one host function of Module.
type Function struct {
	Name    string
	Params  []ValType
	Results []ValType
	// Permission is the permission kind (see the manifest package's grammar)
	// that must be granted for the sandbox to link this function. Empty means
	// every plugin gets it (the calling convention and logging).
	Permission string
	Doc        string
}

// Permission kinds, as in manifest permissions "KIND:SCOPE".
const (
	PermNet       = "net"        // net:ORIGIN, an https origin
	PermFSRead    = "fs:read"    // fs:read:/templates
	PermKVRead    = "kv:read"    // kv:read
	PermKVWrite   = "kv:write"   // kv:write
	PermSecret    = "secret"     // secret:SLACK_TOKEN
	PermDataRead  = "data:read"  // data:read:contacts
	PermDataWrite = "data:write" // data:write:contacts
)

// PermissionExample names a permission kind as an author writes it in a
// manifest ("net:ORIGIN", "fs:read:/PATH"), for messages that tell an
// author which permission to declare. Kinds without a scope are their own
// example.
func PermissionExample(kind string) string {
	switch kind {
	case PermNet:
		return "net:ORIGIN"
	case PermFSRead:
		return "fs:read:/PATH"
	case PermSecret:
		return "secret:NAME"
	case PermDataRead:
		return "data:read:SCOPE"
	case PermDataWrite:
		return "data:write:SCOPE"
	}
	return kind
}

// Functions is the whole host API, in a stable order.
var Functions = []Function{
	// Calling convention: always linked.
	{Name: "input_size", Results: []ValType{I32}, Doc: "length of the call's input"},
	{Name: "input_read", Params: []ValType{I32}, Doc: "copy the input to ptr"},
	{Name: "output_set", Params: []ValType{I32, I32}, Doc: "set the call's output from (ptr, len)"},
	{Name: "error_set", Params: []ValType{I32, I32}, Doc: "set the call's error message from (ptr, len)"},
	{Name: "result_read", Params: []ValType{I32}, Doc: "copy the last variable-length result to ptr"},
	{Name: "result_size", Results: []ValType{I32}, Doc: "length of the last variable-length result (a failure's message after StatusFailed)"},
	{Name: "log", Params: []ValType{I32, I32, I32}, Doc: "log (level, ptr, len); level: 0 debug, 1 info, 2 warn, 3 error"},

	{Name: "kv_get", Params: []ValType{I32, I32}, Results: []ValType{I64}, Permission: PermKVRead,
		Doc: "get the value of key (ptr, len) in the plugin's own store; result length or status"},
	{Name: "kv_set", Params: []ValType{I32, I32, I32, I32}, Results: []ValType{I32}, Permission: PermKVWrite,
		Doc: "set key (ptr, len) to value (ptr, len); status"},
	{Name: "kv_delete", Params: []ValType{I32, I32}, Results: []ValType{I32}, Permission: PermKVWrite,
		Doc: "delete key (ptr, len); status"},
	{Name: "http_fetch", Params: []ValType{I32, I32}, Results: []ValType{I64}, Permission: PermNet,
		Doc: "perform the JSON FetchRequest at (ptr, len); result is a JSON FetchResponse"},
	{Name: "fs_read", Params: []ValType{I32, I32}, Results: []ValType{I64}, Permission: PermFSRead,
		Doc: "read the file at absolute path (ptr, len) under a granted mount"},
	{Name: "secret_get", Params: []ValType{I32, I32}, Results: []ValType{I64}, Permission: PermSecret,
		Doc: "read the secret named (ptr, len)"},
	{Name: "data_read", Params: []ValType{I32, I32}, Results: []ValType{I64}, Permission: PermDataRead,
		Doc: "read from a host data scope: JSON DataRequest at (ptr, len); result is JSON"},
	{Name: "data_write", Params: []ValType{I32, I32}, Results: []ValType{I64}, Permission: PermDataWrite,
		Doc: "write to a host data scope: JSON DataRequest at (ptr, len); result is JSON"},
}

// Lookup returns the host function called name, if there is one.
func Lookup(name string) (Function, bool) {
	for _, f := range Functions {
		if f.Name == name {
			return f, true
		}
	}
	return Function{}, false
}

// FetchRequest is the argument of http_fetch.
type FetchRequest struct {
	Method  string            `json:"method,omitempty"` // GET when empty
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    []byte            `json:"body,omitempty"`
}

// FetchResponse is the result of http_fetch.
type FetchResponse struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    []byte            `json:"body,omitempty"`
}

// DataRequest is the argument of data_read and data_write. The host decides
// what Op and Query mean for each scope; the sandbox only enforces that the
// scope was granted.
type DataRequest struct {
	Scope string `json:"scope"`
	Op    string `json:"op,omitempty"`
	Query []byte `json:"query,omitempty"` // raw JSON, passed to the host's callback
}

// WASI is the set of wasi_snapshot_preview1 functions a plugin may import,
// apart from the inert socket calls in WASISocketsInert. A WASI function is
// linked if and only if it is in WASI or in WASISocketsInert; everything
// else from WASI (WASISockets above all) is refused at load time and
// reported by the capabilities analyzer. The write calls are in the set
// because Go's wasip1 runtime imports them whether or not a plugin uses
// them; they fail at run time, as every preopen is a read-only mount.
var WASI = map[string]bool{
	"args_get": true, "args_sizes_get": true,
	"environ_get": true, "environ_sizes_get": true,
	"clock_res_get": true, "clock_time_get": true,
	"random_get": true, "proc_exit": true, "sched_yield": true, "poll_oneoff": true,
	"fd_write": true, "fd_read": true, "fd_close": true, "fd_seek": true, "fd_tell": true,
	"fd_fdstat_get": true, "fd_fdstat_set_flags": true, "fd_filestat_get": true,
	"fd_prestat_get": true, "fd_prestat_dir_name": true, "fd_readdir": true,
	"fd_pread": true, "fd_sync": true, "fd_datasync": true, "fd_advise": true,
	"path_open": true, "path_filestat_get": true, "path_readlink": true,
	"fd_filestat_set_size": true, "fd_filestat_set_times": true, "fd_pwrite": true, "fd_renumber": true,
	"fd_allocate": true, "path_create_directory": true, "path_filestat_set_times": true,
	"path_link": true, "path_remove_directory": true, "path_rename": true,
	"path_symlink": true, "path_unlink_file": true,
}

// WASIModule is the import module name of WASI preview 1.
const WASIModule = "wasi_snapshot_preview1"

// WASISocketsInert are the WASI socket calls that act only on a socket
// descriptor the host handed over at start. The sandbox hands over none, so
// they fail for every descriptor a plugin has (EBADF or ENOTSOCK) and can
// neither open nor reach anything. They are linked because Go's wasip1
// runtime imports sock_accept and sock_shutdown in any module whose
// reflection keeps os.File's methods reachable (text/template does); the
// capabilities analyzer still reports them, at low severity.
var WASISocketsInert = map[string]bool{
	"sock_accept": true, "sock_recv": true, "sock_send": true, "sock_shutdown": true,
}

// WASISockets are the WASI socket calls that could open, bind, connect or
// listen, or that serve those that do (the socket extensions runtimes such
// as WasmEdge add to preview 1). They are never linked, so a module
// importing one fails to load, and they are always a critical finding.
// Any other "sock_" import is treated the same way.
var WASISockets = map[string]bool{
	"sock_open": true, "sock_bind": true, "sock_connect": true, "sock_listen": true,
	"sock_recv_from": true, "sock_send_to": true,
	"sock_getsockopt": true, "sock_setsockopt": true,
	"sock_getlocaladdr": true, "sock_getpeeraddr": true, "sock_getaddrinfo": true,
}

// WASIClass is how the host treats a wasi_snapshot_preview1 import.
type WASIClass int

const (
	// WASILinked: in WASI; linked (write calls fail on read-only mounts).
	WASILinked WASIClass = iota
	// WASIInertSocket: in WASISocketsInert; linked, but there is no socket
	// for it to act on.
	WASIInertSocket
	// WASISocket: a socket call that could open, bind, connect or listen
	// (any other sock_* name included); never linked.
	WASISocket
	// WASIForbidden: any other WASI function; never linked.
	WASIForbidden
)

// ClassifyWASI says how the host treats the WASI function name. The
// sandbox's load check and the capabilities analyzer both read it, so what
// vetting reports is what the host enforces.
func ClassifyWASI(name string) WASIClass {
	switch {
	case WASI[name]:
		return WASILinked
	case WASISocketsInert[name]:
		return WASIInertSocket
	case WASISockets[name] || strings.HasPrefix(name, "sock_"):
		return WASISocket
	}
	return WASIForbidden
}
