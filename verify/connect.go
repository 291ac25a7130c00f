package verify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/latticepush/latticepush/inventory"
)

// ConnectHub opens a NATS connection as latticepush's check user (user latticepush, or its
// rotated name, in account LATTICE) to the first hub node of inv that accepts it, each reached through dial(hub) on its
// client port as seen on that host. It returns the connection and the hub's name; the error
// names every hub's reason. timeout bounds each dial and connection handshake.
func ConnectHub(ctx context.Context, inv *inventory.Inventory, dial func(context.Context, *inventory.Host) (Dialer, error),
	timeout time.Duration) (*nats.Conn, string, error) {
	return connectHubAs(ctx, inv, dial, timeout, "check", inv.Auth.CheckPassword.Reveal())
}

// connectHubAs is ConnectHub as the user of the auth model's key ("check", "system") with
// password pw; during a rotation of its password, a hub not reloaded yet accepts only the
// retiring user, which is tried next.
func connectHubAs(ctx context.Context, inv *inventory.Inventory, dial func(context.Context, *inventory.Host) (Dialer, error),
	timeout time.Duration, key, pw string) (*nats.Conn, string, error) {
	var why []string
	for _, h := range inv.Hubs() {
		d, err := dial(ctx, h)
		if err == nil {
			var nc *nats.Conn
			nc, err = connectNATS(ctx, d, h.NATS(), timeout, withHubTLS(inv, h, []nats.Option{nats.UserInfo(inv.Auth.UserName(key), pw)})...)
			if old := inv.Auth.RetiringUser(key); err != nil && errors.Is(err, nats.ErrAuthorization) && old.IsSet() {
				if d, err = dial(ctx, h); err == nil {
					nc, err = connectNATS(ctx, d, h.NATS(), timeout, withHubTLS(inv, h, []nats.Option{nats.UserInfo(old.User, old.Password.Reveal())})...)
				}
			}
			if err == nil {
				return nc, h.Name, nil
			}
		}
		why = append(why, h.Name+": "+err.Error())
	}
	if len(why) == 0 {
		why = append(why, "the inventory has no hub")
	}
	return nil, "", errors.New("no hub accepts a client connection: " + strings.Join(why, "; "))
}

// connectNATS opens a NATS connection to n's client port as seen on its host, through dial.
// It does not reconnect: a connection that breaks is an error for its user.
func connectNATS(ctx context.Context, dial Dialer, n *inventory.NATS, timeout time.Duration, extra ...nats.Option) (*nats.Conn, error) {
	addr := n.LocalClientAddr()
	opts := append([]nats.Option{
		nats.Name("latticepush"),
		nats.SetCustomDialer(ctxDialer{ctx: ctx, dial: dial, timeout: timeout}),
		nats.Timeout(timeout),
		nats.NoReconnect(),
		nats.SkipHostLookup(),
		nats.NoCallbacksAfterClientClose(),
	}, extra...)
	nc, err := nats.Connect("nats://"+addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("NATS client port %s: %w", addr, timedOut(err, timeout))
	}
	return nc, nil
}

// ctxDialer adapts a Dialer to nats.CustomDialer, which has no context: each dial is bounded
// by ctx and the timeout.
type ctxDialer struct {
	ctx     context.Context
	dial    Dialer
	timeout time.Duration
}

func (d ctxDialer) Dial(network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(d.ctx, d.timeout)
	defer cancel()
	return d.dial(ctx, network, addr)
}
