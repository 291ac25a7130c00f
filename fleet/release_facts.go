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
// it installs a release; plan reads it instead of starting the binary.
const VersionCache = "/var/lib/latticepush/nats-versions"

// installFactsScript reports what a pinned release needs ($1 binary, $2 version cache, $3
// install root):
//
//	machine=...           uname -m
//	release.<v>=<sha256>  each release directory holding nats-server, with the sha256 of the
//	                      artifact it was unpacked from ("" when latticepush did not unpack it)
//	fetcher=curl|wget|    the tool the host fetches a URL artifact with (curl preferred)
//	installed=...         the binary's version: from the cache, else its --version
const installFactsScript = `nats=$1; cache=$2; root=$3
echo "machine=$(uname -m)"
if command -v curl >/dev/null 2>&1; then echo "fetcher=curl"
elif command -v wget >/dev/null 2>&1; then echo "fetcher=wget"
else echo "fetcher="; fi
for d in "$root"/*/; do
  [ -x "${d}nats-server" ] || continue
  v=${d%/}; v=${v##*/}
  s=""; [ -r "${d}.artifact-sha256" ] && read -r s < "${d}.artifact-sha256"
  echo "release.$v=$s"
done
[ -x "$nats" ] || exit 0
id=$(stat -L -c '%d.%i|%s|%Y' -- "$nats" 2>/dev/null)
v=""
if [ -n "$id" ] && [ -r "$cache" ]; then
  while read -r k val; do [ "$k" = "$id" ] && { v=$val; break; }; done < "$cache"
fi
[ -n "$v" ] || v=$("$nats" --version 2>&1 | head -n 1)
echo "installed=$v"
`

// versionOf reads a version out of `nats-server --version` ("nats-server: v2.15.3").
func versionOf(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "nats-server:")
	return strings.TrimPrefix(strings.TrimSpace(s), "v")
}

// installFacts fills what a pinned release needs into nf.
func installFacts(ctx context.Context, c *remote.Client, h *inventory.Host, binary string) (map[string]string, error) {
	res, err := c.Run(ctx, remote.Script(installFactsScript, binary, VersionCache, inventory.InstallRoot),
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
	nf.Machine = kv["machine"]
	nf.Installed = versionOf(kv["installed"])
	nf.Fetcher = kv["fetcher"]
	nf.Releases = map[string]string{}
	for k, v := range kv {
		if rel, ok := strings.CutPrefix(k, "release."); ok {
			nf.Releases[rel] = v
		}
	}
}

// HashArtifacts reads every pinned release's file on this machine once: its size and sha256,
// which plan compares with the inventory's before anything is uploaded. A URL is left to the
// hosts, which check what they fetch.
func HashArtifacts(inv *inventory.Inventory) map[string]plan.LocalFile {
	out := map[string]plan.LocalFile{}
	for _, h := range inv.Hosts {
		n := h.NATS()
		if n == nil || n.Install == nil {
			continue
		}
		for _, a := range n.Install.Artifacts {
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
