// Package wasmtest holds tiny WebAssembly modules for tests that need a
// module vetting accepts without building one from Go source.
package wasmtest

// Handle is the smallest module exporting "handle": one function of no
// arguments and no results that returns at once. Vetting passes it, so a
// reviewer can certify a package around it.
var Handle = []byte{
	0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00,
	0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // types: () -> ()
	0x03, 0x02, 0x01, 0x00, // functions: one of type 0
	0x07, 0x0a, 0x01, 0x06, 'h', 'a', 'n', 'd', 'l', 'e', 0x00, 0x00, // export "handle" = function 0
	0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b, // code: no locals, end
}
