package main_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readmeMarker comes before each ```sh block of the README that
// TestReadmeWalkthrough runs.
const readmeMarker = "<!-- readme-test -->"

// readmeBlocks returns the README's marked sh blocks, in order.
func readmeBlocks(t *testing.T, readme []byte) []string {
	t.Helper()
	var blocks []string
	sc := bufio.NewScanner(bytes.NewReader(readme))
	marked, in := false, false
	var cur strings.Builder
	for sc.Scan() {
		line := sc.Text()
		switch {
		case in && strings.TrimSpace(line) == "```":
			blocks = append(blocks, cur.String())
			cur.Reset()
			in = false
		case in:
			cur.WriteString(line + "\n")
		case strings.TrimSpace(line) == readmeMarker:
			marked = true
		case marked && strings.TrimSpace(line) == "```sh":
			in, marked = true, false
		case marked && strings.TrimSpace(line) != "":
			t.Fatalf("README.md: %s is followed by %q, not a ```sh block", readmeMarker, line)
		}
	}
	if in {
		t.Fatal("README.md: a marked ```sh block is not closed")
	}
	return blocks
}

// TestReadmeWalkthrough runs the README's walkthrough as written, from
// `plugin init` to a plugin approved by a reviewer, installed, verified
// and run, so the README cannot drift from the product. It runs in a
// working copy holding the files the walkthrough reads, against a server
// started there on a free port (without the example plugins, which the
// walkthrough does not use), and checks that the walkthrough leaves
// nothing git status shows. Only what must differ is substituted: the
// port, and the binary this test already built for `go build`.
func TestReadmeWalkthrough(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("the walkthrough is written for a POSIX shell; bash is not installed")
	}
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed")
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(t, readme)
	if len(blocks) < 3 {
		t.Fatalf("README.md marks %d blocks with %s; the walkthrough needs its build, review and install blocks", len(blocks), readmeMarker)
	}
	script := strings.Join(blocks, "")
	const build, defaultServer = "go build -o gatehouse ./cmd/gatehouse\n", "http://127.0.0.1:8080"
	for _, want := range []string{build, defaultServer, "plugin init", "--role reviewer", "review approve", "install", "verify", "run"} {
		if !strings.Contains(script, want) {
			t.Fatalf("the README's walkthrough lacks %q:\n%s", want, script)
		}
	}

	// The working copy: a git repository holding what the walkthrough
	// reads from a clone (the vulnerability database subset) and the
	// clone's .gitignore.
	clone := t.TempDir()
	copyTree(t, filepath.Join("..", "..", "testdata", "osv"), filepath.Join(clone, "testdata", "osv"))
	copyTree(t, filepath.Join("..", "..", ".gitignore"), filepath.Join(clone, ".gitignore"))
	gitEnv := append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(gitBin, args...)
		cmd.Dir, cmd.Env = clone, gitEnv
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	git("init", "-q")
	git("add", "-A")
	git("commit", "-q", "-m", "clone")

	srv := startServer(t, filepath.Join(clone, "gatehouse-data"))
	script = strings.Replace(script, build, "cp \"$GATEHOUSE_TEST_BINARY\" gatehouse\n", 1)
	script = strings.ReplaceAll(script, defaultServer, srv.base)
	// Every command must exit 0: -e stops at the first that does not, and
	// the trap names it.
	script = "set -eo pipefail\ntrap 'echo \"README command failed (exit $?): $BASH_COMMAND\" >&2' ERR\n" + script

	cmd := exec.Command(bash, "-c", script)
	cmd.Dir = clone
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "GATEHOUSE_TEST_BINARY="+binary)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README walkthrough failed: %v\n%s\nserver log:\n%s", err, out, srv.logs())
	}
	for _, want := range []string{
		": certified",                  // approved by the reviewer
		"installed acme/hello@0.1.0",   // resolved and pinned on the host
		"verified acme/hello@0.1.0",    // every check passed
		`{"greeting":"Hello, Ada!"}`,   // and it ran
		"Every enforced check passed.", // vet
		"audit chain verified",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the walkthrough's output lacks %q:\n%s", want, out)
		}
	}
	if status := git("status", "--porcelain", "--untracked-files=all"); status != "" {
		t.Errorf("the walkthrough left files git status shows; cover them in .gitignore:\n%s", status)
	}
}

// copyTree copies the file or folder src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}
