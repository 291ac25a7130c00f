package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/rollout"
	"github.com/latticepush/latticepush/verify/natsmon"
)

// uploadDir is where artifacts are uploaded on a host before they are checked and unpacked.
var uploadDir = path.Join(inventory.InstallRoot, ".uploads")

// checkUploadScript checks an uploaded artifact on the host ($1 file, $2 sha256); a mismatch
// removes it.
const checkUploadScript = `got=$(sha256sum < "$1" | cut -d' ' -f1)
if [ "$got" != "$2" ]; then rm -f -- "$1"; echo "sha256 of the upload is $got, want $2"; exit 1; fi
`

// unpackScript unpacks a checked upload into its release directory, by a temporary
// directory renamed into place: $1 upload, $2 release dir, $3 artifact sha256, $4 version,
// $5 version cache, $6 binary to keep aside ("" for none), $7 where to keep it. The new
// binary must say it is the pinned version. The upload is removed either way.
const unpackScript = `up=$1; dir=$2; sum=$3; want=$4; cache=$5; keep=$6; keepto=$7
tmp="${dir%/*}/.${dir##*/}.latticepush-tmp-$$"
fail() { rm -rf -- "$tmp" "$up"; echo "$*"; exit 1; }
rm -rf -- "$tmp"; mkdir -p -- "$tmp/x" || fail "cannot create $tmp"
case $(head -c 4 "$up" | od -An -tx1 | tr -d ' \n') in
  1f8b*) tar -xzf "$up" -C "$tmp/x" 2>&1 || fail "cannot unpack the archive" ;;
  504b0304) command -v unzip >/dev/null || fail "the artifact is a .zip and unzip is not installed on the host: install it or use the .tar.gz release"
            unzip -q "$up" -d "$tmp/x" 2>&1 || fail "cannot unpack the archive" ;;
  *) cp -- "$up" "$tmp/x/nats-server" || fail "cannot copy the binary" ;;
esac
bin=$(find "$tmp/x" -type f -name nats-server | head -n 1)
[ -n "$bin" ] || fail "the archive holds no file named nats-server"
mv -- "$bin" "$tmp/nats-server" && chmod 0755 "$tmp/nats-server" && rm -rf -- "$tmp/x" || fail "cannot place nats-server"
out=$("$tmp/nats-server" --version 2>&1 | head -n 1)
case $out in *"v$want"|*" $want") ;; *) fail "the unpacked nats-server says '$out', not version $want" ;; esac
printf '%s\n' "$sum" > "$tmp/.artifact-sha256"
if [ -n "$keep" ] && [ ! -e "$keepto" ]; then
  mkdir -p -- "${keepto%/*}" && cp -p -- "$keep" "$keepto.tmp" && mv -f -- "$keepto.tmp" "$keepto" || fail "cannot keep $keep as $keepto"
fi
old="${dir%/*}/.${dir##*/}.latticepush-old"
if [ -e "$dir" ]; then rm -rf -- "$old" && mv -- "$dir" "$old"; fi
mv -T -- "$tmp" "$dir" || fail "cannot move the release into $dir"
rm -rf -- "$old" "$up"
id=$(stat -L -c '%d.%i|%s|%Y' -- "$dir/nats-server") && mkdir -p -- "${cache%/*}" &&
  { echo "$id $out"; head -n 31 "$cache" 2>/dev/null; :; } > "$cache.tmp.$$" && mv -f -- "$cache.tmp.$$" "$cache"
if [ -n "$keep" ] && id=$(stat -L -c '%d.%i|%s|%Y' -- "$keepto" 2>/dev/null); then
  kv=$("$keepto" --version 2>&1 | head -n 1)
  { echo "$id $kv"; head -n 31 "$cache" 2>/dev/null; :; } > "$cache.tmp.$$" && mv -f -- "$cache.tmp.$$" "$cache"
fi
exit 0
`

// switchScript points the binary path ($1) at a release's nats-server ($2): a symlink made
// under a temporary name and renamed over the path, so the path is always a whole binary.
const switchScript = `link=$1; target=$2
[ -x "$target" ] || { echo "$target is not installed"; exit 1; }
mkdir -p -- "${link%/*}" || exit 1
t="${link%/*}/.${link##*/}.latticepush-tmp-$$"
rm -f -- "$t"; ln -s -- "$target" "$t" && mv -Tf -- "$t" "$link" || { rm -f -- "$t"; exit 1; }
`

var _ rollout.Releases = (*host)(nil)

// UploadRelease uploads the unit's artifact over SFTP next to the install root and checks its
// sha256 on the host. It returns the upload's path; nothing that runs changes.
func (h *host) UploadRelease(ctx context.Context, up plan.Upgrade) (string, error) {
	content, err := h.f.releases.read(up.Source, up.SHA256)
	if err != nil {
		return "", err
	}
	name := fmt.Sprintf("%s-%s", up.To, path.Base(up.Source))
	st, err := h.c.Stage(ctx, path.Join(uploadDir, name), content, 0o600, remote.StageOptions{})
	if err != nil {
		return "", err
	}
	res, err := h.c.Run(ctx, remote.Script(checkUploadScript, st.Temp, up.SHA256), remote.RunOptions{Become: h.inv.SSH.Become, Timeout: time.Minute})
	if err != nil {
		return "", fmt.Errorf("%s: %s", path.Base(up.Source), scriptErr(res, err))
	}
	return st.Temp, nil
}

// InstallRelease unpacks a checked upload into the release directory (and keeps a binary
// the operator put at the binary path, for rollback).
func (h *host) InstallRelease(ctx context.Context, up plan.Upgrade, upload string) error {
	keep, keepTo := "", ""
	if up.KeepAside {
		keep, keepTo = up.Link, up.Previous
	}
	res, err := h.c.Run(ctx, remote.Script(unpackScript, upload, up.Dir, up.SHA256, up.To, VersionCache, keep, keepTo),
		remote.RunOptions{Become: h.inv.SSH.Become, Timeout: 5 * time.Minute})
	if err != nil {
		return fmt.Errorf("installing %s into %s: %s", path.Base(up.Source), up.Dir, scriptErr(res, err))
	}
	return nil
}

// DiscardUpload removes an upload that will not be installed.
func (h *host) DiscardUpload(ctx context.Context, upload string) error {
	_, err := h.c.Run(ctx, []string{"rm", "-f", "--", upload}, remote.RunOptions{Become: h.inv.SSH.Become})
	return err
}

// SwitchBinary makes link a symlink to target, atomically.
func (h *host) SwitchBinary(ctx context.Context, link, target string) error {
	res, err := h.c.Run(ctx, remote.Script(switchScript, link, target), remote.RunOptions{Become: h.inv.SSH.Become, Timeout: time.Minute})
	if err != nil {
		return fmt.Errorf("pointing %s at %s: %s", link, target, scriptErr(res, err))
	}
	return nil
}

// PruneReleases removes release directories no unit needs any more.
func (h *host) PruneReleases(ctx context.Context, dirs []string) error {
	for _, d := range dirs {
		if !strings.HasPrefix(d, inventory.InstallRoot+"/") || strings.Contains(d, "..") {
			return fmt.Errorf("refusing to remove %s: not a release directory", d)
		}
	}
	if len(dirs) == 0 {
		return nil
	}
	_, err := h.c.Run(ctx, append([]string{"rm", "-rf", "--"}, dirs...), remote.RunOptions{Become: h.inv.SSH.Become})
	return err
}

// RunningVersion returns the running nats-server's /varz version.
func (h *host) RunningVersion(ctx context.Context, addr string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := natsmon.New(addr, h.c.DialContext, natsmon.Options{}).Varz(ctx)
	if err != nil {
		return "", err
	}
	return v.Version, nil
}

// scriptErr is what a failed script said (its output), or the transport error.
func scriptErr(res remote.Result, err error) string {
	var exit *remote.ExitError
	if errors.As(err, &exit) {
		if out := strings.TrimSpace(string(res.Stdout) + " " + string(res.Stderr)); out != "" {
			return out
		}
		return fmt.Sprintf("exit status %d", exit.Result.ExitCode)
	}
	return err.Error()
}

// releaseFiles reads each release file once per apply, however many hosts upload it, and
// checks it against its sha256 again: the file may have changed since plan hashed it.
type releaseFiles struct {
	mu    sync.Mutex
	files map[string][]byte // by path and sha256
}

func (r *releaseFiles) read(p, sum string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := p + "\x00" + sum
	if b, ok := r.files[key]; ok {
		return b, nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sum {
		return nil, fmt.Errorf("%s changed since it was planned: its sha256 is no longer %s; nothing was uploaded from it", p, sum)
	}
	if r.files == nil {
		r.files = map[string][]byte{}
	}
	r.files[key] = b
	return b, nil
}
