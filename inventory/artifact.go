package inventory

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// InstallRoot is where hosts keep the nats-server releases latticepush installs, one
// directory per version (InstallRoot/<version>/nats-server); the inventory's binary path
// becomes a symlink to one of them. WasmcloudInstallRoot is the same for the wasmCloud host
// binary (WasmcloudInstallRoot/<version>/wasmcloud).
const (
	InstallRoot          = "/opt/latticepush/nats-server"
	WasmcloudInstallRoot = "/opt/latticepush/wasmcloud"
)

// MinVersion is the oldest nats-server release latticepush installs; MinWasmcloudVersion
// the oldest wasmCloud host (1.x speaks the versioned control interface latticepush uses).
var (
	MinVersion          = Version{2, 11, 0, ""}
	MinWasmcloudVersion = Version{1, 0, 0, ""}
)

// Program is a binary latticepush installs releases of: its file name in a release, where
// hosts keep its releases and the oldest release it installs.
type Program struct {
	Name string // "nats-server", "wasmcloud"
	Root string
	Min  Version
}

// The programs latticepush installs.
var (
	ProgramNATS      = Program{Name: "nats-server", Root: InstallRoot, Min: MinVersion}
	ProgramWasmcloud = Program{Name: "wasmcloud", Root: WasmcloudInstallRoot, Min: MinWasmcloudVersion}
)

// artifactBlock is one `artifact "linux/amd64" { source = "...", sha256 = "..." }` inside a
// nats block that pins a version.
type artifactBlock struct {
	Platform string  `hcl:"platform,label"`
	Source   string  `hcl:"source"`
	SHA256   *string `hcl:"sha256,optional"`
	Size     *int64  `hcl:"size,optional"`

	DeclRange     hcl.Range `hcl:",def_range"`
	PlatformRange hcl.Range `hcl:"platform,label_range"`
	SourceRange   hcl.Range `hcl:"source,attr_range"`
	SHA256Range   hcl.Range `hcl:"sha256,attr_range"`
	SizeRange     hcl.Range `hcl:"size,attr_range"`
}

// Install is a pinned release of a program (nats-server, wasmcloud): its version and one
// artifact per platform. The block (role or host) that sets version supplies the artifacts;
// a more specific block that sets version replaces both.
type Install struct {
	Program   Program
	Version   string
	Artifacts map[string]Artifact // by platform, "linux/amd64"
	// VersionRange points at the version attribute, DeclRange at its nats block.
	VersionRange hcl.Range
	DeclRange    hcl.Range
}

// Artifact is one platform's release file: a release archive (.tar.gz, .tgz, .zip) holding
// the program's binary, or the binary itself. Its source is a file on the machine running
// latticepush, uploaded to each host, or an http(s) URL each host fetches itself.
type Artifact struct {
	Platform string
	// Source is the path or URL as written; SourcePath resolves a path against the
	// inventory's directory.
	Source string
	SHA256 string // hex, lower case
	// Size is the artifact's size in bytes when the inventory declares it (0 when not): a
	// fetch that brings more or fewer bytes is refused, and plan shows it as a fetch's size.
	Size        int64
	DeclRange   hcl.Range
	SourceRange hcl.Range
}

// Dir is where a host keeps this release: the program's root/<version>.
func (i *Install) Dir() string { return path.Join(i.Program.Root, i.Version) }

// Binary is the release's binary on a host: Dir/<program>.
func (i *Install) Binary() string { return path.Join(i.Dir(), i.Program.Name) }

// IsURL says the artifact's source is a URL the hosts fetch (validation allows http and
// https only), not a file on this machine.
func (a Artifact) IsURL() bool { return isURL(a.Source) }

var schemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

func isURL(s string) bool { return schemeRE.MatchString(s) }

// RedactURL is a URL as messages show it: without credentials, query string or fragment (a
// query string may hold an access token). Anything not a URL is returned as it is.
func RedactURL(s string) string {
	if !isURL(s) {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		// Not parseable: cut at the first '?' or '#' and drop any user info by hand.
		if i := strings.IndexAny(s, "?#"); i >= 0 {
			s = s[:i] + "?…"
		}
		if at := strings.LastIndex(s, "@"); at >= 0 {
			if i := strings.Index(s, "://"); i >= 0 && i < at {
				s = s[:i+3] + s[at+1:]
			}
		}
		return s
	}
	q := u.RawQuery != "" || u.ForceQuery
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	out := u.String()
	if q {
		out += "?…"
	}
	return out
}

// SourcePath is the artifact's file on this machine: Source, relative to the inventory's
// directory unless absolute; a URL as it is.
func (inv *Inventory) SourcePath(a Artifact) string {
	if a.IsURL() || filepath.IsAbs(a.Source) {
		return a.Source
	}
	return filepath.Join(inv.Dir, a.Source)
}

// Platforms are the platforms an artifact may be for, as Go names them (nats-server's
// release archives use the same names, with arm6 and arm7 for 32-bit ARM).
var Platforms = []string{"linux/386", "linux/amd64", "linux/arm6", "linux/arm7", "linux/arm64", "linux/ppc64le", "linux/s390x"}

// unameMachines maps `uname -m` to a platform.
var unameMachines = map[string]string{
	"x86_64": "linux/amd64", "amd64": "linux/amd64",
	"aarch64": "linux/arm64", "arm64": "linux/arm64",
	"armv7l": "linux/arm7", "armv6l": "linux/arm6",
	"i386": "linux/386", "i686": "linux/386",
	"ppc64le": "linux/ppc64le", "s390x": "linux/s390x",
}

// PlatformOf returns the platform of a Linux host whose `uname -m` prints machine, or false
// for a machine latticepush has no platform for.
func PlatformOf(machine string) (string, bool) {
	p, ok := unameMachines[strings.TrimSpace(machine)]
	return p, ok
}

// Version is a nats-server release number.
type Version struct {
	Major, Minor, Patch int
	Pre                 string // "-beta.1", or empty
}

var versionRE = regexp.MustCompile(`^v?([0-9]{1,4})\.([0-9]{1,4})\.([0-9]{1,4})(-[0-9A-Za-z.]+)?$`)

// ParseVersion reads "2.15.3" (or "v2.15.3", "2.15.3-beta.1").
func ParseVersion(s string) (Version, bool) {
	m := versionRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Version{}, false
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	c, _ := strconv.Atoi(m[3])
	return Version{a, b, c, m[4]}, true
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d%s", v.Major, v.Minor, v.Patch, v.Pre) }

// Compare orders releases: -1, 0 or 1. A pre-release sorts before its release.
func (v Version) Compare(o Version) int {
	for _, d := range [][2]int{{v.Major, o.Major}, {v.Minor, o.Minor}, {v.Patch, o.Patch}} {
		switch {
		case d[0] < d[1]:
			return -1
		case d[0] > d[1]:
			return 1
		}
	}
	switch {
	case v.Pre == o.Pre:
		return 0
	case v.Pre == "":
		return 1
	case o.Pre == "":
		return -1
	case v.Pre < o.Pre:
		return -1
	}
	return 1
}

// applyInstall takes the block's pinned release, when it sets version.
func applyInstall(n *NATS, b *natsBlock) {
	if in := pinned(ProgramNATS, b.Version, b.Artifacts, b.Body, b.DeclRange); in != nil {
		n.Install = in
	}
}

// applyWasmcloudInstall takes the wasmcloud block's pinned release, when it sets version.
func applyWasmcloudInstall(w *Wasmcloud, b *wasmcloudBlock) {
	if in := pinned(ProgramWasmcloud, b.Version, b.Artifacts, b.Body, b.DeclRange); in != nil {
		w.Install = in
	}
}

func pinned(prog Program, version *string, artifacts []artifactBlock, body hcl.Body, decl hcl.Range) *Install {
	if version == nil {
		return nil
	}
	in := &Install{Program: prog, Version: strings.TrimPrefix(*version, "v"), Artifacts: map[string]Artifact{}, DeclRange: decl}
	in.VersionRange, _ = attrRange(body, "version")
	for _, ab := range artifacts {
		if _, dup := in.Artifacts[ab.Platform]; dup {
			continue // validate reports it
		}
		var size int64
		if ab.Size != nil {
			size = *ab.Size
		}
		in.Artifacts[ab.Platform] = Artifact{Platform: ab.Platform, Source: ab.Source, SHA256: strings.ToLower(deref(ab.SHA256, "")),
			Size: size, DeclRange: ab.DeclRange, SourceRange: ab.SourceRange}
	}
	return in
}

var sha256RE = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

// pinBlock is a block that may pin a release: a nats or a wasmcloud block.
type pinBlock struct {
	prog      Program
	block     string // "nats", "wasmcloud"
	version   *string
	artifacts []artifactBlock
	body      hcl.Body
}

// installs checks every nats and wasmcloud block's pinned release: a release number not
// older than the program's oldest, at least one artifact, each for a known platform, with a
// sha256 and a source file that exists here; artifacts only next to a version; the binary
// outside the program's install root.
func (v *validator) installs() {
	defer v.on(nil)
	v.on(nil)
	type entry struct {
		pin   pinBlock
		where string
		hosts []*Host
	}
	var order []*entry
	seen := map[any]*entry{}
	add := func(key any, pin pinBlock, where string, h *Host) {
		e := seen[key]
		if e == nil {
			e = &entry{pin: pin, where: where}
			seen[key] = e
			order = append(order, e)
		}
		if h != nil {
			e.hosts = append(e.hosts, h)
		}
	}
	natsPin := func(b *natsBlock) pinBlock {
		return pinBlock{ProgramNATS, "nats", b.Version, b.Artifacts, b.Body}
	}
	wcPin := func(b *wasmcloudBlock) pinBlock {
		return pinBlock{ProgramWasmcloud, "wasmcloud", b.Version, b.Artifacts, b.Body}
	}
	for _, name := range []string{RoleHub, RoleLeaf} {
		if rb := v.d.roles[name]; rb != nil && rb.NATS != nil {
			add(rb.NATS, natsPin(rb.NATS), fmt.Sprintf("role %q", name), nil)
		}
	}
	if rb := v.d.roles[RoleWasmcloud]; rb != nil && rb.Wasmcloud != nil {
		add(rb.Wasmcloud, wcPin(rb.Wasmcloud), fmt.Sprintf("role %q", RoleWasmcloud), nil)
	}
	for _, h := range v.inv.Hosts {
		if b := v.d.hosts[h].NATS; b != nil {
			add(b, natsPin(b), "host "+h.Name, h)
		}
		if b := v.d.hosts[h].Wasmcloud; b != nil {
			add(b, wcPin(b), "host "+h.Name, h)
		}
	}
	for _, e := range order {
		for _, h := range e.hosts {
			v.on(h)
		}
		v.installBlock(e.pin, e.where)
		v.on(nil)
	}
	inside := func(p string, prog Program) bool { return p == prog.Root || strings.HasPrefix(p, prog.Root+"/") }
	for _, h := range v.inv.Hosts {
		if n := h.NATS(); n != nil && n.Install != nil && inside(n.Binary, ProgramNATS) {
			v.on(h)
			v.errorf(v.natsAttr(h, "binary"), "Binary inside the install directory",
				"binary %q is inside %s, where latticepush keeps each installed release; with version pinned, binary becomes a symlink to one of them. Use a path outside it, e.g. %q.",
				n.Binary, InstallRoot, DefaultNATSBinary)
		}
		if w := h.Wasmcloud; w != nil && w.Install != nil && inside(w.Binary, ProgramWasmcloud) {
			v.on(h)
			at := w.DeclRange
			for _, b := range []*wasmcloudBlock{v.d.hosts[h].Wasmcloud, v.roleWasmcloud()} {
				if b != nil {
					if r, ok := attrRange(b.Body, "binary"); ok {
						at = r
						break
					}
				}
			}
			v.errorf(at, "Binary inside the install directory",
				"wasmcloud binary %q is inside %s, where latticepush keeps each installed release; with version pinned, binary becomes a symlink to one of them. Use a path outside it, e.g. %q.",
				w.Binary, WasmcloudInstallRoot, DefaultWasmcloudBinary)
		}
	}
}

func (v *validator) roleWasmcloud() *wasmcloudBlock {
	if rb := v.d.roles[RoleWasmcloud]; rb != nil {
		return rb.Wasmcloud
	}
	return nil
}

// example is a release number of the program, for messages.
func (p Program) example() string {
	if p.Name == ProgramWasmcloud.Name {
		return "1.9.2"
	}
	return "2.15.3"
}

func (v *validator) installBlock(b pinBlock, where string) {
	prog := b.prog
	if b.version == nil {
		for _, ab := range b.artifacts {
			v.errorf(ab.DeclRange, "Artifact without version",
				"artifact %q in %s's %s block has no version next to it: the block that pins version lists that release's artifacts. Add version = \"<release>\" here, or move the artifact into the block that sets version.",
				ab.Platform, where, b.block)
		}
		return
	}
	version := *b.version
	vr, _ := attrRange(b.body, "version")
	ver, ok := ParseVersion(version)
	switch {
	case !ok:
		v.errorf(vr, "Invalid "+prog.Name+" version",
			"version %q in %s is not a release number: write major.minor.patch, e.g. %q.", version, where, prog.example())
	case ver.Compare(prog.Min) < 0:
		v.errorf(vr, prog.Name+" version too old",
			"version %q in %s is older than %s, the oldest release latticepush installs (rule \"minimum version\"). Pin %s or later.",
			version, where, prog.Min, prog.Min)
	}
	if len(b.artifacts) == 0 {
		v.errorf(vr, "No artifact for the pinned version",
			"version %q in %s names no release file. Add one per platform the hosts run, e.g. artifact \"linux/amd64\" { source = \"%s\", sha256 = \"<sha256sum of it>\" }.",
			version, where, prog.exampleSource(strings.TrimPrefix(version, "v")))
	}
	seen := map[string]hcl.Range{}
	for _, ab := range b.artifacts {
		if prev, dup := seen[ab.Platform]; dup {
			v.errorf(ab.PlatformRange, "Duplicate artifact",
				"artifact %q in %s is already declared at %s. Keep one.", ab.Platform, where, pos(prev))
			continue
		}
		seen[ab.Platform] = ab.DeclRange
		if !knownPlatform(ab.Platform) {
			v.errorf(ab.PlatformRange, "Unknown platform",
				"artifact %q in %s: platforms are os/arch as Go names them.%s Known: %s.",
				ab.Platform, where, didYouMean(platformGuess(ab.Platform), Platforms), strings.Join(quoteAll(Platforms), ", "))
		}
		switch {
		case ab.SHA256 == nil:
			v.errorf(ab.DeclRange, "Artifact without sha256",
				"artifact %q in %s has no sha256: every host checks the upload against it before anything changes. Add sha256 = \"<64 hex digits>\" (what `sha256sum %s` prints, compared with the release's published checksums).",
				ab.Platform, where, ab.Source)
		case !sha256RE.MatchString(*ab.SHA256):
			v.errorf(ab.SHA256Range, "Invalid sha256",
				"sha256 %q of artifact %q in %s must be 64 hexadecimal digits (what `sha256sum %s` prints).",
				*ab.SHA256, ab.Platform, where, ab.Source)
		}
		if ab.Size != nil && *ab.Size <= 0 {
			v.errorf(ab.SizeRange, "Invalid artifact size",
				"size %d of artifact %q in %s must be the file's size in bytes, above 0 (what `stat -c %%s` prints), or left out.",
				*ab.Size, ab.Platform, where)
		}
		v.artifactSource(ab, where, prog)
	}
}

// exampleSource is a release file's name, for messages.
func (p Program) exampleSource(version string) string {
	if p.Name == ProgramWasmcloud.Name {
		return "dist/wasmcloud-" + version + "-linux-amd64.tar.gz"
	}
	return "dist/nats-server-v" + version + "-linux-amd64.tar.gz"
}

func (v *validator) artifactSource(ab artifactBlock, where string, prog Program) {
	if ab.Source == "" {
		v.errorf(ab.SourceRange, "Empty artifact source",
			"artifact %q in %s: source names the release archive (.tar.gz, .zip) or the %s binary on this machine, or an https:// URL each host fetches it from.", ab.Platform, where, prog.Name)
		return
	}
	if isURL(ab.Source) {
		v.artifactURL(ab, where)
		return
	}
	p := v.inv.SourcePath(Artifact{Source: ab.Source})
	st, err := os.Stat(p)
	switch {
	case err != nil:
		v.errorf(ab.SourceRange, "Artifact source not found",
			"artifact %q in %s: %s does not exist on this machine (source is read here, relative to the inventory's directory, and uploaded to each host). Download the release file there or fix the path.",
			ab.Platform, where, p)
	case !st.Mode().IsRegular():
		v.errorf(ab.SourceRange, "Artifact source is not a file",
			"artifact %q in %s: %s is not a regular file. Name the release archive (.tar.gz, .zip) or the %s binary.", ab.Platform, where, p, prog.Name)
	case ab.Size != nil && *ab.Size > 0 && st.Size() != *ab.Size:
		v.errorf(ab.SizeRange, "Artifact size mismatch",
			"artifact %q in %s: size says %d bytes but %s has %d. Correct size, or leave it out (the sha256 is checked either way).",
			ab.Platform, where, *ab.Size, p, st.Size())
	}
}

// artifactURL checks a source each host fetches: a well-formed http or https URL with a host
// and no credentials in it.
func (v *validator) artifactURL(ab artifactBlock, where string) {
	shown := RedactURL(ab.Source)
	u, err := url.Parse(ab.Source)
	switch {
	case err != nil || strings.ContainsAny(ab.Source, " \t\r\n"):
		why := "it contains white space: encode a space as %20"
		if ue, ok := err.(*url.Error); ok {
			why = ue.Err.Error() // without the URL, which may hold a token
		} else if err != nil {
			why = err.Error()
		}
		v.errorf(ab.SourceRange, "Invalid artifact URL",
			"artifact %q in %s: source %q is not a well-formed URL (%s). Write it as https://<host>/<path to the release file>.",
			ab.Platform, where, shown, why)
	case u.Scheme != "http" && u.Scheme != "https":
		v.errorf(ab.SourceRange, "Unsupported artifact URL scheme",
			"artifact %q in %s: source %q is a %s:// URL; hosts fetch artifacts over https:// or http:// only. Use one of those, or a file on this machine (uploaded to each host).",
			ab.Platform, where, shown, u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		v.errorf(ab.SourceRange, "Invalid artifact URL",
			"artifact %q in %s: source %q names no host. Write it as %s://<host>/<path to the release file>.",
			ab.Platform, where, shown, u.Scheme)
	case u.User != nil:
		v.errorf(ab.SourceRange, "Credentials in artifact URL",
			"artifact %q in %s: source %q holds a user name or password before the host: the inventory and the plan would carry them to every host and into logs. Serve the release without them (the sha256 guards what is fetched), or behind a token in the query string, which messages leave out.",
			ab.Platform, where, shown)
	}
}

func knownPlatform(p string) bool {
	for _, k := range Platforms {
		if k == p {
			return true
		}
	}
	return false
}

// platformGuess turns a platform written with uname's names (linux/x86_64) into Go's, for
// the suggestion.
func platformGuess(p string) string {
	osName, arch, ok := strings.Cut(p, "/")
	if !ok {
		return p
	}
	if g, ok := unameMachines[arch]; ok {
		return g
	}
	return osName + "/" + arch
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = strconv.Quote(x)
	}
	sort.Strings(out)
	return out
}
