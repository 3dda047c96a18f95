// Package pkgfile reads and writes Gatehouse packages: the deterministic
// archive of one plugin (manifest.json, the WebAssembly module, and optionally
// an SBOM, source, test scenarios, LICENSE and README).
//
// # Format
//
// A package is a gzip-compressed tar stream, conventionally named *.gpkg.
// Tar and gzip were chosen because they stream (a reader never needs to seek,
// so a package can be checked while it is uploaded), every platform has tools
// to look inside one, and a single forward pass makes every size and count
// simple to bound. Zip would need the central directory at the end of the file
// and lets the directory and the local headers disagree.
//
// A package's identity is the SHA-256 of its exact bytes ("sha256:HEX"), so
// the writer emits one canonical form and the same files always give the same
// bytes:
//
//   - The first entry is SHA256SUMS, listing the SHA-256 of every other file
//     in sha256sum format ("HEX  path\n"), sorted by path.
//   - The other entries follow, sorted bytewise by path. Only regular files
//     are written: no directory entries, no links.
//   - Every header has mode 0644, uid and gid 0, empty user and group names
//     and a modification time of 0 (the Unix epoch).
//   - A header is USTAR when the path is ASCII and at most 100 bytes long, and
//     PAX (with only a "path" record) otherwise.
//   - The gzip header carries no name, no modification time and the "unknown"
//     OS byte; compression is always level 6.
//
// The bytes are stable for a given Go release. compress/flate does not promise
// identical output across releases, so a package rebuilt by a different
// toolchain may get a different digest; the digest of an existing package
// never changes because packages are stored and served as bytes.
//
// # Reading hostile input
//
// Read treats its input as hostile. It enforces [Limits] while it reads
// (never trusting sizes stated in headers), refuses anything outside the
// canonical shape (links, devices, directories, unsafe or colliding names,
// unexpected PAX records, nested archives, truncated or concatenated streams,
// trailing data) and checks every file against SHA256SUMS. Each refusal is a
// [*RefusalError] that names the entry and the rule it broke.
package pkgfile
