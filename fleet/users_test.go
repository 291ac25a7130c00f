package fleet

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUsersScript runs the script with stub getent and useradd: an existing user is left
// alone, a user whose group exists joins it, a new one gets its own group, and a failing
// useradd stops the script with its status (the users after it are not tried).
func TestUsersScript(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	stub := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// getent: passwd knows "nats"; group knows "wasmcloud".
	stub("getent", `case "$1 $2" in "passwd nats"|"group wasmcloud") exit 0 ;; esac; exit 2`+"\n")
	stub("useradd", `echo "useradd $*" >> `+log+"\n"+`case "$*" in *broken) exit 9 ;; esac`+"\n")
	run := func(users ...string) (string, error) {
		os.Remove(log)
		cmd := exec.Command("sh", append([]string{"-c", usersScript, "latticepush"}, users...)...)
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		calls, _ := os.ReadFile(log)
		return string(out) + "|" + string(calls), err
	}
	out, err := run("nats", "wasmcloud", "svc")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, want := range []string{"created wasmcloud", "created svc", "useradd --system -g wasmcloud --no-create-home --home-dir /nonexistent",
		"useradd --system --user-group --no-create-home --home-dir /nonexistent"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "created nats") || strings.Contains(out, "(latticepush) nats") {
		t.Errorf("an existing user was made again:\n%s", out)
	}
	out, err = run("broken", "later")
	if err == nil || strings.Contains(out, "later") {
		t.Errorf("a failing useradd: %v\n%s", err, out)
	}
}
