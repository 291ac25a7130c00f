package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/latticepush/latticepush/inventory"
)

// The JetStream API request that removes a member of the meta group, answered by the meta
// leader once the group committed the change, and the error code of a server that is no
// member (any more).
const (
	apiRemovePeer     = "$JS.API.SERVER.REMOVE"
	errCodeNotAMember = 10044
)

// RemovePeer asks the hub cluster's meta leader to remove a member of the JetStream meta group,
// by server_name and peer id, as the system account's user through the first hub that accepts
// it. A peer that is no member was removed already: nil. Without a meta leader the request
// goes unanswered until timeout.
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
	msg, err := nc.RequestWithContext(rctx, apiRemovePeer, req)
	if err != nil {
		return fmt.Errorf("no answer from the meta leader through %s (%w): is there a quorum of hubs?", hub, timedOut(err, timeout))
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
