package source

import "cmp"

// remediations says how to fix what the common rules find, in the terms
// of a plugin: it runs in a sandbox, reads secrets through the host and
// has crypto/rand. Rules without an entry get the generic advice.
var remediations = map[string]string{
	"G102": "Bind to a specific address, not all interfaces (plugins cannot open sockets in the sandbox; remove the listener).",
	"G103": "Remove the use of package unsafe, or confine it to one reviewed helper with a comment saying why it is sound.",
	"G104": "Check the returned error: handle it, return it wrapped with context, or assign it to _ with a comment saying why it cannot matter.",
	"G106": "Verify the SSH host key (ssh.FixedHostKey or a known_hosts callback) instead of ssh.InsecureIgnoreHostKey.",
	"G107": "Do not build a request URL from input; fetch only fixed URLs under the origins the manifest declares, and validate any part taken from input.",
	"G108": "Do not import net/http/pprof in a plugin; it registers profiling handlers on the default mux.",
	"G109": "Parse with strconv.ParseInt and the target bit size (e.g. 32) instead of converting strconv.Atoi's result, so out-of-range input is an error.",
	"G110": "Bound decompression: copy with io.CopyN or through io.LimitReader with a maximum size, so a small compressed input cannot expand without limit.",
	"G111": "Serve a specific folder, never http.Dir(\"/\").",
	"G112": "Set ReadHeaderTimeout on the http.Server.",
	"G114": "Use an http.Server with timeouts instead of http.ListenAndServe.",
	"G115": "Check the value's range before converting to a smaller integer type, or use a type large enough for every value.",
	"G116": "Remove the bidirectional Unicode control characters: they make the code read differently from how it compiles (Trojan Source).",
	"G117": "Keep secrets out of marshalled structs: tag the field `json:\"-\"` or use a separate type for output.",
	"G201": "Use parameterised queries (placeholders and arguments) instead of formatting input into SQL.",
	"G202": "Use parameterised queries (placeholders and arguments) instead of concatenating input into SQL.",
	"G203": "Do not convert input to template.HTML, template.JS or template.URL; let html/template escape it.",
	"G204": "Do not run commands built from input; plugins cannot start processes in the sandbox, so remove the call.",
	"G301": "Create folders with mode 0750 or stricter.",
	"G302": "Use file mode 0600 or stricter.",
	"G303": "Create temporary files with os.CreateTemp, not a predictable path.",
	"G304": "Do not open a path taken from input: clean it with filepath.Clean, check it is a plain relative name (filepath.IsLocal), and read it through the granted mount with pdk.ReadFile.",
	"G305": "Check each archive entry's name with filepath.IsLocal before joining it to a folder (Zip Slip).",
	"G306": "Write files with mode 0600 or stricter.",
	"G307": "Create files with os.OpenFile and mode 0600 or stricter.",
	"G401": "Use SHA-256 (crypto/sha256) or stronger instead of MD5 or SHA-1; for passwords use a key-derivation function such as argon2 or bcrypt.",
	"G402": "Keep TLS verification on and MinVersion at tls.VersionTLS12 or higher; never set InsecureSkipVerify.",
	"G403": "Use RSA keys of at least 2048 bits (3072 for new keys).",
	"G404": "Use crypto/rand for tokens, keys, nonces and anything an attacker must not guess; math/rand is predictable.",
	"G405": "Use AES-GCM or ChaCha20-Poly1305 instead of DES or RC4.",
	"G406": "Use SHA-256 or stronger instead of MD4 or RIPEMD-160.",
	"G407": "Generate a fresh random nonce or IV for every encryption with crypto/rand.",
	"G501": "Remove the crypto/md5 import; hash with crypto/sha256 or stronger.",
	"G502": "Remove the crypto/des import; encrypt with AES-GCM.",
	"G503": "Remove the crypto/rc4 import; encrypt with AES-GCM or ChaCha20-Poly1305.",
	"G504": "Remove the net/http/cgi import.",
	"G505": "Remove the crypto/sha1 import; hash with crypto/sha256 or stronger.",
	"G506": "Remove the md4 import; hash with crypto/sha256 or stronger.",
	"G507": "Remove the ripemd160 import; hash with crypto/sha256 or stronger.",
	"G601": "Do not take the address of the range variable; index the slice (&s[i]) instead.",
	"G602": "Check the index against the slice's length before indexing or slicing.",
	"G701": "Use parameterised queries; never build SQL from input.",
	"G702": "Do not pass input to a command; plugins cannot start processes, so remove the call.",
	"G703": "Validate a path from input with filepath.IsLocal and read it through a granted mount.",
	"G704": "Fetch only fixed URLs under the declared origins; do not let input choose the host.",
	"G705": "Escape input before writing it as HTML (html/template does this).",
	"G706": "Quote or escape input before logging it, so it cannot forge log lines (log with slog attributes).",
	"G708": "Do not parse templates from input; load templates from the granted mount and pass input as data.",
	"G709": "Do not decode untrusted input into types that run code or allocate without limit; decode into plain structs with size limits.",
	"G710": "Redirect only to fixed or allow-listed URLs.",
}

// Remediation returns how to fix what gosec rule id (such as "G404")
// finds.
func Remediation(id string) string {
	return cmp.Or(remediations[id],
		"Change the code so the pattern gosec describes no longer occurs (see gosec's rule "+id+"), or ask a reviewer to mark the finding a false positive with the reason; #nosec comments are not honoured in vetting.")
}
