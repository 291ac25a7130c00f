package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"strings"
	"time"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
)

// VersionCache is where hosts record what `<binary> --version` printed, keyed by the binary's
// "dev.inode|size|mtime": "<identity> <version>" per line, newest first. apply writes it when
// it installs a release; plan reads it instead of starting the binary. The wasmCloud host's
// releases have their own (versionCache).
const VersionCache = "/var/lib/latticepush/nats-versions"

// versionCache is the version cache of a program's binaries.
func versionCache(program string) string {
	if program == inventory.ProgramNATS.Name {
		return VersionCache
	}
	return "/var/lib/latticepush/" + program + "-versions"
}

// installFactsScript reports what a pinned release needs ($1 binary, $2 version cache, $3
// install root, $4 the program's binary name in a release):
//
//	machine=...           uname -m
//	release.<v>=<sha256>  each release directory holding nats-server, with the sha256 of the
//	                      artifact it was unpacked from ("" when latticepush did not unpack it)
//	fetcher=curl|wget|    the tool the host fetches a URL artifact with (curl preferred)
//	real=...              the binary path, resolved (readlink -f)
//	installed=...         the binary's version: from the cache, else its --version
const installFactsScript = `nats=$1; cache=$2; root=$3; prog=$4
echo "machine=$(uname -m)"
if command -v curl >/dev/null 2>&1; then echo "fetcher=curl"
elif command -v wget >/dev/null 2>&1; then echo "fetcher=wget"
else echo "fetcher="; fi
for d in "$root"/*/; do
  [ -x "${d}$prog" ] || continue
  v=${d%/}; v=${v##*/}
  s=""; [ -r "${d}.artifact-sha256" ] && read -r s < "${d}.artifact-sha256"
  echo "release.$v=$s"
done
echo "real=$(readlink -f -- "$nats")"
[ -x "$nats" ] || exit 0
id=$(stat -L -c '%d.%i|%s|%Y' -- "$nats" 2>/dev/null)
v=""
if [ -n "$id" ] && [ -r "$cache" ]; then
  while read -r k val; do [ "$k" = "$id" ] && { v=$val; break; }; done < "$cache"
fi
[ -n "$v" ] || v=$("$nats" --version 2>&1 | head -n 1)
echo "installed=$v"
`

// versionOf reads a version out of `nats-server --version` ("nats-server: v2.15.3") or
// `wasmcloud --version` ("wasmcloud 1.9.2").
func versionOf(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "nats-server:")
	s = strings.TrimPrefix(s, "wasmcloud ")
	return strings.TrimPrefix(strings.TrimSpace(s), "v")
}

// installFacts reads what a pinned release of prog needs from the host.
func installFacts(ctx context.Context, c *remote.Client, h *inventory.Host, prog inventory.Program, binary string) (map[string]string, error) {
	res, err := c.Run(ctx, remote.Script(installFactsScript, binary, versionCache(prog.Name), prog.Root, prog.Name),
		remote.RunOptions{Become: h.SSH.Become, Timeout: 60 * time.Second})
	if err != nil {
		return nil, err
	}
	kv := map[string]string{}
	for _, line := range strings.Split(string(res.Stdout), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			kv[k] = v
		}
	}
	return kv, nil
}

func fillInstall(nf *plan.NATSFacts, kv map[string]string) {
	rf := releaseFacts(kv)
	nf.Machine, nf.Installed, nf.Fetcher, nf.Releases = rf.Machine, rf.Installed, rf.Fetcher, rf.Releases
}

func releaseFacts(kv map[string]string) *plan.ReleaseFacts {
	rf := &plan.ReleaseFacts{Machine: kv["machine"], BinaryPath: kv["real"], Installed: versionOf(kv["installed"]),
		Fetcher: kv["fetcher"], Releases: map[string]string{}}
	for k, v := range kv {
		if rel, ok := strings.CutPrefix(k, "release."); ok {
			rf.Releases[rel] = v
		}
	}
	return rf
}

// HashArtifacts reads every pinned release's file on this machine once: its size and sha256,
// which plan compares with the inventory's before anything is uploaded. A URL is left to the
// hosts, which check what they fetch.
func HashArtifacts(inv *inventory.Inventory) map[string]plan.LocalFile {
	out := map[string]plan.LocalFile{}
	var pins []*inventory.Install
	for _, h := range inv.Hosts {
		if n := h.NATS(); n != nil && n.Install != nil {
			pins = append(pins, n.Install)
		}
		if w := h.Wasmcloud; w != nil && w.Install != nil {
			pins = append(pins, w.Install)
		}
	}
	for _, in := range pins {
		for _, a := range in.Artifacts {
			p := inv.SourcePath(a)
			if _, done := out[p]; done || a.IsURL() {
				continue
			}
			out[p] = hashFile(p)
		}
	}
	return out
}

func hashFile(p string) plan.LocalFile {
	f, err := os.Open(p)
	if err != nil {
		return plan.LocalFile{Err: err.Error()}
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return plan.LocalFile{Err: err.Error()}
	}
	return plan.LocalFile{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
}
