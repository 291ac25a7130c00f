package fleet

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/rollout"
	"github.com/latticepush/latticepush/verify/natsmon"
)

var _ rollout.Certs = (*host)(nil)

// ServedCertNotAfter reads the earliest /varz tls_cert_not_after (client, cluster and leafnode
// ports) through the host's SSH connection.
func (h *host) ServedCertNotAfter(ctx context.Context, addr string) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := natsmon.New(addr, h.c.DialContext, natsmon.Options{}).Varz(ctx)
	if err != nil {
		return time.Time{}, err
	}
	return v.CertNotAfter(), nil
}

var _ rollout.ServedSerial = (*host)(nil)

// ServedCertSerial reads the serial of the certificate the server presents (its leafnode port,
// else its client port) by a TLS handshake through the host's SSH connection.
func (h *host) ServedCertSerial(ctx context.Context, addr string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := natsmon.New(addr, h.c.DialContext, natsmon.Options{}).Varz(ctx)
	if err != nil {
		return "", err
	}
	at := natsmon.ServedCertAddr(v, addr)
	if at == "" {
		return "", fmt.Errorf("no TLS port in /varz")
	}
	c, err := natsmon.ServedCert(ctx, h.c.DialContext, at)
	if err != nil {
		return "", err
	}
	return strings.ToLower(c.SerialNumber.Text(16)), nil
}

// removeCertsScript removes the files given after the sweep prefix ($1) and the count of
// files to keep ($2), then those files ($3...), and every <prefix><hex serial>.pem or .key
// not kept.
const removeCertsScript = `prefix=$1; nkeep=$2; shift 2
keep=" "; i=0
while [ "$i" -lt "$nkeep" ]; do keep="$keep$1 "; shift; i=$((i+1)); done
rm -f -- "$@" || exit 1
[ -n "$prefix" ] || exit 0
for f in "$prefix"*.pem "$prefix"*.key; do
  [ -f "$f" ] || continue
  serial=${f#"$prefix"}; serial=${serial%.*}
  case $serial in ''|*[!0-9a-f]*) continue ;; esac
  case $keep in *" $f "*) continue ;; esac
  rm -f -- "$f" || exit 1
done`

// RemoveOldCerts removes certificates and keys no config names any more: only files in a
// directory named tls, ending in .pem or .key.
func (h *host) RemoveOldCerts(ctx context.Context, c plan.CertChange) error {
	ok := func(p string) bool {
		return path.IsAbs(p) && path.Clean(p) == p && path.Base(path.Dir(p)) == "tls" && !strings.ContainsAny(p, " \t\n")
	}
	for _, p := range append(append([]string{}, c.Remove...), c.Keep...) {
		if !ok(p) || !(strings.HasSuffix(p, ".pem") || strings.HasSuffix(p, ".key")) {
			return fmt.Errorf("refusing to remove %s: not a TLS certificate or key file", p)
		}
	}
	if c.Sweep != "" && (!ok(c.Sweep+"x") || !strings.HasSuffix(c.Sweep, "-") || len(c.Keep) == 0) {
		return fmt.Errorf("refusing to remove %s*: not a host's certificate files", c.Sweep)
	}
	if len(c.Remove) == 0 && c.Sweep == "" {
		return nil
	}
	args := append([]string{c.Sweep, fmt.Sprint(len(c.Keep))}, c.Keep...)
	args = append(args, c.Remove...)
	res, err := h.c.Run(ctx, remote.Script(removeCertsScript, args...), remote.RunOptions{Become: h.inv.SSH.Become})
	if err != nil {
		return fmt.Errorf("%s", scriptErr(res, err))
	}
	return nil
}

// removeCAsScript removes every <prefix><hex>.pem and <prefix><hex>-<hex>.pem ($1 the
// prefix) but the files given after it.
const removeCAsScript = `prefix=$1; shift
keep=" $* "
for f in "$prefix"*.pem; do
  [ -f "$f" ] || continue
  name=${f#"$prefix"}; name=${name%.pem}
  case $name in ''|-*|*-|*--*|*-*-*|*[!0-9a-f-]*) continue ;; esac
  case $keep in *" $f "*) continue ;; esac
  rm -f -- "$f" || exit 1
done`

// RemoveOldCAs removes the managed CA files of a server's TLS directory that its config no
// longer names: only <dir>/tls/ca-<serial>.pem and ca-<serial>-<serial>.pem, never the kept.
func (h *host) RemoveOldCAs(ctx context.Context, s plan.CASweep) error {
	dir := path.Dir(s.Prefix)
	if !path.IsAbs(s.Prefix) || path.Clean(s.Prefix+"x") != s.Prefix+"x" || path.Base(dir) != "tls" || path.Base(s.Prefix) != "ca-" ||
		!strings.HasSuffix(s.Prefix, "/ca-") || strings.ContainsAny(s.Prefix, " \t\n*?[") || len(s.Keep) == 0 {
		return fmt.Errorf("refusing to remove %s*: not a server's CA files", s.Prefix)
	}
	for _, k := range s.Keep {
		if !strings.HasPrefix(k, s.Prefix) || strings.ContainsAny(k, " \t\n") {
			return fmt.Errorf("refusing to sweep %s*: the kept %s is not one of them", s.Prefix, k)
		}
	}
	res, err := h.c.Run(ctx, remote.Script(removeCAsScript, append([]string{s.Prefix}, s.Keep...)...), remote.RunOptions{Become: h.inv.SSH.Become})
	if err != nil {
		return fmt.Errorf("%s", scriptErr(res, err))
	}
	return nil
}
