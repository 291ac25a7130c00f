package fleet

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

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

// RemoveFiles removes previous TLS certificates and keys: only files in a directory named
// tls, ending in .pem or .key.
func (h *host) RemoveFiles(ctx context.Context, paths []string) error {
	for _, p := range paths {
		if !path.IsAbs(p) || path.Clean(p) != p || path.Base(path.Dir(p)) != "tls" ||
			!(strings.HasSuffix(p, ".pem") || strings.HasSuffix(p, ".key")) {
			return fmt.Errorf("refusing to remove %s: not a TLS certificate or key file", p)
		}
	}
	if len(paths) == 0 {
		return nil
	}
	_, err := h.c.Run(ctx, append([]string{"rm", "-f", "--"}, paths...), remote.RunOptions{Become: h.inv.SSH.Become})
	return err
}
