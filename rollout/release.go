package rollout

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/latticepush/latticepush/internal/poll"
	"github.com/latticepush/latticepush/plan"
)

// PhaseRelease uploads (or has the hosts fetch), checks and unpacks the pinned releases
// (of nats-server, of the wasmCloud host).
const PhaseRelease PhaseName = "release"

// Releases is what a Host does for a pinned release (plan.Upgrade). Package
// fleet's hosts implement it; a host without it cannot take a unit with an upgrade.
type Releases interface {
	// UploadRelease uploads the artifact (or, when up.Fetch is set, has the host fetch it
	// from its URL) and checks its sha256 on the host; it returns the file's path on the
	// host. On failure nothing is left there. Nothing that runs changes.
	UploadRelease(ctx context.Context, up plan.Upgrade) (string, error)
	// InstallRelease unpacks a checked upload into up.Dir (by a temporary directory renamed
	// into place) and keeps a binary the operator put at up.Link aside as up.Previous.
	InstallRelease(ctx context.Context, up plan.Upgrade, upload string) error
	// DiscardUpload removes an upload that will not be installed.
	DiscardUpload(ctx context.Context, upload string) error
	// SwitchBinary makes link a symlink to target, atomically.
	SwitchBinary(ctx context.Context, link, target string) error
	// PruneReleases removes release directories.
	PruneReleases(ctx context.Context, dirs []string) error
	// RunningVersion is what the unit's running program says it runs: a nats-server's /varz
	// version, a wasmCloud host's host.get version.
	RunningVersion(ctx context.Context, u *plan.Unit) (string, error)
}

// releasePhase puts every pinned release on every host that needs it before anything else
// changes: first every artifact is uploaded (or fetched by the host) and checked against its
// sha256 on its host; only
// when every host's checked out is any unpacked (each into a temporary directory renamed
// into place). A failure removes the uploads and stops the apply with nothing switched or
// restarted.
type releasePhase struct{}

func (releasePhase) Title() PhaseName { return PhaseRelease }
func (releasePhase) Skip(r *run) bool {
	for _, u := range r.p.Units {
		if u.Upgrade != nil {
			return false
		}
	}
	return true
}

func (releasePhase) Run(ctx context.Context, a *run) error {
	type job struct {
		u      *plan.Unit
		h      Releases
		upload string
	}
	var jobs []*job
	var bytes int64
	var uploads, fetches int
	progs := map[string]bool{}
	for _, u := range a.p.Units {
		if u.Upgrade == nil {
			continue
		}
		h, ok := releasesOf(a.hosts[u.Host])
		if !ok {
			return fmt.Errorf("%s: this host cannot install releases; nothing was changed", u.ID())
		}
		jobs = append(jobs, &job{u: u, h: h})
		progs[u.Upgrade.ProgramName()] = true
		switch {
		case !u.Upgrade.Upload:
		case u.Upgrade.Fetch != "":
			fetches++
		default:
			uploads++
			bytes += u.Upgrade.Bytes
		}
	}
	what := "nats-server"
	switch {
	case len(progs) > 1:
		what = "nats-server and wasmcloud"
	case progs["wasmcloud"]:
		what = "wasmcloud"
	}
	var msg []string
	if uploads > 0 {
		msg = append(msg, fmt.Sprintf("uploading %s releases to %d hosts (%s)", what, uploads, humanBytes(bytes)))
	}
	switch {
	case fetches == 1:
		msg = append(msg, "1 host fetches its own")
	case fetches > 1:
		msg = append(msg, fmt.Sprintf("%d hosts fetch their own", fetches))
	}
	if len(msg) == 0 {
		msg = append(msg, fmt.Sprintf("%s releases already on their %d hosts", what, len(jobs)))
	}
	a.phase(PhaseRelease, strings.Join(msg, "; "))
	var mu sync.Mutex
	var errs []error
	each := func(fn func(ctx context.Context, j *job) error) {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(a.opts.Parallelism)
		for _, j := range jobs {
			g.Go(func() error {
				if err := fn(gctx, j); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", j.u.ID(), plan.WithoutHost(j.u.Host, err)))
					mu.Unlock()
				}
				return nil
			})
		}
		_ = g.Wait()
	}
	each(func(ctx context.Context, j *job) error {
		if !j.u.Upgrade.Upload {
			return nil // the host holds the release already
		}
		up, err := j.h.UploadRelease(ctx, *j.u.Upgrade)
		j.upload = up
		return err
	})
	if err := ctx.Err(); err == nil && len(errs) == 0 {
		each(func(ctx context.Context, j *job) error {
			if j.upload == "" {
				return nil
			}
			err := j.h.InstallRelease(ctx, *j.u.Upgrade, j.upload)
			j.upload = ""
			return err
		})
	}
	if len(errs) == 0 {
		return ctx.Err()
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for _, j := range jobs {
		if j.upload != "" {
			if err := j.h.DiscardUpload(cctx, j.upload); err != nil {
				a.emit(Event{Type: EventWarning, Host: j.u.Host, Message: "removing the upload failed: " + err.Error()})
			}
		}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return fmt.Errorf("installing %s releases failed; nothing was switched or restarted:\n%w", what, errors.Join(errs...))
}

// releasesOf is h as Releases, looking through the run's own wrapper (changeRecorder): a
// Host that installs releases must never look as if it could not.
func releasesOf(h Host) (Releases, bool) {
	if c, ok := h.(changeRecorder); ok {
		h = c.Host
	}
	r, ok := h.(Releases)
	return r, ok
}

// switchRelease points a unit's binary path at its new release.
func (a *run) switchRelease(ctx context.Context, h Host, u *plan.Unit) error {
	r, ok := releasesOf(h)
	if !ok {
		return fmt.Errorf("this host cannot install releases")
	}
	return r.SwitchBinary(ctx, u.Upgrade.Link, u.Upgrade.Binary())
}

// switchBack points a rolled-back unit's binary path at the release it had.
func (a *run) switchBack(ctx context.Context, h Host, u *plan.Unit) error {
	r, ok := releasesOf(h)
	if !ok || u.Upgrade.Previous == "" {
		return nil
	}
	if err := r.SwitchBinary(ctx, u.Upgrade.Link, u.Upgrade.Previous); err != nil {
		return fmt.Errorf("switching back to %s: %w", u.Upgrade.Previous, err)
	}
	return nil
}

// confirmVersion waits until the running program reports the pinned version (nats-server in
// /varz, the wasmCloud host in its host.get answer): the only proof of what runs.
func (a *run) confirmVersion(ctx context.Context, h Host, u *plan.Unit) error {
	r, ok := releasesOf(h)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.opts.ConfirmTimeout)
	defer cancel()
	var last string
	var lastErr error
	wait := poll.New(10*time.Millisecond, 200*time.Millisecond)
	for {
		v, err := r.RunningVersion(ctx, u)
		if err == nil && v == u.Upgrade.To {
			return nil
		}
		last, lastErr = v, err
		if !wait.Wait(ctx) {
			prog, where := "nats-server", "/varz"
			if u.Service == plan.ServiceWasmcloud {
				prog, where = "wasmcloud", "host.get"
			}
			if lastErr != nil {
				return fmt.Errorf("%s %s was not confirmed: %s unanswered: %v", prog, u.Upgrade.To, where, lastErr)
			}
			return fmt.Errorf("%s %s was not confirmed: %s says version %s", prog, u.Upgrade.To, where, last)
		}
	}
}

// pruneReleases removes the release directories a unit no longer needs, once it passed its
// gate; a failure is a warning.
func (a *run) pruneReleases(ctx context.Context, h Host, u *plan.Unit) {
	r, ok := releasesOf(h)
	if !ok || len(u.Upgrade.Prune) == 0 {
		return
	}
	if err := r.PruneReleases(ctx, u.Upgrade.Prune); err != nil {
		a.emit(Event{Type: EventWarning, Host: u.Host, Message: "removing old " + u.Upgrade.ProgramName() + " releases failed: " + err.Error()})
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
