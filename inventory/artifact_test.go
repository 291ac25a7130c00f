package inventory

import (
	"path/filepath"
	"testing"
)

// TestLoad_ArtifactRules loads one bad inventory per rule of a pinned nats-server release
// (testdata/artifacts) and checks the exact diagnostic it gets.
func TestLoad_ArtifactRules(t *testing.T) {
	tests := []struct {
		file string
		want []wantDiag
	}{
		{"no-sha256", []wantDiag{errorAt(10, "Artifact without sha256",
			`artifact "linux/amd64" in role "hub" has no sha256: every host checks the upload against it before anything changes. Add sha256 = "<64 hex digits>"`)}},
		{"bad-sha256", []wantDiag{errorAt(12, "Invalid sha256", `sha256 "abc123" of artifact "linux/amd64" in role "hub" must be 64 hexadecimal digits`)}},
		{"unknown-platform", []wantDiag{errorAt(10, "Unknown platform",
			`artifact "linux/x86_64" in role "hub": platforms are os/arch as Go names them. Did you mean "linux/amd64"?`)}},
		{"source-missing", []wantDiag{errorAt(11, "Artifact source not found", `dist/missing.tar.gz does not exist on this machine`)}},
		{"bad-version", []wantDiag{errorAt(9, "Invalid nats-server version", `version "2.15" in role "hub" is not a release number: write major.minor.patch, e.g. "2.15.3".`)}},
		{"too-old", []wantDiag{errorAt(9, "nats-server version too old",
			`version "2.10.22" in role "hub" is older than 2.11.0, the oldest release latticepush installs (rule "minimum version"). Pin 2.11.0 or later.`)}},
		{"no-artifact", []wantDiag{errorAt(9, "No artifact for the pinned version",
			`version "2.15.3" in role "hub" names no release file. Add one per platform the hosts run, e.g. artifact "linux/amd64" {`)}},
		{"artifact-without-version", []wantDiag{errorAt(26, "Artifact without version",
			`artifact "linux/arm64" in host edge-1's nats block has no version next to it`)}},
		{"binary-in-root", []wantDiag{errorAt(10, "Binary inside the install directory",
			`binary "/opt/latticepush/nats-server/current" is inside /opt/latticepush/nats-server`)}},
		{"url-scheme", []wantDiag{errorAt(11, "Unsupported artifact URL scheme",
			`artifact "linux/amd64" in role "hub": source "ftp://releases.example.com/nats-server-v2.15.3-linux-amd64.tar.gz" is a ftp:// URL; hosts fetch artifacts over https:// or http:// only. Use one of those, or a file on this machine (uploaded to each host).`)}},
		{"url-credentials", []wantDiag{errorAt(11, "Credentials in artifact URL",
			`artifact "linux/amd64" in role "hub": source "https://releases.example.com/nats-server-v2.15.3-linux-amd64.tar.gz?…" holds a user name or password before the host: the inventory and the plan would carry them to every host and into logs.`)}},
		{"url-malformed", []wantDiag{errorAt(11, "Invalid artifact URL",
			`artifact "linux/amd64" in role "hub": source "https://releases.example.com:port/nats-server.tar.gz" is not a well-formed URL (invalid port ":port" after host). Write it as https://<host>/<path to the release file>.`)}},
		{"url-no-host", []wantDiag{errorAt(11, "Invalid artifact URL",
			`artifact "linux/amd64" in role "hub": source "https:///nats-server-v2.15.3-linux-amd64.tar.gz" names no host. Write it as https://<host>/<path to the release file>.`)}},
		{"url-space", []wantDiag{errorAt(11, "Invalid artifact URL",
			`artifact "linux/amd64" in role "hub": source "https://releases.example.com/nats%20server.tar.gz?…" is not a well-formed URL (it contains white space: encode a space as %20).`)}},
		{"url-bad-size", []wantDiag{errorAt(12, "Invalid artifact size",
			`size 0 of artifact "linux/amd64" in role "hub" must be the file's size in bytes, above 0 (what `+"`stat -c %s`"+` prints), or left out.`)}},
		{"size-mismatch", []wantDiag{errorAt(12, "Artifact size mismatch",
			`artifact "linux/amd64" in role "hub": size says 12 bytes but testdata/artifacts/dist/nats-server-v2.15.3-linux-amd64.tar.gz has 13. Correct size, or leave it out (the sha256 is checked either way).`)}},
		{"duplicate-artifact", []wantDiag{errorAt(14, "Duplicate artifact", `artifact "linux/amd64" in role "hub" is already declared at`)}},
		{"wasmcloud-too-old", []wantDiag{errorAt(7, "wasmcloud version too old",
			`version "0.82.0" in role "wasmcloud" is older than 1.0.0, the oldest release latticepush installs (rule "minimum version"). Pin 1.0.0 or later.`)}},
		{"wasmcloud-binary-in-root", []wantDiag{errorAt(7, "Binary inside the install directory",
			`wasmcloud binary "/opt/latticepush/wasmcloud/current" is inside /opt/latticepush/wasmcloud, where latticepush keeps each installed release`)}},
		{"wasmcloud-artifact-without-version", []wantDiag{errorAt(7, "Artifact without version",
			`artifact "linux/amd64" in role "wasmcloud"'s wasmcloud block has no version next to it`)}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "artifacts", tt.file+".hcl")
			inv, diags := Load(path, Options{SkipSecrets: true})
			checkDiags(t, path, diags, tt.want...)
			if inv != nil {
				t.Error("Load returned an inventory along with errors")
			}
		})
	}
}

// TestLoad_WasmcloudInstall: a wasmcloud block pins the wasmCloud host's release like a nats
// block pins nats-server's, kept under its own install root.
func TestLoad_WasmcloudInstall(t *testing.T) {
	inv, diags := Load(filepath.Join("testdata", "artifacts", "wasmcloud-valid.hcl"), Options{SkipSecrets: true})
	if diags.HasErrors() {
		t.Fatalf("valid inventory: %s", dumpDiags(diags))
	}
	in := inv.Host("edge-1").Wasmcloud.Install
	if in == nil || in.Version != "1.9.3" || in.Program != ProgramWasmcloud || len(in.Artifacts) != 1 {
		t.Fatalf("edge-1 wasmcloud install: %+v", in)
	}
	if in.Dir() != "/opt/latticepush/wasmcloud/1.9.3" || in.Binary() != "/opt/latticepush/wasmcloud/1.9.3/wasmcloud" {
		t.Errorf("Dir = %s, Binary = %s", in.Dir(), in.Binary())
	}
	if own := inv.Host("edge-2").Wasmcloud.Install; own == nil || own.Version != "1.9.4" || !own.Artifacts["linux/arm64"].IsURL() {
		t.Errorf("edge-2 pins its own release: %+v", own)
	}
	if inv.Host("edge-1").Leaf.Install != nil || inv.Host("hub-1").Wasmcloud != nil {
		t.Error("a wasmcloud pin leaked into nats")
	}
}

// TestLoad_ArtifactsMerge: the block that sets version supplies the artifacts; a host that
// pins its own version replaces the role's.
func TestLoad_ArtifactsMerge(t *testing.T) {
	inv, diags := Load(filepath.Join("testdata", "artifacts", "valid.hcl"), Options{SkipSecrets: true})
	if diags.HasErrors() {
		t.Fatalf("valid inventory: %s", dumpDiags(diags))
	}
	hub := inv.Host("hub-1").Hub.Install
	if hub == nil || hub.Version != "2.15.3" || len(hub.Artifacts) != 1 || hub.Artifacts["linux/amd64"].SHA256 == "" {
		t.Fatalf("hub-1 install: %+v", hub)
	}
	if hub.Dir() != "/opt/latticepush/nats-server/2.15.3" {
		t.Errorf("Dir = %s", hub.Dir())
	}
	if got := inv.SourcePath(hub.Artifacts["linux/amd64"]); got != filepath.Join("testdata", "artifacts", "dist", "nats-server-v2.15.3-linux-amd64.tar.gz") {
		t.Errorf("SourcePath = %s", got)
	}
	leaf := inv.Host("edge-1").Leaf.Install
	if leaf == nil || len(leaf.Artifacts) != 1 || !leaf.Artifacts["linux/arm64"].IsURL() || leaf.Artifacts["linux/arm64"].Size != 12345678 {
		t.Fatalf("edge-1 install: %+v", leaf)
	}
	url := "https://releases.example.com/v2.15.3/nats-server-v2.15.3-linux-arm64.tar.gz?token=abc"
	if got := inv.SourcePath(leaf.Artifacts["linux/arm64"]); got != url {
		t.Errorf("SourcePath of a URL = %s", got)
	}
}

// TestRedactURL: messages show a URL without credentials, query string or fragment.
func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://h.example/a/b.tar.gz":                      "https://h.example/a/b.tar.gz",
		"https://h.example/a/b.tar.gz?X-Amz-Signature=s3cr": "https://h.example/a/b.tar.gz?…",
		"http://u:pw@h.example:8080/b.tgz#frag":             "http://h.example:8080/b.tgz",
		"https://u:pw@h.example:port/b?tok=1":               "https://h.example:port/b?…",
		"dist/nats-server.tar.gz":                           "dist/nats-server.tar.gz",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVersionCompareAndPlatform(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"2.14.10", "2.15.3", -1}, {"2.15.3", "2.15.3", 0}, {"v2.15.3", "2.15.2", 1}, {"2.15.0-beta.1", "2.15.0", -1}, {"2.9.22", "2.11.0", -1}} {
		a, ok1 := ParseVersion(c.a)
		b, ok2 := ParseVersion(c.b)
		if !ok1 || !ok2 || a.Compare(b) != c.want {
			t.Errorf("%s vs %s: %d, want %d", c.a, c.b, a.Compare(b), c.want)
		}
	}
	if _, ok := ParseVersion("2.15"); ok {
		t.Error("2.15 parsed")
	}
	if p, ok := PlatformOf("x86_64\n"); !ok || p != "linux/amd64" {
		t.Errorf("x86_64: %s %v", p, ok)
	}
	if p, ok := PlatformOf("aarch64"); !ok || p != "linux/arm64" {
		t.Errorf("aarch64: %s %v", p, ok)
	}
	if _, ok := PlatformOf("mips"); ok {
		t.Error("mips has a platform")
	}
}
