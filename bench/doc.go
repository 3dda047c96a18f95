// Package bench compares Gatehouse's sandbox with the Extism Go SDK, the
// best-known peer, on the same guest logic (package internal/transform,
// wrapped for each host's calling convention under extism/plugin and
// gatehouse/plugin).
//
// It is a module of its own so that the product never depends on Extism.
// Run it from this folder:
//
//	go test -run '^$' -bench . -benchtime 1s
package bench
