package fleet

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/supervisor"
)

// fakeNATS is a stand-in for the nats-server binary's --version and -t: it prints what
// 2.15 prints, with the sha256 of the config as the digest. It notes its arguments in
// $FAKE_NATS_LOG, when set.
const fakeNATS = `#!/bin/sh
[ -z "$FAKE_NATS_LOG" ] || echo "$@" >> "$FAKE_NATS_LOG"
case $1 in
--version) echo "nats-server: v2.15.2" ;;
-t) c=$(mktemp); cat "$3" > "$c"
    case $(cat "$c") in *bad*) rm -f "$c"; echo "nats-server: $3:1:1: unknown field"; exit 1 ;;
      *twice*) rm -f "$c"; printf 'nats-server: %s:1:1: unknown field\n\n%s:2:1: and another\n' "$3" "$3"; exit 1 ;; esac
    echo "nats-server: configuration file $3 is valid (sha256:$(sha256sum < "$c" | cut -c1-64))"; rm -f "$c" ;;
esac
`

// sh runs one of this package's scripts with the local shell, as the host's sh would.
func sh(t *testing.T, script string, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, "latticepush"}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("script: %v\n%s%s", err, out, stderr.Bytes())
	}
	return out
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestFactsScript runs the facts script over real files: a file that matches its desired
// content comes back without content, one that differs with it, a missing one as absent, a
// directory as not a regular file; then the digest cache written by apply's check answers
// plan's question for that config and that binary only.
func TestFactsScript(t *testing.T) {
	dir := t.TempDir()
	same, differs, missing, sub := filepath.Join(dir, "same.conf"), filepath.Join(dir, "differs"), filepath.Join(dir, "missing"), filepath.Join(dir, "sub")
	cfg := []byte("port: 4222\n")
	if err := os.WriteFile(same, cfg, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(differs, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "nats-server")
	if err := os.WriteFile(bin, []byte(fakeNATS), 0o755); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "state", "nats-digests")

	// askedFor is what the binary was started for, one line per start.
	askLog := filepath.Join(dir, "asked")
	t.Setenv("FAKE_NATS_LOG", askLog)
	askedFor := func() string {
		t.Helper()
		b, _ := os.ReadFile(askLog)
		os.Remove(askLog)
		return string(b)
	}
	// factsAsking runs the facts script with the desired config on stdin (nil: none).
	factsAsking := func(binary string, config []byte) *hostState {
		t.Helper()
		configSHA := ""
		if config != nil {
			configSHA = hexSum(config)
		}
		args := []string{"runit", binary, cache, strconv.Itoa(diffLimit), "", configSHA, "4",
			hexSum(cfg) + ":" + same, hexSum([]byte("new\n")) + ":" + differs, "-:" + missing, "-:" + sub}
		st, err := parseFacts(sh(t, factsScriptFor(supervisor.Runit{SvDir: supervisor.RunitSvDir, ServiceDir: supervisor.RunitServiceDir}), config, args...))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	facts := func(binary string) *hostState { t.Helper(); return factsAsking(binary, nil) }
	st := facts(bin)
	if f := st.file(same); !f.Exists || f.Mode != 0o640 || f.Size != int64(len(cfg)) || f.SHA256 != hexSum(cfg) || f.Content != nil || f.MTime == 0 {
		t.Errorf("matching file: %+v", f)
	}
	if f := st.file(differs); !f.Exists || f.SHA256 != hexSum([]byte("old\n")) || string(f.Content) != "old\n" {
		t.Errorf("differing file: %+v (its content is needed for the diff)", f)
	}
	if f := st.file(missing); f.Exists {
		t.Errorf("missing file: %+v", f)
	}
	if f := st.file(sub); !f.Exists || f.SHA256 != "" {
		t.Errorf("directory: %+v, want present without a hash", f)
	}
	if st.cachedDigest(bin, hexSum(cfg)) != "" {
		t.Fatal("a digest before any check was recorded")
	}

	// apply's pre-check: -t accepts the config and records its digest.
	out := sh(t, checkScript, nil, bin, same, cache)
	want := "sha256:" + hexSum(cfg)
	if !strings.Contains(string(out), "("+want+")") {
		t.Fatalf("check printed %q", out)
	}
	if fi, err := os.Stat(cache); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("digest cache: %v %v", fi, err)
	}
	st = facts(bin)
	if got := st.cachedDigest(bin, hexSum(cfg)); got != want {
		t.Errorf("cached digest %q, want %q", got, want)
	}
	if got := st.cachedDigest(bin, hexSum([]byte("port: 4223\n"))); got != "" {
		t.Errorf("other bytes got a cached digest %q", got)
	}
	// Another binary at the same path (an upgrade) misses.
	if err := os.Remove(bin); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte(fakeNATS+"# v2.16\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := facts(bin).cachedDigest(bin, hexSum(cfg)); got != "" {
		t.Errorf("a replaced binary got the old binary's digest %q", got)
	}

	// apply's closing records digests of configs accepted when observed (the pre-check did
	// not run -t on them): under the binary's new identity, and once only however often.
	other := []byte("port: 4223\n")
	for range 2 {
		sh(t, recordDigestsScript, nil, cache, bin, hexSum(cfg), want, bin, hexSum(other), "sha256:other", filepath.Join(dir, "gone"), "x", "sha256:x")
	}
	st = facts(bin)
	if got := st.cachedDigest(bin, hexSum(cfg)); got != want {
		t.Errorf("recorded digest %q, want %q", got, want)
	}
	if got := st.cachedDigest(bin, hexSum(other)); got != "sha256:other" {
		t.Errorf("second recorded digest %q", got)
	}
	stamp := st.stat[bin].stamp
	b, _ := os.ReadFile(cache)
	if n := strings.Count(string(b), stamp+" "+hexSum(cfg)+" "); n != 1 {
		t.Errorf("the cache holds the key %d times, want once:\n%s", n, b)
	}
	// It keeps the newest 32 entries.
	var many []string
	for i := range 40 {
		many = append(many, bin, hexSum([]byte(strconv.Itoa(i))), "sha256:n")
	}
	sh(t, recordDigestsScript, nil, append([]string{cache}, many...)...)
	if b, _ := os.ReadFile(cache); strings.Count(string(b), "\n") != 32 {
		t.Errorf("the cache holds %d lines, want 32", strings.Count(string(b), "\n"))
	}

	// A rejected config is not recorded, and check exits non-zero with the reason.
	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("bad\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", checkScript, "latticepush", bin, bad, cache)
	if out, err := cmd.Output(); err == nil || !strings.Contains(string(out), "unknown field") {
		t.Errorf("check of a bad config: %v %q", err, out)
	}
	if got := facts(bin).cachedDigest(bin, hexSum([]byte("bad\n"))); got != "" {
		t.Errorf("a rejected config was cached: %q", got)
	}

	// The binary gives, in the same exec, the digest of a config the cache does not hold (on
	// stdin, which is read to its end either way).
	askedFor()
	fresh := []byte("port: 4224\n")
	pr := &plan.NATSProbe{Binary: bin, DesiredConfig: fresh}
	st = factsAsking(bin, fresh)
	st.answerNATS(pr)
	if st.digest != "sha256:"+hexSum(fresh) || st.digestErr != "" {
		t.Errorf("uncached config: digest %q (error %q)", st.digest, st.digestErr)
	}
	if got := askedFor(); got != "-t -c /dev/stdin\n" {
		t.Errorf("the binary was started for %q, want -t only", got)
	}
	sh(t, checkScript, nil, bin, same, cache) // caches cfg's digest for this binary
	askedFor()
	pr.DesiredConfig = cfg
	st = factsAsking(bin, cfg)
	st.answerNATS(pr)
	if st.digest != want {
		t.Errorf("cached config: digest %q", st.digest)
	}
	if got := askedFor(); got != "" {
		t.Errorf("a cached digest started the binary: %q", got)
	}
	pr.DesiredConfig = []byte("bad\n")
	st = factsAsking(bin, pr.DesiredConfig)
	st.answerNATS(pr)
	if st.digest != "" || !strings.Contains(st.digestErr, "unknown field") {
		t.Errorf("rejected config: digest %q, error %q", st.digest, st.digestErr)
	}
	// What -t printed on several lines comes back on one, each line ended by a space but the last.
	st = factsAsking(bin, []byte("twice\n"))
	if got, want := st.nats["check"], "nats-server: /dev/stdin:1:1: unknown field /dev/stdin:2:1: and another"; got != want || st.nats["check_rc"] != "1" {
		t.Errorf("rejected config, two lines: check %q (rc %q), want %q", got, st.nats["check_rc"], want)
	}
}

// TestFactsScript_LockInItsOwnExec: the facts report another run's lock, but not in the lock's
// own exec (step), where the lock was just taken for this run.
func TestFactsScript_LockInItsOwnExec(t *testing.T) {
	dir := t.TempDir()
	lock := filepath.Join(dir, "lock")
	if err := os.WriteFile(lock, []byte("user=someone\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := &inventory.Host{Name: "edge-1", ServiceManager: inventory.ServiceManagerRunit}
	call, err := factsCallFor(h, plan.Probe{Host: "edge-1"})
	if err != nil {
		t.Fatal(err)
	}
	atLock := func(script string) string {
		t.Helper()
		at := remote.Quote(path.Join(remote.DefaultLockDir, "lock"))
		if !strings.Contains(script, at) {
			t.Fatalf("the facts script does not read %s", at)
		}
		return strings.ReplaceAll(script, at, remote.Quote(lock))
	}
	st, err := parseFacts(sh(t, atLock(call.script), nil, call.args...))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.kv["lock"], base64.StdEncoding.EncodeToString([]byte("user=someone\n")); got != want {
		t.Errorf("facts: lock %q, want %q", got, want)
	}
	st, err = parseFacts(sh(t, atLock(call.step().Script), nil, call.args...))
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := st.kv["lock"]; ok {
		t.Errorf("facts in the lock's exec report the lock %q", l)
	}
}

// TestFactsScript_Missing reports a nats-server that is not installed and services that are
// not there, without failing the exec.
func TestFactsScript_Missing(t *testing.T) {
	dir := t.TempDir()
	st, err := parseFacts(sh(t, factsScriptFor(supervisor.Runit{SvDir: supervisor.RunitSvDir, ServiceDir: supervisor.RunitServiceDir}), []byte("port: 4222\n"), "runit", filepath.Join(dir, "nats-server"), filepath.Join(dir, "cache"), "1024", "", hexSum([]byte("port: 4222\n")), "0", "latticepush-test-none"))
	if err != nil {
		t.Fatal(err)
	}
	if st.kv["nats.missing"] != "1" {
		t.Errorf("missing binary not reported: %v", st.kv)
	}
	if sf := st.service("latticepush-test-none"); sf.Running || sf.Enabled {
		t.Errorf("absent service: %+v", sf)
	}
	if f := st.file(filepath.Join(dir, "x")); f.Exists || f.Content != nil {
		t.Errorf("unasked file: %+v", f)
	}
}

// TestFactsScript_ServiceInEffect runs the facts script against what a supervisor really
// runs: a runit service directory of its own where latticepush links its (with a process
// that runs a copy of the binary: its exe and command line), a runit service latticepush
// linked, and nats-server processes of no managed service found by their executable.
func TestFactsScript_ServiceInEffect(t *testing.T) {
	dir := t.TempDir()
	svDir, serviceDir := filepath.Join(dir, "sv"), filepath.Join(dir, "service")
	for _, d := range []string{filepath.Join(svDir, "wasmcloud"), filepath.Join(serviceDir, "nats-server", "supervise")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(svDir, "wasmcloud"), filepath.Join(serviceDir, "wasmcloud")); err != nil {
		t.Fatal(err)
	}
	// A process whose executable is named nats-server, as a hand-made service runs it.
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "opt", "nats-server")
	os.MkdirAll(filepath.Dir(other), 0o755)
	if err := os.WriteFile(other, data, 0o755); err != nil {
		t.Fatal(err)
	}
	proc := exec.Command(other, "300")
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proc.Process.Kill(); proc.Wait() })
	pid := strconv.Itoa(proc.Process.Pid)
	sup := filepath.Join(serviceDir, "nats-server", "supervise")
	os.WriteFile(filepath.Join(sup, "stat"), []byte("run\n"), 0o644)
	os.WriteFile(filepath.Join(sup, "pid"), []byte(pid+"\n"), 0o644)

	// The managed binary is a link: resolved, it is not the running process's executable.
	bin := filepath.Join(dir, "bin", "nats-server")
	os.MkdirAll(filepath.Dir(bin), 0o755)
	os.WriteFile(filepath.Join(dir, "bin", "nats-server-2.15.2"), []byte(fakeNATS), 0o755)
	os.Symlink("nats-server-2.15.2", bin)
	store := filepath.Join(dir, "store")
	os.MkdirAll(filepath.Join(store, "jetstream", "$SYS"), 0o755)

	r := supervisor.Runit{SvDir: svDir, ServiceDir: serviceDir}
	out := sh(t, factsScriptFor(r), nil, "runit", bin, filepath.Join(dir, "cache"), "1024", store, "", "0", "nats-server", "wasmcloud")
	st, err := parseFacts(out)
	if err != nil {
		t.Fatal(err)
	}
	nats := st.service("nats-server")
	if !nats.Running || nats.Definition != filepath.Join(serviceDir, "nats-server") {
		t.Errorf("foreign nats-server: %+v, want running with its own directory as the definition\n%s", nats, out)
	}
	if nats.Exe != other || nats.Cmdline != other+" 300" {
		t.Errorf("process: exe %q cmdline %q, want %q and %q", nats.Exe, nats.Cmdline, other, other+" 300")
	}
	if w := st.service("wasmcloud"); w.Definition != r.Managed("wasmcloud") || w.Running {
		t.Errorf("linked wasmcloud: %+v, want the managed definition %s", w, r.Managed("wasmcloud"))
	}
	if got, want := st.kv["nats.real"], filepath.Join(dir, "bin", "nats-server-2.15.2"); got != want {
		t.Errorf("nats.real %q, want %q", got, want)
	}
	if st.kv["nats.store"] != "1" {
		t.Errorf("a store with jetstream/ state not seen:\n%s", out)
	}
	// The service's own process is not an other; stopped, it is. (Processes outside dir are
	// other tests' servers on this machine.)
	mine := func(all []plan.Process) (out []plan.Process) {
		for _, p := range all {
			if strings.HasPrefix(p.Exe, dir) {
				out = append(out, p)
			}
		}
		return out
	}
	if o := mine(st.others(nats)); len(o) != 0 {
		t.Errorf("others %+v, want none besides the service's own", o)
	}
	o := mine(st.others(plan.ServiceFact{}))
	if len(o) != 1 || o[0].PID != proc.Process.Pid || o[0].Exe != other || o[0].Cmdline != other+" 300" || o[0].RunitDir != "" {
		t.Errorf("others %+v, want pid %s running %s", o, pid, other)
	}
}

// TestFactsScript_Systemd runs systemd's state function against systemctl's real output
// format (a stand-in prints what systemd 252 prints for a packaged unit with two drop-ins and
// a masked one): the unit file in effect, the drop-ins that apply and its command line.
func TestFactsScript_Systemd(t *testing.T) {
	dir := t.TempDir()
	systemctl := `#!/bin/sh
case "$1 $2" in
"is-enabled --quiet") exit 0 ;;
"is-active --quiet") exit 0 ;;
"show -p")
  case $3 in
  MainPID) echo 99999999 ;;
  *) echo "FragmentPath=/lib/systemd/system/nats-server.service"
     echo "DropInPaths=/etc/systemd/system/nats-server.service.d/override.conf /lib/systemd/system/nats-server.service.d/10-limits.conf $MASKED"
     echo "ExecStart={ path=/usr/bin/nats-server ; argv[]=/usr/bin/nats-server -c /etc/nats/nats.conf ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }" ;;
  esac ;;
esac
`
	if err := os.WriteFile(filepath.Join(dir, "systemctl"), []byte(systemctl), 0o755); err != nil {
		t.Fatal(err)
	}
	// A drop-in masked by a link to /dev/null is listed by systemctl but does not apply.
	masked := filepath.Join(dir, "20-masked.conf")
	if err := os.Symlink("/dev/null", masked); err != nil {
		t.Fatal(err)
	}
	script := "PATH=" + dir + ":$PATH\nMASKED=" + masked + "; export MASKED\n" + factsScriptFor(supervisor.Systemd{})
	st, err := parseFacts(sh(t, script, nil, "systemd", "", filepath.Join(dir, "cache"), "1024", "", "", "0", "nats-server"))
	if err != nil {
		t.Fatal(err)
	}
	sf := st.service("nats-server")
	want := plan.ServiceFact{Running: true, Enabled: true, PID: 99999999, Definition: "/lib/systemd/system/nats-server.service",
		DropIns:   []string{"/etc/systemd/system/nats-server.service.d/override.conf", "/lib/systemd/system/nats-server.service.d/10-limits.conf"},
		ExecStart: "/usr/bin/nats-server -c /etc/nats/nats.conf"}
	sf.Started, sf.Exe, sf.Cmdline, sf.User = 0, "", "", "" // above any pid_max: never a real process
	if !reflect.DeepEqual(sf, want) {
		t.Errorf("systemd facts:\n got %+v\nwant %+v", sf, want)
	}

	// A unit without drop-ins or with no unit file at all: systemctl prints the keys empty.
	empty := `#!/bin/sh
case "$1" in show) echo "FragmentPath="; echo "DropInPaths="; echo "ExecStart=" ;; *) exit 3 ;; esac
`
	os.WriteFile(filepath.Join(dir, "systemctl"), []byte(empty), 0o755)
	st, err = parseFacts(sh(t, script, nil, "systemd", "", filepath.Join(dir, "cache"), "1024", "", "", "0", "nats-server"))
	if err != nil {
		t.Fatal(err)
	}
	if sf := st.service("nats-server"); sf.Definition != "" || sf.DropIns != nil || sf.Running {
		t.Errorf("no unit: %+v", sf)
	}
}

// TestParseFacts_Cmdlines reads the --cmdline section (grep -z -H's NUL-ended records, which
// may hold newlines): the service's command line, another nats-server's, and the runsv
// running that one, whose directory comes from its cwd and whose name from its second
// argument.
func TestParseFacts_Cmdlines(t *testing.T) {
	out := "svc.nats-server.running=1\nsvc.nats-server.pid=7\nsvc.nats-server.exe=/usr/local/bin/nats-server\n" +
		"proc.7.exe=/usr/local/bin/nats-server\nproc.9.exe=/opt/nats/nats-server\nproc.9.runsvpid=5\n" +
		"runsv.5.cwd=/etc/sv/old-nats\n--stat\n--sums\n--content\n--cache\n--cmdline\n" +
		"/proc/7/cmdline:/usr/local/bin/nats-server\x00/proc/7/cmdline:-c\x00/proc/7/cmdline:/etc/nats/nats-server.conf\x00" +
		"/proc/9/cmdline:/opt/nats/nats-server\x00/proc/9/cmdline:--name\x00/proc/9/cmdline:two\nlines\x00" +
		"/proc/5/cmdline:runsv\x00/proc/5/cmdline:nats\x00" +
		"garbage\x00/proc/x/status:1\x00"
	st, err := parseFacts([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	svc := st.service("nats-server")
	if svc.Cmdline != "/usr/local/bin/nats-server -c /etc/nats/nats-server.conf" || svc.Exe != "/usr/local/bin/nats-server" {
		t.Errorf("service: exe %q cmdline %q", svc.Exe, svc.Cmdline)
	}
	others := st.others(svc)
	want := []plan.Process{{PID: 9, Exe: "/opt/nats/nats-server", Cmdline: "/opt/nats/nats-server --name two\nlines", RunitDir: "/etc/sv/old-nats", RunitName: "nats"}}
	if !reflect.DeepEqual(others, want) {
		t.Errorf("others:\n got %+v\nwant %+v", others, want)
	}
}
