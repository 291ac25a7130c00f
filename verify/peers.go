package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/latticepush/latticepush/inventory"
)

// removeResend is how long RemovePeer waits for an answer before it asks again: a request
// sent while there is no meta leader (an election, or a leader that changed while the group
// committed the removal) is answered by no one, and asking again reaches the new leader,
// which answers at once, or says the server is no member if the first request's removal was
// committed. A variable for tests.
var removeResend = 2 * time.Second

// The JetStream API request that removes a member of the meta group, answered by the meta
// leader once the group committed the change, and the error code of a server that is no
// member (any more).
const (
	apiRemovePeer     = "$JS.API.SERVER.REMOVE"
	errCodeNotAMember = 10044
)

// RemovePeer asks the hub cluster's meta leader to remove a member of the JetStream meta group,
// by server_name and peer id, as the system account's user through the first hub that accepts
// it. A peer that is no member was removed already: nil. Without a meta leader nobody answers:
// it asks again every removeResend until one answers or timeout.
func RemovePeer(ctx context.Context, inv *inventory.Inventory, dial func(context.Context, *inventory.Host) (Dialer, error),
	name, peer string, timeout time.Duration) error {
	nc, hub, err := connectHubAs(ctx, inv, dial, timeout, "system", inv.Auth.SystemPassword.Reveal())
	if err != nil {
		return err
	}
	defer nc.Close()
	req, err := json.Marshal(struct {
		Server string `json:"peer"`
		Peer   string `json:"peer_id,omitempty"`
	}{name, peer})
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var msg *nats.Msg
	for asked := 1; ; asked++ {
		next := time.Now().Add(removeResend)
		actx, acancel := context.WithDeadline(rctx, next)
		msg, err = nc.RequestWithContext(actx, apiRemovePeer, req)
		acancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, nats.ErrNoResponders) {
			return fmt.Errorf("asking the meta leader through %s: %w", hub, err)
		}
		select { // no responders comes back at once: ask again at the next interval
		case <-time.After(time.Until(next)):
		case <-rctx.Done():
		}
		if rctx.Err() != nil {
			return fmt.Errorf("no answer from the meta leader through %s (asked %d time(s) in %s): is there a quorum of hubs?", hub, asked, timeout)
		}
	}
	var resp struct {
		Success bool `json:"success"`
		Error   *struct {
			Code        int    `json:"code"`
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return fmt.Errorf("the meta leader's answer through %s: %w", hub, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrCode == errCodeNotAMember:
		return nil
	case resp.Error != nil:
		return fmt.Errorf("the meta leader refused (through %s): %s (%d)", hub, resp.Error.Description, resp.Error.ErrCode)
	case !resp.Success:
		return fmt.Errorf("the meta leader did not confirm (through %s): %s", hub, msg.Data)
	}
	return nil
}
