package service

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/supervisor"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// recorder is a Runner that records the exact command lines it is given.
type recorder struct {
	lines  []string
	stdout string
	fail   bool
}

func (r *recorder) Run(_ context.Context, argv []string, opts remote.RunOptions) (remote.Result, error) {
	line, err := remote.Command(argv)
	if err != nil {
		return remote.Result{}, err
	}
	if opts.Become {
		line = "[become] " + line
	}
	r.lines = append(r.lines, line)
	res := remote.Result{Stdout: []byte(r.stdout)}
	if r.fail {
		res.ExitCode = 3
		return res, &remote.ExitError{Argv: argv, Result: res}
	}
	return res, nil
}

func transcript(t *testing.T, kind string, opt Options) string {
	rec := &recorder{stdout: "run: /etc/service/nats: (pid 42) 10s\n"}
	sup, err := supervisor.For(kind)
	if err != nil {
		t.Fatal(err)
	}
	m := New(sup, rec, opt)
	ctx := context.Background()
	for _, step := range []func() error{
		func() error { return m.DaemonReload(ctx) },
		func() error { return m.Supervise(ctx, "nats") },
		func() error { return m.Enable(ctx, "nats") },
		func() error { return m.Disable(ctx, "nats") },
		func() error { return m.Start(ctx, "nats") },
		func() error { return m.Reload(ctx, "nats") },
		func() error { return m.Restart(ctx, "nats") },
		func() error {
			ok, err := m.IsActive(ctx, "nats")
			if !ok {
				t.Errorf("%s: IsActive false", kind)
			}
			return err
		},
		func() error { return m.GracefulStop(ctx, "nats", "USR2") },
		func() error { return m.Stop(ctx, "nats") },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	return strings.Join(rec.lines, "\n") + "\n"
}

func TestCommandLines_MatchGolden(t *testing.T) {
	for _, kind := range []string{"systemd", "runit"} {
		t.Run(kind, func(t *testing.T) {
			got := transcript(t, kind, Options{Become: true, Wait: 30 * time.Second})
			golden := filepath.Join("testdata", kind+".golden")
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("%s commands changed; diff against %s (go test -update to accept):\n%s", kind, golden, got)
			}
		})
	}
}

func TestIsActive_NonZeroExitMeansInactive(t *testing.T) {
	for _, kind := range []string{"systemd", "runit"} {
		sup, _ := supervisor.For(kind)
		m := New(sup, &recorder{fail: true}, Options{})
		if ok, err := m.IsActive(context.Background(), "nats"); ok || err != nil {
			t.Errorf("%s: got %v, %v; want inactive, no error", kind, ok, err)
		}
	}
	if _, err := supervisor.For("upstart"); err == nil {
		t.Error("unknown supervisor accepted")
	}
}
