package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/rollout"
	"github.com/latticepush/latticepush/verify/natsmon"
)

// uploadDir is where artifacts of a program whose releases go under root are uploaded on a
// host before they are checked and unpacked.
func uploadDir(root string) string { return path.Join(root, ".uploads") }

// checkUploadScript checks an uploaded artifact on the host ($1 file, $2 sha256); a mismatch
// removes it.
const checkUploadScript = `got=$(sha256sum < "$1" | cut -d' ' -f1)
if [ "$got" != "$2" ]; then rm -f -- "$1"; echo "sha256 of the upload is $got, want $2"; exit 1; fi
`

// unpackScript unpacks a checked upload into its release directory, by a temporary
// directory renamed into place: $1 upload, $2 release dir, $3 artifact sha256, $4 version,
// $5 version cache, $6 binary to keep aside ("" for none), $7 where to keep it, $8 the
// program's binary name (nats-server, wasmcloud). The new binary must say it is the pinned
// version. The upload is removed either way.
const unpackScript = `up=$1; dir=$2; sum=$3; want=$4; cache=$5; keep=$6; keepto=$7; prog=$8
tmp="${dir%/*}/.${dir##*/}.latticepush-tmp-$$"
fail() { rm -rf -- "$tmp" "$up"; echo "$*"; exit 1; }
rm -rf -- "$tmp"; mkdir -p -- "$tmp/x" || fail "cannot create $tmp"
case $(head -c 4 "$up" | od -An -tx1 | tr -d ' \n') in
  1f8b*) tar -xzf "$up" -C "$tmp/x" 2>&1 || fail "cannot unpack the archive" ;;
  504b0304) command -v unzip >/dev/null || fail "the artifact is a .zip and unzip is not installed on the host: install it or use the .tar.gz release"
            unzip -q "$up" -d "$tmp/x" 2>&1 || fail "cannot unpack the archive" ;;
  *) cp -- "$up" "$tmp/x/$prog" || fail "cannot copy the binary" ;;
esac
bin=$(find "$tmp/x" -type f -name "$prog" | head -n 1)
[ -n "$bin" ] || fail "the archive holds no file named $prog"
mv -- "$bin" "$tmp/$prog" && chmod 0755 "$tmp/$prog" && rm -rf -- "$tmp/x" || fail "cannot place $prog"
out=$("$tmp/$prog" --version 2>&1 | head -n 1)
case $out in *"v$want"|*" $want") ;; *) fail "the unpacked $prog says '$out', not version $want" ;; esac
printf '%s\n' "$sum" > "$tmp/.artifact-sha256"
if [ -n "$keep" ] && [ ! -e "$keepto" ]; then
  mkdir -p -- "${keepto%/*}" && cp -p -- "$keep" "$keepto.tmp" && mv -f -- "$keepto.tmp" "$keepto" || fail "cannot keep $keep as $keepto"
fi
old="${dir%/*}/.${dir##*/}.latticepush-old"
if [ -e "$dir" ]; then rm -rf -- "$old" && mv -- "$dir" "$old"; fi
mv -T -- "$tmp" "$dir" || fail "cannot move the release into $dir"
rm -rf -- "$old" "$up"
id=$(stat -L -c '%d.%i|%s|%Y' -- "$dir/$prog") && mkdir -p -- "${cache%/*}" &&
  { echo "$id $out"; head -n 31 "$cache" 2>/dev/null; :; } > "$cache.tmp.$$" && mv -f -- "$cache.tmp.$$" "$cache"
if [ -n "$keep" ] && id=$(stat -L -c '%d.%i|%s|%Y' -- "$keepto" 2>/dev/null); then
  kv=$("$keepto" --version 2>&1 | head -n 1)
  { echo "$id $kv"; head -n 31 "$cache" 2>/dev/null; :; } > "$cache.tmp.$$" && mv -f -- "$cache.tmp.$$" "$cache"
fi
exit 0
`

// fetchScript fetches a URL artifact on the host into a temporary name in the upload
// directory and checks its sha256 there: $1 upload dir, $2 name, $3 sha256, $4 tool (curl or
// wget), $5 seconds without progress that abort the fetch, $6 seconds the whole fetch may
// take, $7 the size in bytes the inventory declares ("" when it does not). The URL comes on stdin, so it never shows in the host's process list. It prints the
// file's path and size; on any failure the file is removed.
const fetchScript = `dir=$1; name=$2; sum=$3; tool=$4; stall=$5; max=$6; want=$7
IFS= read -r url || { echo "no URL given"; exit 1; }
mkdir -p -- "$dir" || { echo "cannot create $dir"; exit 1; }
tmp="$dir/.$name.latticepush-tmp-fetch$$"
fail() { rm -f -- "$tmp"; echo "$*"; exit 1; }
rm -f -- "$tmp"; (umask 077 && : > "$tmp") || fail "cannot create $tmp"
case $tool in
curl)
  esc=$(printf '%s' "$url" | sed 's/[\\"]/\\&/g')
  limit=""; [ -n "$want" ] && limit="--max-filesize $want"
  out=$(printf 'url = "%s"\n' "$esc" | curl -K - $limit -f -s -S -L --proto '=http,https' --proto-redir '=http,https' --max-redirs 5 \
    --connect-timeout 20 --speed-limit 1 --speed-time "$stall" --max-time "$max" -o "$tmp" 2>&1) || fail "${out:-curl failed}" ;;
wget)
  cap=""; command -v timeout >/dev/null 2>&1 && cap="timeout $max"
  if wget --version 2>/dev/null | grep -q 'GNU Wget'; then
    out=$(printf '%s\n' "$url" | $cap wget -nv --tries=1 --max-redirect=5 -T "$stall" -O "$tmp" -i - 2>&1)
  else
    out=$($cap wget -q -T "$stall" -O "$tmp" "$url" 2>&1)
  fi
  rc=$?
  case $rc in
    0) ;;
    124) fail "no complete answer within $max s" ;;
    4) fail "network failure (name resolution, connection or timeout): $out" ;;
    5) fail "TLS failure: $out" ;;
    8) fail "the server answered with an error status: $out" ;;
    *) fail "wget exit status $rc: $out" ;;
  esac ;;
*) fail "unknown fetch tool $tool" ;;
esac
size=$(wc -c < "$tmp" | tr -d ' ')
[ -z "$want" ] || [ "$size" = "$want" ] || fail "what was fetched is $size bytes, the inventory's size says $want: not the release pinned"
got=$(sha256sum < "$tmp" | cut -d' ' -f1)
[ "$got" = "$sum" ] || fail "what was fetched ($size bytes) has sha256 $got, want $sum: not the release pinned"
echo "$tmp $size"
`

// Fetch limits: a fetch that makes no progress for fetchStall, or has not finished within
// fetchMax, is abandoned.
const (
	fetchStall = 30 * time.Second
	fetchMax   = 15 * time.Minute
)

// switchScript points the binary path ($1) at a release's binary ($2): a symlink made
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
	if up.Fetch != "" {
		return h.fetchRelease(ctx, up)
	}
	content, err := h.f.releases.read(up.Source, up.SHA256)
	if err != nil {
		return "", err
	}
	name := fmt.Sprintf("%s-%s", up.To, path.Base(up.Source))
	st, err := h.c.Stage(ctx, path.Join(uploadDir(up.Root()), name), content, 0o600, remote.StageOptions{})
	if err != nil {
		return "", err
	}
	res, err := h.c.Run(ctx, remote.Script(checkUploadScript, st.Temp, up.SHA256), remote.RunOptions{Become: h.inv.SSH.Become, Timeout: time.Minute})
	if err != nil {
		return "", fmt.Errorf("%s: %s", path.Base(up.Source), scriptErr(res, err))
	}
	return st.Temp, nil
}

// fetchRelease has the host fetch the unit's URL artifact into the upload directory with its
// own tool, and checks its sha256 there. It returns the file's path; on any failure nothing
// is left on the host and the error names the URL (without its query string).
func (h *host) fetchRelease(ctx context.Context, up plan.Upgrade) (string, error) {
	shown := inventory.RedactURL(up.Source)
	size := ""
	if up.Bytes > 0 {
		size = strconv.FormatInt(up.Bytes, 10)
	}
	dir := uploadDir(up.Root())
	res, err := h.c.Run(ctx, remote.Script(fetchScript, dir, artifactName(up), up.SHA256, up.Fetch,
		strconv.Itoa(int(fetchStall/time.Second)), strconv.Itoa(int(fetchMax/time.Second)), size),
		remote.RunOptions{Become: h.inv.SSH.Become, Timeout: fetchMax + time.Minute, Stdin: strings.NewReader(up.Source + "\n")})
	if err != nil {
		return "", fmt.Errorf("fetching %s with %s: %s; nothing was kept", shown, up.Fetch, redactIn(scriptErr(res, err), up.Source))
	}
	p, _, ok := strings.Cut(strings.TrimSpace(string(res.Stdout)), " ")
	if !ok || !strings.HasPrefix(p, dir+"/") {
		return "", fmt.Errorf("fetching %s: the host answered %q, not the fetched file's path", shown, redactIn(string(res.Stdout), up.Source))
	}
	return p, nil
}

// artifactName is the name an artifact is kept under in the upload directory: the version
// and the file name of its source (a URL's path, without its query string).
func artifactName(up plan.Upgrade) string {
	base := path.Base(up.Source)
	if u, err := url.Parse(up.Source); err == nil && u.Scheme != "" {
		base = path.Base(u.Path)
	}
	if base == "" || base == "." || base == "/" {
		base = "artifact"
	}
	base = strings.Map(func(r rune) rune {
		if r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, base)
	return up.To + "-" + base
}

// redactIn removes a URL's credentials and query string from a message a tool printed.
func redactIn(msg, rawURL string) string {
	msg = strings.ReplaceAll(msg, rawURL, inventory.RedactURL(rawURL))
	if u, err := url.Parse(rawURL); err == nil {
		if u.RawQuery != "" {
			msg = strings.ReplaceAll(msg, u.RawQuery, "…")
		}
		if u.User != nil {
			msg = strings.ReplaceAll(msg, u.User.String(), "…")
		}
	}
	return msg
}

// InstallRelease unpacks a checked upload into the release directory (and keeps a binary
// the operator put at the binary path, for rollback).
func (h *host) InstallRelease(ctx context.Context, up plan.Upgrade, upload string) error {
	keep, keepTo := "", ""
	if up.KeepAside {
		keep, keepTo = up.Link, up.Previous
	}
	res, err := h.c.Run(ctx, remote.Script(unpackScript, upload, up.Dir, up.SHA256, up.To, versionCache(up.ProgramName()), keep, keepTo, up.ProgramName()),
		remote.RunOptions{Become: h.inv.SSH.Become, Timeout: 5 * time.Minute})
	if err != nil {
		return fmt.Errorf("installing %s into %s: %s", artifactName(up), up.Dir, scriptErr(res, err))
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
		root := path.Dir(d)
		if root != inventory.InstallRoot && root != inventory.WasmcloudInstallRoot || strings.Contains(d, "..") {
			return fmt.Errorf("refusing to remove %s: not a release directory", d)
		}
	}
	if len(dirs) == 0 {
		return nil
	}
	_, err := h.c.Run(ctx, append([]string{"rm", "-rf", "--"}, dirs...), remote.RunOptions{Become: h.inv.SSH.Become})
	return err
}

// RunningVersion returns what the unit's running program says it runs: a nats-server's /varz
// version, a wasmCloud host's host.get version (asked from the hub side).
func (h *host) RunningVersion(ctx context.Context, u *plan.Unit) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if u.Service == plan.ServiceWasmcloud {
		if h.inv.Wasmcloud == nil || h.inv.Wasmcloud.HostID == "" {
			return "", fmt.Errorf("no wasmCloud host id for %s in the inventory", h.inv.Name)
		}
		return h.f.wasmcloudVersion(ctx, h.inv.Wasmcloud.HostID)
	}
	v, err := natsmon.New(u.MonitorAddr, h.c.DialContext, natsmon.Options{}).Varz(ctx)
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
