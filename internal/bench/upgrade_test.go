package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/internal/testenv"
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/rollout"
)

// upgradeTo is the release the upgrade cases install; the lab runs testenv's default
// nats-server (v2.15.2), which each case goes back to, untimed, before the next one.
const upgradeTo = "v2.15.3"

// release is one nats-server binary as an artifact: the file, its sha256 and size.
type release struct {
	version, path, sha256 string
	size                  int64
}

func releaseOf(tb testing.TB, version, path string) release {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return release{version: strings.TrimPrefix(version, "v"), path: path, sha256: hex.EncodeToString(sum[:]), size: int64(len(b))}
}

// pinRelease pins rel in the nats block of each role, the artifact's source being source
// (the local file, or a URL serving it).
func pinRelease(tb testing.TB, src string, rel release, source string, roles ...string) string {
	tb.Helper()
	pin := fmt.Sprintf("    version = %q\n    artifact %q {\n      source = %q\n      sha256 = %q\n      size   = %d\n    }\n",
		rel.version, "linux/"+runtime.GOARCH, source, rel.sha256, rel.size)
	for _, role := range roles {
		anchor := "role \"" + role + "\" {\n  nats {\n"
		if !strings.Contains(src, anchor) {
			tb.Fatalf("the lab inventory has no %q: edit the benchmark", anchor)
		}
		src = strings.Replace(src, anchor, anchor+pin, 1)
	}
	return src
}

// UpgradeRow is one run of a release upgrade: Hosts nats-servers given a Bytes-byte binary
// and restarted onto it, hubs one at a time and leaves in 25% batches.
type UpgradeRow struct {
	Tool, How string
	Wall      time.Duration
	// Transfer is latticepush's release phase: every host's artifact uploaded or fetched, its
	// sha256 checked on the host, and unpacked (0 for Ansible, whose run is not split).
	Transfer time.Duration
	Hosts    int
	Bytes    int64
	Load     LoadSample
}

// benchUpgrade measures the release upgrade of every nats-server of the lab, one run each:
// latticepush uploading the binary over SFTP, latticepush with the hosts fetching it from an
// HTTP server on the lab bridge, and Ansible (an) doing the same with copy and with get_url,
// each followed by the rolling restart. Between runs the lab goes back to the old release and
// loses the new one, untimed, so every run does the whole work.
func benchUpgrade(ctx context.Context, b *testing.B, env *labtest.Env, an *Ansible, quiet func(what string) (LoadSample, bool)) {
	oldRel := releaseOf(b, "v2.15.2", testenv.NATSServerPath())
	if out, err := os.ReadFile(env.Path); err != nil {
		b.Fatal(err)
	} else if strings.Contains(string(out), "version = ") {
		b.Fatal("the lab inventory already pins a release: edit the benchmark")
	}
	newRel := releaseOf(b, upgradeTo, testenv.NATSRelease(b, upgradeTo))
	orig, err := os.ReadFile(env.Path)
	if err != nil {
		b.Fatal(err)
	}
	natsHosts := 0
	for _, h := range env.Inventory(b).Hosts {
		if h.NATS() != nil {
			natsHosts++
		}
	}

	// The artifact server listens on the bridge's address (the lab hosts' gateway) only.
	gw := env.Lab.Subnet.Addr().Next()
	ln, err := net.Listen("tcp", net.JoinHostPort(gw.String(), "0"))
	if err != nil {
		b.Fatalf("listening on the lab bridge: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/nats-server-"+upgradeTo {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, newRel.path)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/nats-server-" + upgradeTo

	back := func() { // untimed: every nats-server back on the old release, the new one gone
		env.Edit(b, func(string) string { return pinRelease(b, string(orig), oldRel, oldRel.path, "hub", "leaf") })
		verifyFailed(b, latticepush(ctx, b, "apply", "--auto-approve", env.Path), "going back to "+oldRel.version)
		removeRelease(ctx, b, env, newRel.version)
	}
	pinned := func(source string) {
		env.Edit(b, func(string) string { return pinRelease(b, string(orig), newRel, source, "hub", "leaf") })
	}

	for _, how := range []struct{ name, source, fetch string }{
		{"upload (SFTP)", newRel.path, ""},
		{"fetched by each host (curl)", url, "curl"},
	} {
		back()
		pinned(how.source)
		requireUpgrade(ctx, b, env, natsHosts, how.fetch)
		load, ok := quiet("latticepush " + how.name)
		r := latticepush(ctx, b, "apply", "--auto-approve", "--json", env.Path)
		verifyFailed(b, r, "release upgrade, "+how.name)
		requireInstalled(ctx, b, env, newRel)
		requireRunning(ctx, b, env, newRel.version)
		if ok {
			report.Upgrade = append(report.Upgrade, UpgradeRow{Tool: "latticepush", How: how.name, Wall: r.Wall,
				Transfer: phaseTime(b, r.Out, rollout.PhaseRelease), Hosts: natsHosts, Bytes: newRel.size, Load: load})
		}
		b.Logf("release upgrade, latticepush, %s: %s", how.name, secs(r.Wall))
	}
	if an == nil {
		back()
		return
	}
	for _, how := range []struct{ name, play string }{
		{"copy", "upgrade-copy.yml"},
		{"get_url", "upgrade-get.yml"},
	} {
		back()
		vars, _ := json.Marshal(map[string]string{"nats_version": newRel.version, "nats_src": newRel.path,
			"nats_url": url, "nats_sha256": newRel.sha256, "nats_link": inventory.DefaultNATSBinary,
			"nats_root": inventory.InstallRoot})
		load, ok := quiet("Ansible " + how.name)
		d, recap, err := an.Play(ctx, ColdPerRun, how.play, "-e", string(vars))
		if err != nil {
			b.Fatal(err)
		}
		for h, rc := range recap {
			if rc.Changed < 3 { // the binary, the link and the restart
				b.Fatalf("Ansible upgrade (%s): %s changed %d tasks, want the binary, the link and the restart", how.name, h, rc.Changed)
			}
		}
		// Ansible did the same work: every binary path resolves to the new release's binary,
		// and every server runs it. (latticepush would still plan a reinstall: a release
		// directory it did not unpack holds no record of the artifact it came from.)
		requireInstalled(ctx, b, env, newRel)
		requireRunning(ctx, b, env, newRel.version)
		if v := latticepush(ctx, b, "verify", env.Path); v.Exit != 0 {
			report.Notes = append(report.Notes, fmt.Sprintf("Right after Ansible's upgrade (%s), `latticepush verify` exited %d: Ansible checks no cluster or link between batches.", how.name, v.Exit))
		}
		if ok {
			report.Upgrade = append(report.Upgrade, UpgradeRow{Tool: "Ansible " + ColdPerRun.String(), How: how.name, Wall: d,
				Hosts: natsHosts, Bytes: newRel.size, Load: load})
		}
		b.Logf("release upgrade, Ansible, %s: %s", how.name, secs(d))
	}
	back()
}

// requireUpgrade fails unless the plan upgrades exactly n nats-servers, each installing the
// release by upload (fetch "") or by having the host fetch it with fetch, and changes nothing
// else but restarts.
func requireUpgrade(ctx context.Context, b *testing.B, env *labtest.Env, n int, fetch string) {
	b.Helper()
	p := planJSON(ctx, b, env, "plan --json of the upgrade")
	got := 0
	for _, u := range p.Units {
		switch {
		case u.Upgrade != nil && u.Upgrade.Upload && u.Upgrade.Fetch == fetch:
			got++
		case u.Changes():
			b.Fatalf("upgrade: %s/%s would %s (%v), upgrade %+v", u.Host, u.Service, u.Action, u.Reasons, u.Upgrade)
		}
	}
	if got != n {
		b.Fatalf("upgrade: %d nats-servers get the release (fetch %q), want %d", got, fetch, n)
	}
}

// requireInstalled fails unless every nats-server host's binary path resolves to rel's binary
// in its release directory.
func requireInstalled(ctx context.Context, b *testing.B, env *labtest.Env, rel release) {
	b.Helper()
	want := inventory.InstallRoot + "/" + rel.version + "/nats-server"
	var g errgroup.Group
	g.SetLimit(16)
	for _, h := range env.Inventory(b).Hosts {
		if h.NATS() == nil {
			continue
		}
		g.Go(func() error {
			out, err := env.Lab.Exec(ctx, h.Name, "sh", "-c", `f=$(readlink -f -- "$1") && echo "$f $(sha256sum < "$f" | cut -d' ' -f1)"`, "-", inventory.DefaultNATSBinary)
			if err != nil {
				return fmt.Errorf("%s: %v\n%s", h.Name, err, out)
			}
			if got := strings.TrimSpace(string(out)); got != want+" "+rel.sha256 {
				return fmt.Errorf("%s: %s resolves to %q, want %s with sha256 %s", h.Name, inventory.DefaultNATSBinary, got, want, rel.sha256)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
}

// requireRunning fails unless every nats-server of the lab reports version on /varz.
func requireRunning(ctx context.Context, b *testing.B, env *labtest.Env, version string) {
	b.Helper()
	var g errgroup.Group
	g.SetLimit(16)
	for _, h := range env.Inventory(b).Hosts {
		n := h.NATS()
		if n == nil {
			continue
		}
		g.Go(func() error {
			out, err := env.Lab.Exec(ctx, h.Name, "curl", "-sf", "--max-time", "5", "http://"+n.LocalMonitorAddr()+"/varz")
			if err != nil {
				return fmt.Errorf("%s: /varz: %v\n%s", h.Name, err, out)
			}
			var v struct{ Version string }
			if err := json.Unmarshal(out, &v); err != nil || v.Version != version {
				return fmt.Errorf("%s: /varz version %q, want %s (%v)", h.Name, v.Version, version, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
}

// removeRelease deletes a release directory from every host, so that the next upgrade to it
// transfers it again.
func removeRelease(ctx context.Context, b *testing.B, env *labtest.Env, version string) {
	b.Helper()
	var g errgroup.Group
	g.SetLimit(16)
	for _, h := range env.Lab.Hosts {
		g.Go(func() error {
			if out, err := env.Lab.Exec(ctx, h.Name, "rm", "-rf", inventory.InstallRoot+"/"+version); err != nil {
				return fmt.Errorf("%s: %v\n%s", h.Name, err, out)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
}

// phaseTime is how long phase took in an `apply --json` event stream: from its phase event
// to the next phase event; 0 when the phase did not run.
func phaseTime(tb testing.TB, out []byte, phase rollout.PhaseName) time.Duration {
	tb.Helper()
	var start time.Time
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e rollout.Event
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Type != rollout.EventPhase {
			continue
		}
		switch {
		case e.Phase == phase:
			start = e.Time
		case !start.IsZero():
			return e.Time.Sub(start)
		}
	}
	if start.IsZero() {
		tb.Logf("no %s phase in the apply's events", phase)
	}
	return 0
}

// batchSpans are the batches of an `apply --json` event stream, each from its first unit's
// start to its last unit's end (done, failed or rolled back): a unit's swap, its service's
// start and its gate, for the batch's slowest unit. Units of one batch start together and a
// batch begins when the one before has ended, so a batch is a run of events during which
// some unit is under way.
func batchSpans(tb testing.TB, out []byte) Series {
	tb.Helper()
	var spans Series
	open := map[string]bool{}
	var began time.Time
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e rollout.Event
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Unit == "" {
			continue
		}
		switch e.Type {
		case rollout.EventUnitStart:
			if len(open) == 0 {
				began = e.Time
			}
			open[e.Unit] = true
		case rollout.EventUnitDone, rollout.EventUnitFailed, rollout.EventRolledBack:
			if open[e.Unit] {
				delete(open, e.Unit)
				if len(open) == 0 {
					spans = append(spans, e.Time.Sub(began))
				}
			}
		}
	}
	if len(spans) == 0 {
		tb.Logf("no unit events in the apply's output")
	}
	return spans
}

// applyPhases is where an `apply --json` run's wall time went: before its first event (start,
// loading, planning), each phase (a wave named by its wave) to the next, and after its last
// event (the summary, exit).
func applyPhases(r cliRun) string {
	type span struct {
		name string
		from time.Time
	}
	var spans []span
	sc := bufio.NewScanner(bytes.NewReader(r.Out))
	sc.Buffer(nil, 1<<20)
	var lastEvent time.Time
	for sc.Scan() {
		var e rollout.Event
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Time.IsZero() {
			continue
		}
		lastEvent = e.Time
		if e.Type == rollout.EventPhase {
			name := string(e.Phase)
			if e.Wave != "" {
				name += " " + string(e.Wave)
			}
			spans = append(spans, span{name, e.Time})
		}
	}
	if len(spans) == 0 {
		return "no phase events"
	}
	parts := []string{"before the first phase " + secs(spans[0].from.Sub(r.Started))}
	for i, sp := range spans {
		end := lastEvent
		if i+1 < len(spans) {
			end = spans[i+1].from
		}
		parts = append(parts, sp.name+" "+secs(end.Sub(sp.from)))
	}
	parts = append(parts, "after the last event "+secs(r.Started.Add(r.Wall).Sub(lastEvent)))
	return strings.Join(parts, ", ")
}
