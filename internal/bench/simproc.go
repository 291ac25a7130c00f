package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/crypto/ssh"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
)

// A simulated fleet is served by several processes, each a slice of its hosts: a process
// holds two descriptors per host (a listener and the accepted connection), and a process may
// hold 20,000 here. The processes are the benchmark's own test binary, started with
// SimChildEnv set to a SimSpec; each prints "ready" once it listens and serves until its
// standard input closes.

// SimChildEnv, set to a JSON SimSpec, makes the benchmark's test binary serve simulated hosts
// instead of running tests.
const SimChildEnv = "LATTICEPUSH_BENCH_SIM_SERVE"

// SimSpec says which hosts of an inventory one process serves.
type SimSpec struct {
	Inventory string `json:"inventory"`  // with its secrets file
	HostKey   string `json:"host_key"`   // PEM private key every simulated host presents
	ClientKey string `json:"client_key"` // authorized_keys line of the key latticepush logs in with
	From      int    `json:"from"`       // inv.Hosts[From:To]
	To        int    `json:"to"`
}

// ServeSimChild serves the hosts of the SimSpec in $SIM_CHILD_ENV until standard input
// closes. ok is false when the variable is not set (a normal test run).
func ServeSimChild() (ok bool, err error) {
	v := os.Getenv(SimChildEnv)
	if v == "" {
		return false, nil
	}
	var spec SimSpec
	if err := json.Unmarshal([]byte(v), &spec); err != nil {
		return true, fmt.Errorf("%s: %w", SimChildEnv, err)
	}
	if err := raiseOwnFileLimit(uint64(2*(spec.To-spec.From) + 512)); err != nil {
		return true, err
	}
	inv, diags := inventory.Load(spec.Inventory, inventory.Options{})
	if diags.HasErrors() {
		return true, diags
	}
	if spec.From < 0 || spec.To > len(inv.Hosts) || spec.From >= spec.To {
		return true, fmt.Errorf("hosts [%d:%d) of %d", spec.From, spec.To, len(inv.Hosts))
	}
	desired, err := plan.Render(inv)
	if err != nil {
		return true, err
	}
	pem, err := os.ReadFile(spec.HostKey)
	if err != nil {
		return true, err
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return true, err
	}
	client, _, _, _, err := ssh.ParseAuthorizedKey([]byte(spec.ClientKey))
	if err != nil {
		return true, err
	}
	sim, err := startSim(inv, desired, client, signer, spec.From, spec.To)
	if err != nil {
		return true, err
	}
	defer sim.Close()
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString(0) // until the parent closes it
	return true, nil
}

// raiseOwnFileLimit lifts RLIMIT_NOFILE's soft limit to n, within the hard limit.
func raiseOwnFileLimit(n uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= n {
		return nil
	}
	if n > lim.Max {
		return fmt.Errorf("need %d open files, the hard limit is %d: serve fewer hosts per process", n, lim.Max)
	}
	lim.Cur = n
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}
