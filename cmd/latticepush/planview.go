package main

import (
	"cmp"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
)

// printPlan writes the human view of a plan: per host, each unit's action and reasons and
// every changed file's diff (already redacted), then the waves in order and a summary.
func (g *globals) printPlan(p *plan.Plan) {
	w := g.stdout
	color, _ := g.terminal(w)
	paint := func(a plan.Action, s string) string {
		if !color {
			return s
		}
		switch a {
		case plan.Reload:
			return "\x1b[33m" + s + "\x1b[0m"
		case plan.Start:
			return "\x1b[32m" + s + "\x1b[0m"
		case plan.Restart:
			return "\x1b[35m" + s + "\x1b[0m"
		case plan.Adopt:
			return "\x1b[36;1m" + s + "\x1b[0m"
		case plan.Cutover:
			return "\x1b[31;1m" + s + "\x1b[0m"
		}
		return s
	}
	fmt.Fprintf(w, "Lattice %q, JetStream domain %q (inventory %s)\n", p.Lattice, p.Domain, p.Inventory)
	if p.Cutover != nil {
		fmt.Fprintf(w, "\n%s JetStream domain cutover: %s -> %s\n", paint(plan.Cutover, "!!"), p.Cutover.From, p.Cutover.To)
		for _, c := range p.Cutover.Consequences {
			fmt.Fprintf(w, "   - %s\n", c)
		}
	}
	for _, r := range p.Rotations {
		printRotation(w, p, r)
	}
	if len(p.PeerRemovals) > 0 {
		fmt.Fprintf(w, "\n%s JetStream meta group of the hub cluster: removed before the hub wave\n", paint(plan.Restart, "  -"))
		for _, r := range p.PeerRemovals {
			fmt.Fprintf(w, "   - %s (peer %s): %s\n", r.Name, r.Peer, r.Why)
		}
	}
	host := ""
	for _, u := range p.Units {
		if !u.Changes() {
			continue
		}
		if u.Host != host {
			host = u.Host
			fmt.Fprintf(w, "\n  %s\n", host)
		}
		what := string(u.Action)
		if u.Start {
			what = "start"
		} else if u.Action == plan.Noop {
			what = "update files"
		} else if u.Cert != nil && u.Cert.Renew {
			what += " (" + plan.ReasonRenew + ")"
		}
		svc := u.Service
		if u.Step == plan.StepBridge {
			svc += " (bridge, before the hub wave)"
		}
		fmt.Fprintf(w, "  %s %s: %s\n", paint(u.Action, fmt.Sprintf("%3s", u.Action.Symbol())), svc, what)
		for _, r := range u.Reasons {
			fmt.Fprintf(w, "        %s\n", r)
		}
		if up := u.Upgrade; up != nil {
			fmt.Fprintf(w, "        %s\n", uploadLine(up))
		}
		for _, f := range u.Files {
			mode := fmt.Sprintf("%04o", f.Mode)
			if f.Op == "mode" || (f.OldMode != 0 && f.OldMode != f.Mode) {
				mode = fmt.Sprintf("%04o -> %04o", f.OldMode, f.Mode)
			}
			if f.Group != "" || f.OldGroup != "" {
				group := cmp.Or(f.Group, "root")
				if f.OldGroup != "" {
					group = f.OldGroup + " -> " + group
				}
				mode += ", group " + group
			}
			fmt.Fprintf(w, "        %s %s (%s)\n", fileSymbol(f.Op), f.Path, mode)
			writeIndented(w, f.Diff, "          ", color)
		}
		if u.Cert != nil {
			for _, f := range u.Cert.Remove {
				fmt.Fprintf(w, "        - %s (removed once the new certificate is served)\n", f)
			}
			if u.Cert.Sweep != "" {
				fmt.Fprintf(w, "        - %s<serial>.pem and .key but the new ones (certificates replaced before)\n", u.Cert.Sweep)
			}
		}
		if s := u.CASweep; s != nil {
			for _, f := range s.Previous {
				fmt.Fprintf(w, "        - %s (removed once the gate passed)\n", f)
			}
			fmt.Fprintf(w, "        - %s<serial>.pem but the new one (CA files of earlier CAs)\n", s.Prefix)
		}
	}
	if len(p.Waves) > 0 {
		fmt.Fprintf(w, "\nWaves, each gated before the next:\n")
		for i, wave := range p.Waves {
			var steps []string
			for _, b := range wave.Batches {
				steps = append(steps, strings.Join(hostsOf(b), " + "))
			}
			line := strings.Join(steps, " -> ")
			if len(wave.GateOnly) > 0 {
				if line != "" {
					line += "; "
				}
				line += "then gate " + strings.Join(hostsOf(wave.GateOnly), ", ")
			}
			fmt.Fprintf(w, "  %d. %-11s %s\n", i+1, wave.Name, line)
		}
	}
	for _, u := range p.Unreachable {
		fmt.Fprintf(w, "\nUnreachable, left out: %s (%s): %s\n", u.Host, strings.Join(u.Roles, ", "), u.Error)
	}
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "\nWarning: %s\n", warn)
	}
	if n, hosts, f := uploads(p); hosts+f.hosts > 0 {
		var parts []string
		if hosts > 0 {
			parts = append(parts, fmt.Sprintf("%s to upload to %s", byteSize(n), plural(hosts, "host", "hosts")))
		}
		if f.hosts > 0 {
			size := byteSize(f.bytes)
			switch {
			case f.unknown == f.hosts:
				size = "size unknown until fetched"
			case f.unknown > 0:
				size += fmt.Sprintf(" and %s unknown until fetched", plural(f.unknown, "size", "sizes"))
			}
			parts = append(parts, plural(f.hosts, "host fetches its own", "hosts fetch their own")+" ("+size+")")
		}
		fmt.Fprintf(w, "\n%s releases: %s, checked there against their sha256 before anything restarts.\n", programs(p), strings.Join(parts, "; "))
	}
	fmt.Fprintf(w, "\n%s\n", p.Summary())
	if !p.HasChanges() {
		fmt.Fprintln(w, "No changes: every host runs what the inventory says.")
	}
}

func fileSymbol(op string) string {
	switch op {
	case "create":
		return "+"
	case "mode":
		return "m"
	}
	return "~"
}

func hostsOf(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		h, svc, _ := strings.Cut(id, "/")
		out[i] = h
		if svc == plan.ServiceWasmcloud {
			out[i] = h + "(wasmcloud)"
		}
	}
	return out
}

func writeIndented(w io.Writer, diff, indent string, color bool) {
	if diff == "" {
		return
	}
	for _, l := range strings.Split(strings.TrimRight(diff, "\n"), "\n") {
		if color {
			switch {
			case strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "+++"):
				l = "\x1b[32m" + l + "\x1b[0m"
			case strings.HasPrefix(l, "-") && !strings.HasPrefix(l, "---"):
				l = "\x1b[31m" + l + "\x1b[0m"
			}
		}
		fmt.Fprintf(w, "%s%s\n", indent, l)
	}
}

// uploadLine says what a unit's release change uploads.
func uploadLine(up *plan.Upgrade) string {
	if !up.Upload {
		return fmt.Sprintf("%s %s (%s) is on the host already: %s -> %s", up.ProgramName(), up.To, up.Platform, up.Link, up.Binary())
	}
	if up.Fetch != "" {
		size := "size unknown until fetched"
		if up.Bytes > 0 {
			size = byteSize(up.Bytes)
		}
		return fmt.Sprintf("fetch %s (%s, %s) with %s on the host into %s; %s -> %s",
			inventory.RedactURL(up.Source), up.Platform, size, up.Fetch, up.Dir, up.Link, up.Binary())
	}
	return fmt.Sprintf("upload %s (%s, %s) into %s; %s -> %s", filepath.Base(up.Source), up.Platform, byteSize(up.Bytes), up.Dir, up.Link, up.Binary())
}

// programs names the programs whose releases a plan changes: "nats-server", "wasmcloud", or
// both.
func programs(p *plan.Plan) string {
	var names []string
	for _, u := range p.Units {
		if u.Upgrade != nil && !slices.Contains(names, u.Upgrade.ProgramName()) {
			names = append(names, u.Upgrade.ProgramName())
		}
	}
	sort.Strings(names)
	return strings.Join(names, " and ")
}

// fetches totals the releases hosts fetch themselves: hosts, declared bytes, and how many
// of them have no declared size.
type fetches struct {
	hosts, unknown int
	bytes          int64
}

// uploads totals the releases a plan puts on hosts: bytes and hosts uploaded to, and what the
// hosts fetch themselves.
func uploads(p *plan.Plan) (int64, int, fetches) {
	var n int64
	var f fetches
	hosts := map[string]bool{}
	for _, u := range p.Units {
		switch {
		case u.Upgrade == nil || !u.Upgrade.Upload:
		case u.Upgrade.Fetch != "":
			f.hosts++
			f.bytes += u.Upgrade.Bytes
			if u.Upgrade.Bytes == 0 {
				f.unknown++
			}
		default:
			n += u.Upgrade.Bytes
			hosts[u.Host] = true
		}
	}
	return n, len(hosts), f
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// printRotation writes a password rotation as one change in steps, marking the ones this plan
// takes.
func printRotation(w io.Writer, p *plan.Plan, r *plan.Rotation) {
	mark := func(on bool) string {
		if on {
			return "->"
		}
		return "  "
	}
	switch r.Secret {
	case inventory.SecretCAKey:
		printCARotation(w, p, r, mark)
		return
	case inventory.SecretRoutePassword:
		printRouteRotation(w, p, r, mark)
		return
	}
	switching, retiring := r.Step == plan.RotationAcceptAndSwitch, r.Step == plan.RotationRetire
	if r.Leaf() {
		fmt.Fprintf(w, "\nRotation of %s (%s -> %s), three steps:\n", r.Secret, r.OldUser, r.NewUser)
		fmt.Fprintf(w, "  %s 1. the hubs accept %s beside %s (reload)\n", mark(switching), r.NewUser, r.OldUser)
		fmt.Fprintf(w, "  %s 2. the leaves log in as %s (reload, each confirmed on a new link)\n", mark(switching), r.NewUser)
		fmt.Fprintf(w, "  %s 3. the hubs drop %s (reload), once every leaf runs step 2\n", mark(retiring), r.OldUser)
	} else {
		fmt.Fprintf(w, "\nRotation of %s (%s -> %s), two steps:\n", r.Secret, r.OldUser, r.NewUser)
		fmt.Fprintf(w, "  %s 1. the hubs accept %s beside %s (reload)\n", mark(switching), r.NewUser, r.OldUser)
		fmt.Fprintf(w, "  %s 2. the hubs drop %s (reload), once every hub accepts %s\n", mark(retiring), r.OldUser, r.NewUser)
	}
	switch r.Step {
	case plan.RotationAcceptAndSwitch:
		if r.Leaf() {
			fmt.Fprintf(w, "  This plan takes steps 1 and 2; plan again after apply for step 3.\n")
		} else {
			fmt.Fprintf(w, "  This plan takes step 1; plan again after apply for step 2.\n")
		}
		for _, why := range r.Waiting {
			fmt.Fprintf(w, "  waiting for %s\n", why)
		}
	case plan.RotationComplete:
		fmt.Fprintf(w, "  Complete: no server accepts %s any more. Run `latticepush secrets --finish-rotation %s %s`.\n", r.OldUser, r.Secret, p.Inventory)
	}
}

// printRouteRotation writes a route password rotation's steps, marking the one this plan takes.
func printRouteRotation(w io.Writer, p *plan.Plan, r *plan.Rotation, mark func(bool) string) {
	fmt.Fprintf(w, "\nRotation of %s (%s -> %s), one apply per cluster member and one more:\n", r.Secret, r.OldUser, r.NewUser)
	fmt.Fprintf(w, "  %s 1. one member of each cluster accepts %s instead of %s (reload); every member dials those that accept %s with it\n",
		mark(r.Step == plan.RotationAcceptOne), r.NewUser, r.OldUser, r.NewUser)
	fmt.Fprintf(w, "  %s 2. every route dials with %s (reload), once every member accepts it\n", mark(r.Step == plan.RotationRetire), r.NewUser)
	switch {
	case r.Step == plan.RotationAcceptOne && len(r.Moving()) > 0:
		fmt.Fprintf(w, "  This plan moves %s; plan again after apply for the next member.\n", strings.Join(r.Moving(), ", "))
	case r.Step == plan.RotationAcceptOne:
		fmt.Fprintf(w, "  No member moves in this plan: see what it waits for.\n")
	case r.Step == plan.RotationRetire:
		fmt.Fprintf(w, "  Plan again after apply: it reports the rotation complete.\n")
	case r.Step == plan.RotationComplete:
		fmt.Fprintf(w, "  Complete: no config names %s any more. Run `latticepush secrets --finish-rotation %s %s`.\n", r.OldUser, r.Secret, p.Inventory)
	}
	for _, why := range r.Waiting {
		fmt.Fprintf(w, "  waiting for %s\n", why)
	}
}

// printCARotation writes a CA rotation's three steps, marking the one this plan takes.
func printCARotation(w io.Writer, p *plan.Plan, r *plan.Rotation, mark func(bool) string) {
	fmt.Fprintf(w, "\nRotation of %s (CA %s -> %s), three steps, each its own apply:\n", r.Secret, r.OldCA, r.NewCA)
	fmt.Fprintf(w, "  %s 1. every nats-server trusts both CAs (reload)\n", mark(r.Step == plan.CARotationTrustBoth))
	fmt.Fprintf(w, "  %s 2. every hub and relay gets a certificate of %s (reload), once every server trusts both\n", mark(r.Step == plan.CARotationReissue), r.NewCA)
	fmt.Fprintf(w, "  %s 3. every nats-server drops %s (reload), once every hub and relay presents a certificate of %s\n", mark(r.Step == plan.CARotationDropOld), r.OldCA, r.NewCA)
	if r.Step == plan.RotationComplete {
		fmt.Fprintf(w, "  Complete: no server trusts %s any more. Run `latticepush secrets --finish-rotation %s %s`.\n", r.OldCA, r.Secret, p.Inventory)
		return
	}
	if r.Step != plan.CARotationDropOld {
		fmt.Fprintf(w, "  Plan again after apply for the next step.\n")
	}
	for _, why := range r.Waiting {
		fmt.Fprintf(w, "  waiting for %s\n", why)
	}
}
