package extools

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// InstallHint is how to get every tool these finders look for.
const InstallHint = "bash .ci/run installs them (apt: chromium; npm into .tools/node)"

// RepoRoot returns the module's root folder (the one holding go.mod), found from this
// source file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// NodeModules returns the node_modules folder that holds every package in pkgs (npm names
// such as "openai" or "@huggingface/jinja"), and the node binary. It looks in
// $TINYCHAT_NODE_MODULES, then in .tools/node/node_modules under the repository root. It
// skips t when node or a package is missing.
func NodeModules(t testing.TB, pkgs ...string) (nodeModules, node string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skipf("skipped: node is not installed (%s)", InstallHint)
	}
	dir := os.Getenv("TINYCHAT_NODE_MODULES")
	if dir == "" {
		dir = filepath.Join(RepoRoot(), ".tools", "node", "node_modules")
	}
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join(dir, p, "package.json")); err != nil {
			t.Skipf("skipped: npm package %s is not installed in %s (%s)", p, dir, InstallHint)
		}
	}
	return dir, node
}

// Chromium returns the path of a Chromium (or Chrome) binary: $TINYCHAT_CHROMIUM, or the
// first of chromium, chromium-browser, google-chrome on PATH. It skips t when there is none.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("TINYCHAT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skipf("skipped: no chromium on PATH (%s)", InstallHint)
	return ""
}

// RunNode runs a JavaScript module (ES module syntax; `import x from "openai"` works) with
// node and returns its standard output. The script is written to a temporary folder beside
// nodeModules, so that node resolves the packages there, and removed afterwards. args follow
// the script on the command line; env entries ("K=V") are added to the environment. A failure
// returns an error holding the script's standard error.
func RunNode(t testing.TB, node, nodeModules, script string, env []string, args ...string) ([]byte, error) {
	t.Helper()
	// The script goes beside node_modules so that its imports resolve; a script that needs no
	// package (NodeModules asked for none) runs from a temporary folder when npm never ran.
	base := filepath.Dir(nodeModules)
	if _, err := os.Stat(nodeModules); err != nil {
		base = ""
	}
	dir, err := os.MkdirTemp(base, "test-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "script.mjs")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(node, append([]string{path}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("node %s: %w\n%s", path, err, stderr.String())
	}
	return out, nil
}
