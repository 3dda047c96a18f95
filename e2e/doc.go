// Package e2e holds Gatehouse's end-to-end test of the trust chain: a real
// marketplace, a publisher's key and signature, vetting, a reviewer's
// approval and certificate, install on a host, offline verification and a
// sandboxed run, plus the refusals a host must make. It has no code of its
// own; run it with `go test ./e2e/`.
package e2e
