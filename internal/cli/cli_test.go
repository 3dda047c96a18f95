package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"gatehouse.dev/gatehouse/internal/domain"
)

// runCLI runs the command line as main does, with env as the environment.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }})
	return code, out.String(), errb.String()
}

// walk calls fn on c and every command under it.
func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

func TestEveryCommandHasAnExample(t *testing.T) {
	root := New(Env{})
	seen := map[string]bool{}
	walk(root, func(c *cobra.Command) {
		key := commandKey(c)
		seen[key] = true
		if c.Runnable() && !c.Hidden && strings.TrimSpace(c.Example) == "" {
			t.Errorf("%q has no Example: add one to the examples table in cli/help.go", c.CommandPath())
		}
	})
	for key := range examples {
		if !seen[key] {
			t.Errorf("the examples table has %q, which is no command", key)
		}
	}
}

func TestPluginHelpListsItsRealSubcommands(t *testing.T) {
	code, out, _ := runCLI(t, nil, "--help")
	if code != 0 {
		t.Fatalf("--help exited %d", code)
	}
	line := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "plugin ") {
			line = l
		}
	}
	for _, want := range []string{"init", "build", "pack", "inspect", "sign", "submit", "status", "appeal"} {
		if !strings.Contains(line, want) {
			t.Errorf("the plugin line of gatehouse --help, %q, omits %s", line, want)
		}
	}
	if strings.Contains(line, "follow") {
		t.Errorf("the plugin line of gatehouse --help names follow, which does not exist: %q", line)
	}
}

func TestUnknownSubcommandExitsNonZero(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		unknown   string
		helpOf    string
		suggested string
	}{
		{[]string{"plugin", "frobnicate"}, "frobnicate", "gatehouse plugin", ""},
		{[]string{"frobnicate"}, "frobnicate", "gatehouse", ""},
		{[]string{"namespace", "key", "frob"}, "frob", "gatehouse namespace key", ""},
		{[]string{"review", "aprove", "x"}, "aprove", "gatehouse review", "approve"},
		{[]string{"completion", "tcsh"}, "tcsh", "gatehouse completion", ""},
	} {
		code, _, stderr := runCLI(t, nil, tc.args...)
		if code == 0 {
			t.Errorf("%v exited 0", tc.args)
		}
		want := "unknown command \"" + tc.unknown + "\" for \"" + tc.helpOf + "\""
		if !strings.Contains(stderr, want) || !strings.Contains(stderr, "run '"+tc.helpOf+" --help'") {
			t.Errorf("%v: stderr %q lacks %q and the help to run", tc.args, stderr, want)
		}
		if tc.suggested != "" && !strings.Contains(stderr, tc.suggested) {
			t.Errorf("%v: stderr %q does not suggest %s", tc.args, stderr, tc.suggested)
		}
	}
	// A group without arguments still shows its help and succeeds.
	if code, out, _ := runCLI(t, nil, "plugin"); code != 0 || !strings.Contains(out, "submit") {
		t.Errorf("gatehouse plugin: exit %d, %q", code, out)
	}
}

// TestDurationFlagsRefuseZeroAndNegative walks every command: a duration
// flag must refuse -5s and 0s, naming the allowed range.
func TestDurationFlagsRefuseZeroAndNegative(t *testing.T) {
	n := 0
	walk(New(Env{}), func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Value.Type() != "duration" {
				return
			}
			n++
			if _, ok := f.Value.(*durationValue); !ok {
				t.Errorf("%s --%s is a plain duration flag: register it with positiveDuration", c.CommandPath(), f.Name)
				return
			}
			for _, bad := range []string{"-5s", "0s", "0", "soon"} {
				if err := f.Value.Set(bad); err == nil {
					t.Errorf("%s --%s accepted %q", c.CommandPath(), f.Name, bad)
				}
			}
		})
	})
	if n == 0 {
		t.Fatal("no duration flags found")
	}
	for _, args := range [][]string{
		{"verify", "x.gpkg", "--max-age", "-5s"},
		{"run", "x.gpkg", "--call", "f", "--max-age", "0s"},
		{"certificate", "suspend", "acme/hello@0.1.0", "--reason", "r", "--deadline", "-1h"},
		{"incident", "contain", "inc_x", "--deadline", "-1h"},
		{"plugin", "status", "sub_x", "--wait", "--timeout", "0s"},
		{"token", "create", "--subject", "s", "--role", "admin", "--ttl", "-720h"},
		{"token", "create", "--subject", "s", "--role", "admin", "--ttl", "100000h"},
	} {
		flag := ""
		for _, a := range args {
			if strings.HasPrefix(a, "--") {
				flag = a
			}
		}
		code, _, stderr := runCLI(t, map[string]string{"GATEHOUSE_TOKEN": "t"}, args...)
		if code == 0 || !strings.Contains(stderr, flag) || !strings.Contains(stderr, "must be more than 0s") {
			t.Errorf("%v: exit %d, stderr %q; want a refusal naming %s and the allowed range", args, code, stderr, flag)
		}
	}
}

// TestHelpNeverPrintsEnvironmentValues: a flag whose default comes from
// the environment says so in --help, and never prints the value (the
// token, a database URL with its password).
func TestHelpNeverPrintsEnvironmentValues(t *testing.T) {
	const secret = "s3cr3t-from-env"
	env := map[string]string{}
	for _, name := range []string{"GATEHOUSE_SERVER", "GATEHOUSE_TOKEN", "GATEHOUSE_LOG_LEVEL", "GATEHOUSE_LOG_FORMAT",
		"GATEHOUSE_ADDR", "GATEHOUSE_DATA", "GATEHOUSE_DATABASE", "GATEHOUSE_VET_CONFIG", "GATEHOUSE_LICENSES",
		"GATEHOUSE_PROVENANCE_POLICY", "GATEHOUSE_KEY_ALGORITHM", "GATEHOUSE_LOG_ORIGIN", "GATEHOUSE_PUBLIC_URL",
		"GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE", "PLUGIN_SIGNING_KEY"} {
		env[name] = secret
	}
	var paths [][]string
	walk(New(Env{}), func(c *cobra.Command) {
		paths = append(paths, strings.Fields(commandKey(c)))
	})
	for _, p := range paths {
		code, out, stderr := runCLI(t, env, append(p, "--help")...)
		if code != 0 {
			t.Errorf("%v --help exited %d: %s", p, code, stderr)
		}
		if strings.Contains(out+stderr, secret) {
			t.Errorf("gatehouse %s --help prints a value from the environment", strings.Join(p, " "))
		}
	}
	_, out, _ := runCLI(t, env, "token", "list", "--help")
	if !strings.Contains(out, "(default from $GATEHOUSE_TOKEN)") {
		t.Errorf("--help does not say where --token's default comes from:\n%s", out)
	}
}

// TestRoleListsNameEveryRole: token create's help and its refusal of an
// unknown role list every role, host included.
func TestRoleListsNameEveryRole(t *testing.T) {
	_, help, _ := runCLI(t, nil, "token", "create", "--help")
	code, _, stderr := runCLI(t, map[string]string{"GATEHOUSE_TOKEN": "t"}, "token", "create", "--subject", "edge", "--role", "hosts")
	if code == 0 {
		t.Error("token create accepted the role hosts")
	}
	for _, r := range domain.Roles {
		if !strings.Contains(help, string(r)) {
			t.Errorf("token create --help omits the role %s", r)
		}
		if !strings.Contains(stderr, string(r)) {
			t.Errorf("the refusal of an unknown role, %q, omits %s", stderr, r)
		}
	}
}

// TestServeRefusesBadAddressBeforeCreatingData: a malformed, busy or
// impossible --addr is refused with what to do, and leaves no data folder.
func TestServeRefusesBadAddressBeforeCreatingData(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct{ name, addr, want string }{
		{"not host:port", "nonsense", "HOST:PORT"},
		{"port out of range", "127.0.0.1:99999", "--addr"},
		{"port in use", busy.Addr().String(), "another address with --addr"},
	} {
		data := filepath.Join(t.TempDir(), "gatehouse-data")
		code, _, stderr := runCLI(t, nil, "serve", "--addr", tc.addr, "--data", data)
		if code == 0 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "GATEHOUSE_SERVER") {
			t.Errorf("%s: exit %d, stderr %q; want a refusal mentioning %q (and no client hint)", tc.name, code, stderr, tc.want)
		}
		if _, err := os.Stat(data); !os.IsNotExist(err) {
			t.Errorf("%s: the data folder was created (stat: %v)", tc.name, err)
		}
	}
}

// TestPersonalDataRetentionRefusesBadValues: serve and worker refuse a
// retention that is not a number of days within 30d..3650d, from the flag
// or its variable, naming the flag and the range, before creating data.
func TestPersonalDataRetentionRefusesBadValues(t *testing.T) {
	for _, cmd := range []string{"serve", "worker"} {
		for _, tc := range []struct{ value, want string }{
			{"29d", "outside 30d..3650d"},
			{"3651d", "outside 30d..3650d"},
			{"400", "not a number of days"},
			{"9600h", "not a number of days"},
			{"-400d", "not a number of days"},
			{"forever", "not a number of days"},
		} {
			for _, viaEnv := range []bool{false, true} {
				data := filepath.Join(t.TempDir(), "gatehouse-data")
				args, env := []string{cmd, "--addr", "127.0.0.1:0", "--data", data}, map[string]string{}
				if viaEnv {
					env["GATEHOUSE_PERSONAL_DATA_RETENTION"] = tc.value
				} else {
					args = append(args, "--personal-data-retention", tc.value)
				}
				code, _, stderr := runCLI(t, env, args...)
				if code == 0 || !strings.Contains(stderr, "--personal-data-retention") || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "between 30 and 3650") {
					t.Errorf("%s %q (env %v): exit %d, stderr %q; want a refusal naming the flag, %q and the range", cmd, tc.value, viaEnv, code, stderr, tc.want)
				}
				if _, err := os.Stat(data); !os.IsNotExist(err) {
					t.Errorf("%s %q: the data folder was created (stat: %v)", cmd, tc.value, err)
				}
			}
		}
	}
}

func TestErrorsSayWhatToDoNext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	unauthorized := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":{"code":"unauthenticated","message":"unknown token"}}`))
	}))
	defer unauthorized.Close()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"no token", map[string]string{}, []string{"GATEHOUSE_TOKEN", "gatehouse token create"}},
		{"server unreachable", map[string]string{"GATEHOUSE_TOKEN": "t", "GATEHOUSE_SERVER": closed}, []string{"GATEHOUSE_SERVER", "gatehouse serve"}},
		{"token refused", map[string]string{"GATEHOUSE_TOKEN": "t", "GATEHOUSE_SERVER": unauthorized.URL}, []string{"GATEHOUSE_TOKEN", "gatehouse token create"}},
	} {
		code, _, stderr := runCLI(t, tc.env, "token", "list")
		if code == 0 {
			t.Errorf("%s: exit 0", tc.name)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr %q does not mention %s", tc.name, stderr, w)
			}
		}
	}
}

// fakeAPI answers the few routes the version-argument commands call and
// records the paths it was asked for.
type fakeAPI struct {
	mu    sync.Mutex
	paths []string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.paths = append(f.paths, r.Method+" "+r.URL.EscapedPath())
	f.mu.Unlock()
	p := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v1")
	w.Header().Set("Content-Type", "application/json")
	sub := `{"id":"sub_x","plugin":"acme/hello","version":"0.1.1","state":"certified"}`
	switch {
	case p == "/plugins/acme/hello/versions/0.1.1":
		w.Write([]byte(sub))
	case strings.HasPrefix(p, "/submissions/sub_x"), strings.HasPrefix(p, "/reviews/sub_x"):
		if strings.HasPrefix(p, "/reviews/sub_x/") {
			w.Write([]byte(`{"id":"sub_x","state":"certified"}`))
			return
		}
		if p == "/reviews/sub_x" {
			w.Write([]byte(`{"item":{"id":"sub_x","plugin":"acme/hello","version":"0.1.1"}}`))
			return
		}
		w.Write([]byte(sub))
	case p == "/reviews":
		w.Write([]byte(`{"items":[{"id":"sub_x","plugin":"acme/hello","version":"0.1.1","tier":"low"}]}`))
	case p == "/tokens":
		w.Write([]byte(`[{"id":"tok_a","subject":"bob","role":"reviewer"}]`))
	default:
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":{"code":"not_found","message":"no submission"}}`))
	}
}

// TestVersionArgumentsTakeBothForms: every command that names a version
// takes a submission id or NAMESPACE/NAME@VERSION, and a version that is
// not there is answered with both forms.
func TestVersionArgumentsTakeBothForms(t *testing.T) {
	api := &fakeAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	env := map[string]string{"GATEHOUSE_SERVER": srv.URL, "GATEHOUSE_TOKEN": "t"}
	for _, tc := range []struct {
		args []string
		path string
	}{
		{[]string{"certificate", "suspend", "V", "--reason", "r"}, "POST /api/v1/submissions/sub_x/suspend"},
		{[]string{"certificate", "revoke", "V", "--reason", "r"}, "POST /api/v1/submissions/sub_x/revoke"},
		{[]string{"review", "show", "V"}, "GET /api/v1/reviews/sub_x"},
		{[]string{"review", "claim", "V"}, "POST /api/v1/reviews/sub_x/claim"},
		{[]string{"review", "approve", "V"}, "POST /api/v1/reviews/sub_x/approve"},
		{[]string{"review", "reject", "V", "--code", "quality", "-m", "m"}, "POST /api/v1/reviews/sub_x/reject"},
		{[]string{"review", "request-changes", "V", "-m", "m"}, "POST /api/v1/reviews/sub_x/request-changes"},
		{[]string{"plugin", "status", "V"}, "GET /api/v1/submissions/sub_x"},
		{[]string{"plugin", "appeal", "V", "-m", "m"}, "POST /api/v1/submissions/sub_x/thread/appeal"},
	} {
		for _, ref := range []string{"sub_x", "acme/hello@0.1.1"} {
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				if a == "V" {
					a = ref
				}
				args[i] = a
			}
			api.mu.Lock()
			api.paths = nil
			api.mu.Unlock()
			code, _, stderr := runCLI(t, env, args...)
			api.mu.Lock()
			paths := strings.Join(api.paths, "; ")
			api.mu.Unlock()
			if code != 0 || !strings.Contains(paths, tc.path) {
				t.Errorf("%v: exit %d (%s), requests %s; want %s", args, code, stderr, paths, tc.path)
			}
		}
		for _, missing := range []string{"acme/nope@9.9.9", "sub_nope"} {
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				if a == "V" {
					a = missing
				}
				args[i] = a
			}
			code, _, stderr := runCLI(t, env, args...)
			if code == 0 || !strings.Contains(stderr, "no version "+missing) ||
				!strings.Contains(stderr, "submission id") || !strings.Contains(stderr, "NAMESPACE/NAME@VERSION") {
				t.Errorf("%v: exit %d, stderr %q; want a not-found naming both forms", args, code, stderr)
			}
		}
	}
}

// TestOutputFlag: -o picks text or json on every command that prints
// data; the old --json and --format still work, hidden.
func TestOutputFlag(t *testing.T) {
	srv := httptest.NewServer(&fakeAPI{})
	defer srv.Close()
	env := map[string]string{"GATEHOUSE_SERVER": srv.URL, "GATEHOUSE_TOKEN": "t"}
	for _, tc := range []struct {
		args     []string
		wantJSON bool
	}{
		{[]string{"token", "list", "-o", "json"}, true},
		{[]string{"token", "list"}, false},
		{[]string{"review", "list", "-o", "json"}, true},
		{[]string{"review", "list", "--output=text"}, false},
		{[]string{"plugin", "status", "sub_x", "-o", "json"}, true},
		{[]string{"plugin", "status", "sub_x", "--json"}, true},
	} {
		code, out, stderr := runCLI(t, env, tc.args...)
		if code != 0 {
			t.Errorf("%v: exit %d: %s", tc.args, code, stderr)
			continue
		}
		if got := json.Valid([]byte(out)); got != tc.wantJSON {
			t.Errorf("%v: JSON output %v, want %v:\n%s", tc.args, got, tc.wantJSON, out)
		}
	}
	code, _, stderr := runCLI(t, env, "token", "list", "-o", "yaml")
	if code == 0 || !strings.Contains(stderr, "text or json") {
		t.Errorf("-o yaml: exit %d, stderr %q; want a refusal naming text or json", code, stderr)
	}
	_, help, _ := runCLI(t, env, "plugin", "status", "--help")
	if strings.Contains(help, "--json") {
		t.Error("plugin status --help still shows --json; it is a hidden alias of -o json")
	}
	_, vetHelp, _ := runCLI(t, env, "vet", "--help")
	if !strings.Contains(vetHelp, "sarif") || strings.Contains(vetHelp, "--format") {
		t.Errorf("vet --help: want -o text|json|sarif and no --format:\n%s", vetHelp)
	}
}

// TestListsAndShowsTakeOutput: every command that lists or shows records
// takes the one -o text|json flag, so scripts never parse tables.
func TestListsAndShowsTakeOutput(t *testing.T) {
	walk(New(Env{}), func(c *cobra.Command) {
		name := c.Name()
		if !c.Runnable() || c.Hidden || (name != "list" && name != "show" && name != "status" && name != "verify" && name != "thread") {
			return
		}
		if commandKey(c) == "verify" {
			return // verify checks a package on the host; its exit status is its answer
		}
		if f := c.Flags().Lookup("output"); f == nil || f.Value.Type() != "format" {
			t.Errorf("%q prints records but has no -o text|json", c.CommandPath())
		}
	})
}

// TestScaffoldPassesVetWithNoFindings: what `gatehouse plugin init` writes
// builds and passes the marketplace's checks with no finding at all, so an
// author's first vet shows only what they wrote.
func TestScaffoldPassesVetWithNoFindings(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a WebAssembly module")
	}
	dir := filepath.Join(t.TempDir(), "hello")
	for _, args := range [][]string{{"plugin", "init", "acme/hello", dir}, {"plugin", "build", dir}} {
		if code, _, stderr := runCLI(t, nil, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
	}
	code, out, stderr := runCLI(t, nil, "vet", dir, "-o", "json")
	if code != 0 {
		if len(out) > 4000 {
			out = out[:4000] + "…"
		}
		t.Fatalf("vet: exit %d: %s\n%s", code, stderr, out)
	}
	var rep struct {
		Results []struct {
			Analyzer string
			Findings []struct{ RuleID, Message string }
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Results) == 0 {
		t.Fatalf("vet -o json: %v\n%s", err, out)
	}
	for _, r := range rep.Results {
		for _, f := range r.Findings {
			t.Errorf("the untouched scaffold raises %s: %s", f.RuleID, f.Message)
		}
	}
}

// TestScaffoldReadmeCommandsExist: every gatehouse command line in the
// scaffold's README names a real command with flags it takes, and the
// README signs before it submits (an unsigned package is refused).
func TestScaffoldReadmeCommandsExist(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hello")
	if code, _, stderr := runCLI(t, nil, "plugin", "init", "acme/hello", dir); code != 0 {
		t.Fatalf("init: %s", stderr)
	}
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(l, "gatehouse ") {
			if i := strings.Index(l, "#"); i > 0 {
				l = l[:i]
			}
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	order := map[string]int{}
	for i, l := range lines {
		args := strings.Fields(l)[1:]
		root := New(Env{})
		c, rest, err := root.Find(args)
		if err != nil || c == root {
			t.Errorf("README line %q names no command: %v", l, err)
			continue
		}
		if err := c.ParseFlags(rest); err != nil {
			t.Errorf("README line %q: %v", l, err)
		}
		if c.Args != nil {
			if err := c.Args(c, c.Flags().Args()); err != nil {
				t.Errorf("README line %q: %v", l, err)
			}
		}
		order[commandKey(c)] = i + 1
	}
	for _, want := range []string{"keys generate", "namespace key add", "plugin sign", "plugin submit"} {
		if order[want] == 0 {
			t.Errorf("the scaffold's README never runs gatehouse %s", want)
		}
	}
	if order["plugin sign"] > order["plugin submit"] {
		t.Error("the scaffold's README submits before it signs")
	}
}
