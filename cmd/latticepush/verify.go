package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/latticepush/latticepush/fleet"
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/verify"
)

// verifyArgs are verify's parsed command line.
type verifyArgs struct {
	path    string
	json    bool
	timeout time.Duration
}

func newVerifyCommand(g *globals) *cobra.Command {
	var a verifyArgs
	cmd := &cobra.Command{
		Use:   "verify INVENTORY",
		Short: "Prove from the live system that the lattice works as the inventory says",
		Long: `verify connects to every host over SSH and, through those connections (no monitoring or
client port needs to be open to you), checks:

  hub        every node healthy, one meta leader known to all, peers current (asked of
             the leader), every stream of the domain with all its replicas placed, routes
             to every peer, the inventory's domain on every node
  leaf       each leaf's remote connected, and the leaf seen by a hub node
  domain     from each leaf's client port: the hub's JetStream domain answers (the info of
             the bucket latticepush_probe, a KV put of the leaf's own key acknowledged in
             that domain, and its read back), and it is the hub that answered (the probe
             stream's cluster)
  hygiene    no leaf runs JetStream under the hub's domain; no stray lattice bucket on a leaf
  wasmcloud  each host answers host.get from the hub side; its ping reply has the lattice,
             js_domain and labels; the hosts answering ping are the inventory's
  previous-domain
             after a domain cutover (previous_js_domain set): streams that mirror or source
             through $JS.<old>.API, in every reachable JetStream, and wasmCloud hosts still
             on the old domain. Warnings (!) while alias_old_domain keeps the old domain
             answering, failures without it

Each check prints its evidence, and what to do when it fails. An unreachable host is a
failed check, never a hang: every step times out (--timeout).

` + exitCodesHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.path = args[0]
			return g.runVerify(cmd.Context(), a)
		},
	}
	cmd.Flags().BoolVar(&a.json, "json", false, `machine-readable output: {"format_version":"1.0","ok":…,"results":[…]}`)
	cmd.Flags().DurationVar(&a.timeout, "timeout", 5*time.Second, "bound on each network step (dial, HTTP request, NATS request)")
	g.addVarFlags(cmd)
	return cmd
}

func (g *globals) runVerify(ctx context.Context, a verifyArgs) error {
	inv, err := g.loadInventory(a.path, inventory.Options{})
	if err != nil {
		return err
	}
	pool := remote.NewPool(g.remoteOptions())
	defer pool.Close()
	targets := fleet.New(inv, pool, fleet.Options{}).Targets(ctx)
	rep := verify.Run(ctx, inv, targets, verify.Options{Timeout: a.timeout})
	if ctx.Err() != nil {
		return errCanceled
	}
	if a.json {
		err = writeVerifyJSON(g.stdout, rep)
	} else {
		color, _ := g.terminal(g.stdout)
		err = writeVerifyReport(g.stdout, rep, color)
	}
	if err != nil {
		return err
	}
	if !rep.OK() {
		return silentExit(exitVerify)
	}
	return nil
}

// verifyDocument is verify's -json output. format_version changes only with an incompatible
// change of shape.
type verifyDocument struct {
	FormatVersion string          `json:"format_version"`
	OK            bool            `json:"ok"`
	Results       []verify.Result `json:"results"`
}

func writeVerifyJSON(w io.Writer, rep verify.Report) error {
	doc := verifyDocument{FormatVersion: "1.0", OK: rep.OK(), Results: rep.Results}
	if doc.Results == nil {
		doc.Results = []verify.Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// groupTitles head the groups of the human report.
var groupTitles = map[string]string{
	"hub":       "Hub cluster",
	"leaf":      "Leaf links",
	"domain":    "JetStream domain through the leaves",
	"hygiene":   "Domain hygiene",
	"wasmcloud": "wasmCloud hosts",

	"previous-domain": "Users of the previous JetStream domain",
	"service":         "Service users",
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
)

// writeVerifyReport prints the results grouped, one line per check (✓ or ✗, check, host,
// evidence) with the fix under each failure, then a one-line verdict. Colour only if color.
func writeVerifyReport(w io.Writer, rep verify.Report, color bool) error {
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + ansiReset
	}
	checkW, hostW := 0, 0
	for _, r := range rep.Results {
		checkW, hostW = max(checkW, len(r.Check)), max(hostW, len(r.Host))
	}
	var b strings.Builder
	group := ""
	for _, r := range rep.Results {
		if r.Group != group {
			if group != "" {
				b.WriteString("\n")
			}
			group = r.Group
			title := groupTitles[group]
			if title == "" {
				title = group
			}
			b.WriteString(paint(ansiBold, title) + "\n")
		}
		mark := paint(ansiGreen, "✓")
		switch {
		case !r.OK:
			mark = paint(ansiRed, "✗")
		case r.Warning:
			mark = paint(ansiYellow, "!")
		}
		fmt.Fprintf(&b, "  %s %-*s  %-*s  %s\n", mark, checkW, r.Check, hostW, r.Host, r.Evidence)
		if (!r.OK || r.Warning) && r.Fix != "" {
			fmt.Fprintf(&b, "    %*s%s\n", checkW+hostW+4, "", paint(ansiDim, "fix: "+r.Fix))
		}
	}
	failed := len(rep.Failed())
	switch {
	case len(rep.Results) == 0:
		b.WriteString(paint(ansiRed, "No checks ran: the inventory has no hosts to verify.") + "\n")
	case failed == 0 && len(rep.Warnings()) > 0:
		fmt.Fprintf(&b, "\n%s\n", paint(ansiYellow, fmt.Sprintf("All %d checks passed, %d with a warning: the lattice works; act on the warnings.",
			len(rep.Results), len(rep.Warnings()))))
	case failed == 0:
		fmt.Fprintf(&b, "\n%s\n", paint(ansiGreen, fmt.Sprintf("All %d checks passed: the lattice works as the inventory says.", len(rep.Results))))
	default:
		fmt.Fprintf(&b, "\n%s\n", paint(ansiRed, fmt.Sprintf("%d of %d checks failed.", failed, len(rep.Results))))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
