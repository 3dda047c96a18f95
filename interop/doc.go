// Package interop checks Gatehouse's standard formats with the clients the
// ecosystem itself uses, against a real marketplace each test run starts:
// webhook deliveries with the Standard Webhooks reference library, the
// transparency log with transparency-dev's client, certificates with
// go-securesystemslib (and Python's securesystemslib), vetting results with
// the SARIF multitool and /metrics with promtool. See README.md; .ci/run
// installs the outside tools and runs it.
//
// It is a module of its own so that these clients never become
// dependencies of Gatehouse itself. It has no code of its own; run it
// with `go test ./...` in this folder.
package interop
