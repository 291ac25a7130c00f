package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/lab"
	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/internal/testenv"
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
)

// pinnedState is what a refused release change must leave as it was on a host: where the
// binary path points, the release directories, the nats-server's pid, and the upload
// directory's content (which must be empty: nothing half-fetched or half-uploaded).
type pinnedState struct{ link, releases, pid, uploads string }

func pinnedStates(t *testing.T, ctx context.Context, env *labtest.Env, hosts ...string) map[string]pinnedState {
	t.Helper()
	out := map[string]pinnedState{}
	for _, h := range hosts {
		b, err := env.Lab.Exec(ctx, h, "sh", "-c", `r=/opt/latticepush/nats-server
printf '%s\n' "$(readlink /usr/local/bin/nats-server)" "$(echo $(ls $r 2>/dev/null))" \
  "$(cat /etc/service/nats-server/supervise/pid 2>/dev/null)" "$(echo $(ls -A $r/.uploads 2>/dev/null))"`)
		if err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		f := strings.SplitN(strings.TrimRight(string(b), "\n"), "\n", 4)
		for len(f) < 4 {
			f = append(f, "")
		}
		out[h] = pinnedState{link: f[0], releases: f[1], pid: f[2], uploads: f[3]}
	}
	return out
}

// TestUpgrade_FetchedByHosts starts a lab on nats-server v2.14.10 and serves release archives
// from an HTTP server on the lab bridge's address. With the hubs uploading v2.15.3 from a
// file and the leaf fetching it from a URL: a URL that answers 404, one serving another file
// (checksum mismatch) and one that stalls are each refused on the leaf, with an error naming
// the host and the URL (its query string left out), nothing half-fetched left and nothing
// changed on any host; then the good URL: one apply puts 2.15.3 on every host, every /varz
// says so, and the plan is empty afterwards.
func TestUpgrade_FetchedByHosts(t *testing.T) {
	began := time.Now()
	old := testenv.NATSRelease(t, "v2.14.10")
	newBin, err := os.ReadFile(testenv.NATSRelease(t, "v2.15.3"))
	if err != nil {
		t.Fatal(err)
	}
	oldBin, err := os.ReadFile(old)
	if err != nil {
		t.Fatal(err)
	}
	env := labtest.Up(t, labtest.Spec{Edges: 1, NATSServer: old, Init: lab.InitRunit})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	all := []string{"hub-1", "hub-2", "hub-3", "edge-1"}

	dist := t.TempDir()
	archive, sum := releaseArchive(t, dist, "2.15.3", newBin)
	served, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := releaseArchive(t, t.TempDir(), "2.14.10", oldBin)
	otherBody, err := os.ReadFile(other)
	if err != nil {
		t.Fatal(err)
	}
	// The server listens on the bridge's address, the lab hosts' gateway, and nowhere else.
	gw := env.Lab.Subnet.Addr().Next()
	if !env.Lab.Subnet.Contains(gw) {
		t.Fatalf("bridge address %s outside the lab subnet %s", gw, env.Lab.Subnet)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(gw.String(), "0"))
	if err != nil {
		t.Fatalf("listening on the lab bridge: %v", err)
	}
	stop := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/release.tar.gz":
			w.Write(served)
		case "/other.tar.gz":
			w.Write(otherBody)
		case "/stall.tar.gz":
			w.Header().Set("Content-Length", fmt.Sprint(len(served)))
			w.Write(served[:4096])
			w.(http.Flusher).Flush()
			select {
			case <-stop:
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	defer close(stop)
	base := "http://" + ln.Addr().String()

	src, err := os.ReadFile(env.Path)
	if err != nil {
		t.Fatal(err)
	}
	orig := string(src)
	pinned := func(url string) string {
		return pinIn(t, pinIn(t, orig, "2.15.3", archive, sum, "hub"), "2.15.3", url, sum, "leaf")
	}

	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("initial apply on 2.14.10: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}

	for _, tc := range []struct{ name, path, says string }{
		{"NotFound", "/missing.tar.gz", "404"},
		{"ChecksumMismatch", "/other.tar.gz", "has sha256 "},
		{"Stall", "/stall.tar.gz", "Operation too slow"},
	} {
		t.Run(tc.name+"Refused", func(t *testing.T) {
			url := base + tc.path + "?token=s3cret"
			env.Edit(t, func(string) string { return pinned(url) })
			defer env.Edit(t, func(string) string { return orig })
			before := pinnedStates(t, ctx, env, all...)
			s := newSession(t, env, plan.Options{})
			p := s.plan(ctx)
			if u := p.Unit("edge-1/nats-server"); u == nil || u.Upgrade == nil || u.Upgrade.Fetch != "curl" {
				t.Fatalf("edge-1 does not fetch: %+v", u)
			}
			tried := time.Now()
			_, err := s.apply(ctx, p)
			msg := fmt.Sprint(err)
			want := "edge-1/nats-server: fetching " + base + tc.path + "?… with curl: "
			if err == nil || !strings.Contains(msg, want) || !strings.Contains(msg, tc.says) || !strings.Contains(msg, "nothing was switched or restarted") {
				t.Fatalf("apply: %v\nwant an error with %q and %q", err, want, tc.says)
			}
			if strings.Contains(msg, "s3cret") {
				t.Errorf("the error shows the URL's query string: %s", msg)
			}
			after := pinnedStates(t, ctx, env, all...)
			for _, h := range all {
				if after[h] != before[h] || after[h].uploads != "" {
					t.Errorf("%s changed after a refused fetch:\nbefore %+v\nafter  %+v", h, before[h], after[h])
				}
			}
			for h, v := range runningVersions(t, ctx, s) {
				if v != "2.14.10" {
					t.Errorf("%s: /varz version %s after a refused fetch", h, v)
				}
			}
			t.Logf("refused in %.1fs: %s", time.Since(tried).Seconds(), msg)
		})
	}
	if t.Failed() {
		return
	}

	t.Run("UploadAndFetchInOneApply", func(t *testing.T) {
		env.Edit(t, func(string) string { return pinned(base + "/release.tar.gz?token=s3cret") })
		s := newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		for _, h := range all {
			u := p.Unit(h + "/nats-server")
			if u == nil || u.Upgrade == nil || u.Upgrade.Text() != "upgrade 2.14.10 → 2.15.3" || !u.Upgrade.Upload {
				t.Fatalf("%s: %+v", h, u)
			}
			if fetch := h == "edge-1"; (u.Upgrade.Fetch == "curl") != fetch || (u.Upgrade.Bytes == 0) != fetch {
				t.Errorf("%s: fetch %q bytes %d", h, u.Upgrade.Fetch, u.Upgrade.Bytes)
			}
		}
		applied := time.Now()
		if res, err := s.apply(ctx, p); err != nil || res.VerifyError != "" {
			t.Fatalf("apply: %v %s\nresults: %v", err, res.VerifyError, results(res))
		}
		took := time.Since(applied)
		for h, v := range runningVersions(t, ctx, s) {
			if v != "2.15.3" {
				t.Errorf("%s: /varz version %s, want 2.15.3", h, v)
			}
		}
		for h, st := range pinnedStates(t, ctx, env, all...) {
			if st.link != inventory.InstallRoot+"/2.15.3/nats-server" || st.uploads != "" {
				t.Errorf("%s: %+v", h, st)
			}
		}
		if p2 := newSession(t, env, plan.Options{}).plan(ctx); p2.HasChanges() {
			t.Errorf("plan after the upgrade: %s", p2.Summary())
		}
		t.Logf("3 hubs uploaded, edge-1 fetched: apply %.1fs", took.Seconds())
	})
	t.Logf("test %.1fs in all", time.Since(began).Seconds())
}
