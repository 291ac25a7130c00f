package plan

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/latticepush/latticepush/inventory"
)

// Upgrade is a unit's release change (of nats-server, or of the wasmCloud host): the pinned
// release staged in its own directory on the host (uploaded once, checked against its
// sha256 there), then the inventory's binary path switched to it by an atomic symlink swap,
// then the restart.
type Upgrade struct {
	// Program is the binary's name in the release, "wasmcloud"; "" for nats-server.
	Program string `json:"program,omitempty"`
	// From is the release the binary path gives now (`<binary> --version`), "" when there is
	// none; Running is what the running server says (/varz version), "" when it does not run.
	From    string `json:"from,omitempty"`
	Running string `json:"running,omitempty"`
	To      string `json:"to"`
	// Platform is the host's (from `uname -m`); Source the artifact for it: a file on this
	// machine, or a URL; SHA256 its hash; Bytes what is uploaded or fetched (0 when the host
	// already holds the release, or fetches a URL whose size the inventory does not declare:
	// known once fetched).
	Platform string `json:"platform"`
	Source   string `json:"source"`
	SHA256   string `json:"sha256"`
	Bytes    int64  `json:"bytes"`
	// Upload is set when the host lacks the release (or a binary must be kept aside first):
	// the artifact is uploaded, or, when Fetch names the host's tool ("curl", "wget"),
	// fetched by the host from the URL in Source.
	Upload bool   `json:"upload,omitempty"`
	Fetch  string `json:"fetch,omitempty"`
	// Dir is where the release goes on the host (InstallRoot/<to>); Link the inventory's
	// binary path, which becomes a symlink to Dir/nats-server.
	Dir  string `json:"dir"`
	Link string `json:"link"`
	// Previous is what Link resolved to before (kept for rollback); KeepAside is set when Link
	// is a regular file, which the install moves into InstallRoot/<from> first.
	Previous  string `json:"previous,omitempty"`
	KeepAside bool   `json:"keep_aside,omitempty"`
	// Prune are the release directories removed once the unit passed its gate: all but the
	// new release and the previous one.
	Prune []string `json:"prune,omitempty"`
}

// Binary is the new release's binary on the host.
func (u *Upgrade) Binary() string { return path.Join(u.Dir, u.ProgramName()) }

// ProgramName is the program the release is of: "nats-server" or "wasmcloud".
func (u *Upgrade) ProgramName() string {
	if u.Program == "" {
		return inventory.ProgramNATS.Name
	}
	return u.Program
}

// Root is the install root the release goes under.
func (u *Upgrade) Root() string { return path.Dir(u.Dir) }

// Text is how plan shows the change: "upgrade 2.14.10 → 2.15.3", "downgrade …", "install 2.15.3"
// (nothing at the binary path gives a release yet), "reinstall 2.15.3" (the artifact changed).
func (u *Upgrade) Text() string {
	from := u.Running
	if from == "" {
		from = u.From
	}
	a, okA := inventory.ParseVersion(from)
	b, _ := inventory.ParseVersion(u.To)
	switch {
	case from == "" || !okA:
		return "install " + u.To
	case a.Compare(b) > 0:
		return "downgrade " + from + " → " + u.To
	case a.Compare(b) == 0 && u.From != u.To:
		return "install " + u.To // runs already, from another binary path
	case a.Compare(b) == 0:
		return "reinstall " + u.To
	}
	return "upgrade " + from + " → " + u.To
}

// LocalFile is what this machine holds at an artifact's source: its size and sha256, or why
// it could not be read.
type LocalFile struct {
	Size   int64
	SHA256 string
	Err    string
}

// VersionRule names a rule a release change must keep.
type VersionRule string

// The release rules. nats-server supports the current and the previous minor series, and
// there was no 2.13: a server is upgraded one minor series at a time, never below 2.11, and
// a JetStream server's store written by a newer minor may not be readable by an older one.
const (
	RuleMinimum      VersionRule = "minimum version"
	RuleOneMinor     VersionRule = "one minor at a time"
	RuleDowngrade    VersionRule = "downgrade across a minor"
	RuleFeatureFlags VersionRule = "feature_flags below 2.14"
	RuleFloor        VersionRule = "downgrade floor"
	RuleOneMajor     VersionRule = "one major release"
)

// VersionChange is a release change to judge.
type VersionChange struct {
	From, To inventory.Version
	// JetStream: the server runs JetStream or keeps JetStream state.
	JetStream bool
	// FeatureFlags: the server's config (desired or in place) sets feature_flags.
	FeatureFlags bool
	// AllowDowngrade is the operator's -allow-downgrade.
	AllowDowngrade bool
}

// VersionError is a release change a rule refuses.
type VersionError struct {
	Rule VersionRule
	Text string
}

func (e *VersionError) Error() string { return fmt.Sprintf("%s (rule %q)", e.Text, e.Rule) }

// minorsBetween counts the minor series a move from a to b crosses (2.14 → 2.15: 1; 2.12 →
// 2.14: 1, there was no 2.13).
func minorsBetween(a, b int) int {
	if a > b {
		a, b = b, a
	}
	n := 0
	for m := a + 1; m <= b; m++ {
		if m != 13 {
			n++
		}
	}
	return n
}

// CheckVersion applies the release rules to one change; nil when it may be made.
func CheckVersion(c VersionChange) *VersionError {
	from, to := c.From, c.To
	if to.Compare(inventory.MinVersion) < 0 {
		return &VersionError{RuleMinimum, fmt.Sprintf("%s is older than %s, the oldest release latticepush installs", to, inventory.MinVersion)}
	}
	if from == (inventory.Version{}) {
		return nil // nothing installed: any supported release
	}
	up := to.Compare(from) > 0
	if from.Major != to.Major {
		return &VersionError{RuleOneMinor, fmt.Sprintf("%s → %s changes the major release; latticepush moves a server within one major release only", from, to)}
	}
	if up && minorsBetween(from.Minor, to.Minor) > 1 {
		next := from.Minor + 1
		if next == 13 {
			next = 14
		}
		return &VersionError{RuleOneMinor, fmt.Sprintf("%s → %s skips a minor release: upgrade every server to the latest %d.%d.x first, apply, then pin %s",
			from, to, from.Major, next, to)}
	}
	if up || to.Compare(from) == 0 {
		return nil
	}
	if c.FeatureFlags && to.Compare(inventory.Version{Major: 2, Minor: 14}) < 0 && from.Compare(inventory.Version{Major: 2, Minor: 14}) >= 0 {
		return &VersionError{RuleFeatureFlags, fmt.Sprintf("%s → %s goes below 2.14 while the config sets feature_flags, which older releases refuse: remove feature_flags, apply, then downgrade", from, to)}
	}
	if from.Major == 2 && from.Minor == 12 && to.Compare(inventory.Version{Major: 2, Minor: 11, Patch: 9}) < 0 {
		return &VersionError{RuleFloor, fmt.Sprintf("%s → %s: a server that ran 2.12 may go back to 2.11.9 at the oldest", from, to)}
	}
	if from.Minor != to.Minor && c.JetStream && !c.AllowDowngrade {
		return &VersionError{RuleDowngrade, fmt.Sprintf("%s → %s downgrades a JetStream server to an older minor release, whose store format may differ (the first start rebuilds stream state, slowly): re-run with -allow-downgrade to do it anyway",
			from, to)}
	}
	return nil
}

// decideInstall decides a nats-server unit's release change when the inventory pins one
// (decideRelease), judged by nats-server's release rules (checkRelease).
func decideInstall(inv *inventory.Inventory, h *inventory.Host, n *inventory.NATS, u *Unit, f Facts, files []DesiredFile, opts Options) error {
	nf := f.NATS
	if n.Install == nil || nf == nil {
		return nil
	}
	rf := ReleaseFacts{Machine: nf.Machine, BinaryPath: nf.BinaryPath, Installed: nf.Installed, Running: nf.Running,
		Releases: nf.Releases, Fetcher: nf.Fetcher}
	return decideRelease(inv, h, n.Install, n.Binary, rf, u, opts, func(up *Upgrade) error {
		return checkRelease(h, n, up, nf, files, opts.AllowDowngrade)
	})
}

// decideWasmcloudInstall decides a wasmCloud unit's release change when the inventory pins
// one: the same as nats-server's, within one major release.
func decideWasmcloudInstall(inv *inventory.Inventory, h *inventory.Host, u *Unit, f Facts, opts Options) error {
	w := h.Wasmcloud
	if w == nil || w.Install == nil || f.Wasmcloud == nil {
		return nil
	}
	return decideRelease(inv, h, w.Install, w.Binary, *f.Wasmcloud, u, opts, func(up *Upgrade) error {
		if err := CheckWasmcloudVersion(up.Running, up.From, up.To); err != nil {
			return fmt.Errorf("%s: wasmcloud %s refused: %s at %s", h.Name, up.Text(), err, posOf(w.Install.VersionRange))
		}
		return nil
	})
}

// CheckWasmcloudVersion applies the wasmCloud host's release rules to a change from what
// runs (else what is installed) to the pinned release: not older than the oldest release
// latticepush installs, and within one major release (1.x speaks the control interface
// latticepush checks hosts with). nil when it may be made.
func CheckWasmcloudVersion(running, installed, pinned string) *VersionError {
	to, ok := inventory.ParseVersion(pinned)
	if !ok {
		return &VersionError{RuleMinimum, fmt.Sprintf("%q is not a release number", pinned)}
	}
	if to.Compare(inventory.MinWasmcloudVersion) < 0 {
		return &VersionError{RuleMinimum, fmt.Sprintf("%s is older than %s, the oldest release latticepush installs", to, inventory.MinWasmcloudVersion)}
	}
	for _, v := range []string{running, installed} {
		if from, ok := inventory.ParseVersion(v); ok {
			if from.Major != to.Major {
				return &VersionError{RuleOneMajor, fmt.Sprintf("%s → %s changes the major release; latticepush moves a wasmCloud host within one major release only", from, to)}
			}
			return nil
		}
	}
	return nil
}

// decideRelease decides a unit's change to the pinned release in: the host's platform must
// have an artifact, the local file must match its sha256, and the change must keep the
// program's release rules (check). A unit whose binary path (link) already gives the
// release, and whose running program runs it, changes nothing here.
func decideRelease(inv *inventory.Inventory, h *inventory.Host, in *inventory.Install, link string, rf ReleaseFacts, u *Unit, opts Options, check func(*Upgrade) error) error {
	prog := in.Program
	platform, ok := inventory.PlatformOf(rf.Machine)
	if !ok {
		return fmt.Errorf("%s: `uname -m` says %q, a machine latticepush has no platform for (it knows %s): this host cannot take %s version %s pinned at %s",
			h.Name, rf.Machine, strings.Join(inventory.Platforms, ", "), prog.Name, in.Version, posOf(in.VersionRange))
	}
	art, ok := in.Artifacts[platform]
	if !ok {
		return fmt.Errorf("%s: the host is %s (`uname -m`: %s) but %s version %s pinned at %s has no artifact for it: add artifact %q { source = \"…\", sha256 = \"…\" } there",
			h.Name, platform, rf.Machine, prog.Name, in.Version, posOf(in.VersionRange), platform)
	}
	src := inv.SourcePath(art)
	local, haveLocal := opts.Artifacts[src]
	if art.IsURL() {
		haveLocal = false
	}
	if haveLocal {
		switch {
		case local.Err != "":
			return fmt.Errorf("%s: artifact %q at %s: %s", h.Name, platform, posOf(art.DeclRange), local.Err)
		case local.SHA256 != art.SHA256:
			return fmt.Errorf("%s: artifact %q: %s has sha256 %s but %s says %s: it is not the release pinned; nothing was uploaded. Download the release file again, or correct sha256 if the release's published checksum says so",
				h.Name, platform, src, local.SHA256, posOf(art.DeclRange), art.SHA256)
		}
	}
	inPlace := rf.BinaryPath == in.Binary() && rf.Releases[in.Version] == art.SHA256 && rf.Installed == in.Version
	runs := !u.WasRunning || rf.Running == "" || rf.Running == in.Version
	if inPlace && runs {
		return nil
	}
	up := &Upgrade{From: rf.Installed, Running: rf.Running, To: in.Version, Platform: platform, Source: src, SHA256: art.SHA256,
		Dir: in.Dir(), Link: link}
	if prog != inventory.ProgramNATS {
		up.Program = prog.Name
	}
	if rf.Installed != "" { // a binary is there (readlink -f names a missing one too)
		up.Previous = rf.BinaryPath
	}
	up.KeepAside = up.Previous != "" && !strings.HasPrefix(up.Previous, prog.Root+"/")
	up.Upload = rf.Releases[in.Version] != art.SHA256 || up.KeepAside
	if up.Upload && haveLocal {
		up.Bytes = local.Size
	}
	if up.Upload && art.IsURL() {
		if rf.Fetcher == "" {
			return fmt.Errorf("%s: %s version %s pinned at %s is fetched by each host from %s, but this host has neither curl nor wget: install curl (or wget) on it, or give artifact %q a file on this machine as source to upload it",
				h.Name, prog.Name, in.Version, posOf(in.VersionRange), inventory.RedactURL(src), platform)
		}
		up.Fetch = rf.Fetcher
		up.Bytes = art.Size
	}
	switch {
	case up.KeepAside:
		// A binary the operator put there: kept in the install root under its version
		// (another name when that is the pinned one, or unknown), the rollback's target.
		kept := rf.Installed
		if kept == "" || kept == in.Version {
			kept = "previous"
		}
		up.Previous = path.Join(prog.Root, kept, prog.Name)
	case inPlace && rf.Running != "" && hasRelease(rf.Releases, rf.Running):
		// The link was switched but the program still runs the release before: back to that.
		up.Previous = path.Join(prog.Root, rf.Running, prog.Name)
	}
	if err := check(up); err != nil {
		return err
	}
	up.Prune = pruneList(prog.Root, rf.Releases, in.Version, up.Previous)
	u.Upgrade = up
	u.DesiredDigest = "" // the new binary prints it in apply's pre-check
	if u.Action == Noop || u.Action == Reload {
		if u.WasRunning {
			u.Action = Restart
		}
	}
	if u.Action != Start || !u.Start {
		u.Reasons = append(u.Reasons, up.Text())
	}
	return nil
}

// checkRelease refuses a change the release rules forbid: judged from what runs (else what
// is installed) to the pinned version.
func checkRelease(h *inventory.Host, n *inventory.NATS, up *Upgrade, nf *NATSFacts, files []DesiredFile, allowDowngrade bool) error {
	to, ok := inventory.ParseVersion(up.To)
	if !ok {
		return fmt.Errorf("%s: version %q is not a release number", h.Name, up.To)
	}
	var from inventory.Version
	for _, v := range []string{up.Running, up.From} {
		if p, ok := inventory.ParseVersion(v); ok {
			from = p
			break
		}
	}
	flags := false
	for _, d := range files {
		if d.Path == n.ConfigFile && strings.Contains(string(d.Content), "feature_flags") {
			flags = true
		}
	}
	js := nf.JetStream || nf.StoreState || h.Hub != nil || n.JetStreamDomain != ""
	if err := CheckVersion(VersionChange{From: from, To: to, JetStream: js, FeatureFlags: flags, AllowDowngrade: allowDowngrade}); err != nil {
		return fmt.Errorf("%s: nats-server %s refused: %s at %s", h.Name, up.Text(), err, posOf(n.Install.VersionRange))
	}
	return nil
}

// hasRelease says the host holds release v under the install root (a binary kept aside there
// has no artifact sha256).
func hasRelease(releases map[string]string, v string) bool {
	_, ok := releases[v]
	return ok
}

// pruneList is every release directory under root but the new one and the one kept for
// rollback.
func pruneList(root string, releases map[string]string, to, previous string) []string {
	var out []string
	for v := range releases {
		dir := path.Join(root, v)
		if v == to || (previous != "" && strings.HasPrefix(previous, dir+"/")) {
			continue
		}
		out = append(out, dir)
	}
	sort.Strings(out)
	return out
}

// posOf is a source position as file:line.
func posOf(r hcl.Range) string { return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line) }

// installPending reports whether a pinned release is still to be put in place on the host:
// the binary path does not give it yet. Such a unit's config is checked by the new
// release's -t in apply's pre-check, not by the binary the host has now (which may be
// missing, or older than what the config needs).
func installPending(n *inventory.NATS, nf *NATSFacts) bool {
	in := n.Install
	return in != nil && (nf.BinaryPath != in.Binary() || nf.Installed != in.Version)
}

// upgradesWithCutover refuses a release change in the plan of a JetStream domain cutover:
// the cutover stops and starts every hub at once, and one change at a time keeps each
// gated and reversible.
func upgradesWithCutover(p *Plan) error {
	if p.Cutover == nil {
		return nil
	}
	var hosts []string
	for _, u := range p.Units {
		if u.Upgrade != nil {
			hosts = append(hosts, u.Host)
		}
	}
	if len(hosts) == 0 {
		return nil
	}
	return fmt.Errorf("the JetStream domain changes (%s → %s) and nats-server changes release on %s: make one change at a time: keep the version the hosts run for the cutover, then pin the new release",
		p.Cutover.From, p.Cutover.To, strings.Join(hosts, ", "))
}
