package fleet

import (
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/supervisor"
)

// factsSeeds runs the facts script with the local shell, as a host's sh would, over a
// directory holding a config file, a link and a fake nats-server: the outputs a host prints.
func factsSeeds(f *testing.F) [][]byte {
	f.Helper()
	dir := f.TempDir()
	cfg := filepath.Join(dir, "nats.conf")
	bin := filepath.Join(dir, "nats-server")
	for p, b := range map[string][]byte{cfg: []byte("port: 4222\n"), bin: []byte(fakeNATS)} {
		if err := os.WriteFile(p, b, 0o750); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.Symlink("nats.conf", filepath.Join(dir, "link.conf")); err != nil {
		f.Fatal(err)
	}
	runit := factsScriptFor(supervisor.Runit{SvDir: supervisor.RunitSvDir, ServiceDir: supervisor.RunitServiceDir})
	cache := filepath.Join(dir, "cache")
	runs := [][]string{
		{"runit", bin, cache, "1024", "", "", "4", hexSum([]byte("port: 4222\n")) + ":" + cfg,
			hexSum([]byte("other\n")) + ":" + filepath.Join(dir, "link.conf"), "-:" + filepath.Join(dir, "missing"), "-:" + dir},
		{"runit", bin, cache, "1024", dir, "", "0", "nats-server", "wasmcloud"},
		{"runit", filepath.Join(dir, "absent"), cache, "16", "", "", "1", "-:" + cfg, "nats-server"},
	}
	var out [][]byte
	for _, args := range runs {
		cmd := exec.Command("/bin/sh", append([]string{"-c", runit, "latticepush"}, args...)...)
		b, err := cmd.Output()
		if err != nil {
			f.Fatalf("facts script %v: %v\n%s", args, err, b)
		}
		out = append(out, b)
	}
	return out
}

// FuzzParseFacts feeds arbitrary output to the facts parser, as a host (or whatever answers in
// its place) could print it: no panic; the parsed state is bounded by the input and holds
// together (modes are permission bits, sums are whole, a process list is sorted and never
// names the managed process); CRLF line ends read as LF; and any bytes survive the content
// record's base64 unchanged.
func FuzzParseFacts(f *testing.F) {
	for _, s := range factsSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte("machine=x86_64\nsvc.nats-server.running=1\nsvc.nats-server.pid=42\nproc.42.exe=/usr/bin/nats-server\nproc.7.cmdline=nats-server -c x \n" +
		"--stat\n/proc/42|directory|555|0|1700000000|3.4|nats|nats\n/etc/nats/nats.conf|regular file|640|11|1700000000|2049.12\n" +
		"--sums\n" + strings.Repeat("a", 64) + "  /etc/nats/nats.conf\n--content\nC /etc/nats/nats.conf\ncG9ydDogNDIyMgo=\n--cache\n2049.12|5|6 abc sha256:def\n"))
	f.Add([]byte("--stat\n/x|regular|999999999999|1|2|3\n"))
	f.Add([]byte("--content\nC /a\n!!\n"))
	f.Add([]byte("svc.nats-server.pid=7\nproc.9.exe=/x/nats-server\nproc.9.runsvpid=5\nrunsv.5.cwd=/etc/sv/n\n--cmdline\n/proc/7/cmdline:a\x00/proc/9/cmdline:b\nc\x00/proc/5/cmdline:runsv\x00/proc/5/cmdline:n\x00:\x00/proc//cmdline:\x00"))
	f.Fuzz(func(t *testing.T, out []byte) {
		st, err := parseFacts(out)
		if err != nil {
			if n := len(err.Error()); n > 512 {
				t.Fatalf("error of %d bytes for %d bytes of output: %.200s…", n, len(out), err)
			}
		} else {
			checkFacts(t, out, st)
		}
		if !bytes.Contains(out, []byte("\r")) {
			crlf, err2 := parseFacts(bytes.ReplaceAll(out, []byte("\n"), []byte("\r\n")))
			if (err == nil) != (err2 == nil) || (err == nil && !reflect.DeepEqual(st, crlf)) {
				t.Fatalf("CRLF output read differently: %v / %v", err, err2)
			}
		}
		// Any bytes come back out of a content record unchanged.
		rec := append([]byte("--content\nC /fuzz/file\n"), base64.StdEncoding.EncodeToString(out)...)
		got, err := parseFacts(rec)
		if err != nil || !bytes.Equal(got.content["/fuzz/file"], out) {
			t.Fatalf("content record round trip: %v, %d bytes back of %d", err, len(got.content["/fuzz/file"]), len(out))
		}
	})
}

func checkFacts(t *testing.T, out []byte, st *hostState) {
	t.Helper()
	size := 0
	for k, v := range st.kv {
		size += len(k) + len(v)
	}
	for _, b := range st.content {
		size += len(b)
	}
	for _, l := range st.cache {
		size += len(l)
	}
	if size > len(out) {
		t.Fatalf("%d bytes of facts from %d bytes of output", size, len(out))
	}
	for p, s := range st.stat {
		if s.mode > 0o777 {
			t.Fatalf("%s: mode %o is more than permission bits", p, s.mode)
		}
		ff := st.file(p)
		if !ff.Exists || (!s.regular && (ff.SHA256 != "" || ff.Content != nil)) {
			t.Fatalf("%s: %+v from %+v", p, ff, s)
		}
	}
	for p, sum := range st.sums {
		if len(sum) != 64 {
			t.Fatalf("%s: sum %q", p, sum)
		}
	}
	for k := range st.kv {
		rest, ok := strings.CutPrefix(k, "svc.")
		if !ok {
			continue
		}
		name := rest[:max(0, strings.LastIndexByte(rest, '.'))]
		sf := st.service(name)
		if !sf.Running && (sf.Exe != "" || sf.Cmdline != "" || sf.Started != 0) {
			t.Fatalf("service %q not running, with a process: %+v", name, sf)
		}
		others := st.others(sf)
		if !sort.SliceIsSorted(others, func(i, j int) bool { return others[i].PID < others[j].PID }) {
			t.Fatalf("others not sorted: %+v", others)
		}
		for i, p := range others {
			if (sf.PID != 0 && p.PID == sf.PID) || (i > 0 && others[i-1].PID == p.PID) {
				t.Fatalf("others %+v with the managed %d", others, sf.PID)
			}
		}
	}
	for p := range st.stat {
		_ = st.cachedDigest(p, strings.Repeat("0", 64))
	}
}

// FuzzReleaseFacts feeds arbitrary output of the install facts script to what reads it:
// every release line and only those become releases, and a version printed by either
// program's --version reads back as itself.
func FuzzReleaseFacts(f *testing.F) {
	f.Add("machine=x86_64\nfetcher=curl\nrelease.2.15.2="+strings.Repeat("ab", 32)+"\nrelease.2.15.3=\nreal=/opt/nats/2.15.2/nats-server\ninstalled=nats-server: v2.15.2\n", "2.15.3")
	f.Add("machine=aarch64\nfetcher=\nreal=/usr/local/bin/wasmcloud\ninstalled=wasmcloud 1.9.2\n", "1.9.2")
	f.Add("installed=\n", "2.12.0-beta.1")
	f.Fuzz(func(t *testing.T, out, version string) {
		kv := map[string]string{}
		for _, line := range strings.Split(out, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				kv[k] = v
			}
		}
		rf := releaseFacts(kv)
		n := 0
		for k, v := range kv {
			if rel, ok := strings.CutPrefix(k, "release."); ok {
				n++
				if got, ok := rf.Releases[rel]; !ok || got != v {
					t.Fatalf("release %q: %q, %v; want %q", rel, got, ok, v)
				}
			}
		}
		if n != len(rf.Releases) {
			t.Fatalf("%d releases from %d release lines", len(rf.Releases), n)
		}
		if _, ok := inventory.ParseVersion(version); !ok || strings.TrimSpace(version) != version || strings.HasPrefix(version, "v") {
			return
		}
		for _, printed := range []string{"nats-server: v" + version, "nats-server: v" + version + "\n", "wasmcloud " + version, " " + version + " "} {
			if got := versionOf(printed); got != version {
				t.Fatalf("versionOf(%q) = %q, want %q", printed, got, version)
			}
		}
	})
}
