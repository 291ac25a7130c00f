package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/unit"
)

// A CA rotation (`latticepush secrets --rotate ca.key`) is one change in three steps, each a
// rollout of reloads, each planned only once the fleet is observed through the one before:
//
//  1. trust-both: the CA file of every nats-server holds the new and the old CA certificate;
//     the hubs and relays keep their certificates of the old CA.
//  2. reissue: every hub and relay gets a certificate of the new CA. Planned once every
//     server runs a config that trusts both, so no link refuses a new certificate.
//  3. drop-old: the CA files hold the new CA only. Planned once every hub and relay presents
//     a certificate of the new CA (read by a TLS handshake through its SSH connection), so
//     no server is left presenting a certificate its peers no longer trust.
//
// Then the rotation is complete: `latticepush secrets --finish-rotation ca.key`.
const (
	CARotationTrustBoth = "trust-both"
	CARotationReissue   = "reissue"
	CARotationDropOld   = "drop-old"
)

// caState is what a nats-server host runs, as far as a CA rotation goes.
type caState struct {
	host      string
	tls       bool // its config names a CA file at all
	trustBoth bool // its config names the file of both CAs, and it runs that config
	newOnly   bool // its config names the new CA's file only
	certHost  bool // a hub or relay: it presents a certificate
	servesNew bool // it presents a certificate of the new CA
	servesOld bool // it presents a certificate of the retiring CA
	running   bool
	why       string // why it holds a step back
}

func caSKI(pemBytes []byte) (serial, ski string, err error) {
	c, err := inventory.ParseCACert(pemBytes)
	if err != nil {
		return "", "", err
	}
	return inventory.CASerial(c), hex.EncodeToString(c.SubjectKeyId), nil
}

// configCAFiles returns the base names of the CA files a nats-server config names, sorted.
func configCAFiles(config []byte) []string {
	var out []string
	for _, f := range configCAs(config) {
		if b := path.Base(f); !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	sort.Strings(out)
	return out
}

// caRotationSteps are the renders a CA rotation may plan besides the default (trust-both).
var caRotationSteps = []int{unit.CAReissue, unit.CADropOld}

// caRotationProbeFiles are the files of h that a CA rotation's later steps render and the
// default render does not name: observed too, so a plan at those steps knows them.
func caRotationProbeFiles(inv *inventory.Inventory, h *inventory.Host, desired []DesiredFile) map[string]string {
	t := inv.Lattice.TLS
	if t == nil || !t.Managed || len(t.RetiringCACert) == 0 || h.NATS() == nil {
		return nil
	}
	out := map[string]string{}
	for _, step := range caRotationSteps {
		files, err := renderHostFiles(inv, h, unit.Options{CAStep: step})
		if err != nil {
			continue
		}
		for _, f := range files {
			if slices.ContainsFunc(desired, func(d DesiredFile) bool { return d.Path == f.Path }) {
				continue
			}
			sum := sha256.Sum256(f.Content)
			out[f.Path] = hex.EncodeToString(sum[:])
		}
	}
	return out
}

// planCARotation decides the step of a recorded CA rotation and returns the desired files and
// facts to plan with (re-rendered at that step). With no rotation recorded it refuses a plan
// that would leave a running server presenting a certificate of a CA the fleet no longer
// trusts (`secrets --finish-rotation ca.key` run before the rotation was complete).
func planCARotation(inv *inventory.Inventory, desired Desired, facts map[string]Facts, opts Options) (Desired, map[string]Facts, *Rotation, error) {
	t := inv.Lattice.TLS
	if t == nil || !t.Managed || len(t.CACert) == 0 {
		return desired, facts, nil, nil
	}
	newSerial, newSKI, err := caSKI(t.CACert)
	if err != nil || newSKI == "" {
		return desired, facts, nil, nil // loadCA reports an unusable CA
	}
	if len(t.RetiringCACert) == 0 {
		var stale []string
		for _, h := range inventory.CertHosts(inv) {
			f := facts[h.Name]
			if f.NATS != nil && f.NATS.TLSCertIssuer != "" && f.NATS.TLSCertIssuer != newSKI {
				stale = append(stale, h.Name)
			}
		}
		if len(stale) > 0 && changesCAFile(inv, desired, facts) {
			return nil, nil, nil, fmt.Errorf("%s present a certificate of a CA that is not the fleet CA in %s (%s), and this plan would make every server trust "+
				"that CA only: their links would be refused. If `secrets --finish-rotation %s` was run before plan showed the CA rotation complete, put back the "+
				"secrets file from before it and plan again. If the CA was replaced on purpose, stop nats-server on every hub and relay, then plan and apply "+
				"(they start with certificates of the new CA). Nothing was changed",
				strings.Join(stale, ", "), inv.Auth.SecretsFile, newSerial, inventory.SecretCAKey)
		}
		return desired, facts, nil, nil
	}
	oldSerial, oldSKI, err := caSKI(t.RetiringCACert)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: the retiring CA certificate: %v", inv.Auth.SecretsFile, err)
	}
	bundle, newOnly := "ca-"+newSerial+"-"+oldSerial+".pem", "ca-"+newSerial+".pem"
	rot := &Rotation{Secret: inventory.SecretCAKey, OldCA: oldSerial, NewCA: newSerial}

	var states []caState
	for _, h := range inv.Hosts {
		n := h.NATS()
		if n == nil {
			continue
		}
		st := caState{host: h.Name, certHost: h.Hub != nil || h.IsRelay()}
		f, ok := facts[h.Name]
		if !ok || !f.Reachable() {
			st.tls, st.why = true, "not observed"
			states = append(states, st)
			continue
		}
		st.running = f.Services[ServiceNATS].Running
		cas := configCAFiles(fileContent(f, desired[h.Name], n.ConfigFile))
		if len(cas) == 0 {
			continue // no TLS on this server (or its config could not be read: it gets the desired one)
		}
		st.tls = true
		st.newOnly = len(cas) == 1 && cas[0] == newOnly
		nf := f.NATS
		// It runs its file: the desired config's digest, or the one an apply recorded for
		// the file (the file differs from the desired config while another rotation's step
		// renders it, e.g. a route rotation's).
		live := nf != nil && nf.RunningDigest != "" && (nf.RunningDigest == nf.DesiredDigest || nf.RunningDigest == nf.FileDigest)
		if nf != nil && st.certHost && st.running {
			st.servesNew = nf.TLSCertIssuer == newSKI
			st.servesOld = nf.TLSCertIssuer == oldSKI
		}
		st.trustBoth = len(cas) == 1 && cas[0] == bundle && (live || st.servesNew || !st.running)
		switch {
		case st.trustBoth || st.newOnly:
		case len(cas) == 1 && cas[0] == bundle:
			st.why = "its config trusts both CAs but the running server does not run it yet"
		default:
			st.why = "trusts " + strings.Join(cas, ", ")
		}
		states = append(states, st)
	}

	anyNewOnly, allTrust, allServeNew := false, true, true
	var notTrusting, notServing, servingOld []string
	for _, st := range states {
		anyNewOnly = anyNewOnly || st.newOnly
		if !st.trustBoth && !st.newOnly {
			allTrust = false
			notTrusting = append(notTrusting, st.host+" ("+st.why+")")
		}
		if st.certHost && st.running && !st.servesNew {
			allServeNew = false
			what := "presents a certificate of the retiring CA"
			switch {
			case st.why == "not observed":
				what = "not observed"
			case !st.servesOld:
				what = "its certificate could not be read"
			}
			notServing = append(notServing, st.host+" ("+what+")")
			if !opts.Selected(st.host) {
				servingOld = append(servingOld, st.host)
			}
		}
	}
	step := unit.CATrustBoth
	rot.Step = CARotationTrustBoth
	switch {
	case anyNewOnly || (allTrust && allServeNew):
		step, rot.Step = unit.CADropOld, CARotationDropOld
		if !allServeNew && len(servingOld) > 0 {
			sort.Strings(servingOld)
			return nil, nil, nil, fmt.Errorf("servers already trust only the new CA %s while %s, left out of this plan, still present a certificate of the retiring CA %s: "+
				"their links are refused. Plan again with them included (their reload gives them a certificate of the new CA). Nothing was changed",
				newSerial, strings.Join(servingOld, ", "), oldSerial)
		}
		rot.Waiting = notServing
	case allTrust:
		step, rot.Step = unit.CAReissue, CARotationReissue
		rot.Waiting = notServing
	default:
		rot.Waiting = notTrusting
	}
	sort.Strings(rot.Waiting)

	if step != unit.CATrustBoth {
		desired, facts, err = renderCAStep(inv, desired, facts, step)
		if err != nil {
			return nil, nil, nil, err
		}
	}
	if step == unit.CADropOld {
		complete := true
		for _, h := range inv.Hosts {
			n := h.NATS()
			if n == nil {
				continue
			}
			f := facts[h.Name]
			cas := configCAFiles(fileContent(f, desired[h.Name], n.ConfigFile))
			if !f.Reachable() || len(cas) != 1 || cas[0] != newOnly {
				complete = false
			}
		}
		if complete && allServeNew {
			rot.Step = RotationComplete
		}
	}
	return desired, facts, rot, nil
}

// changesCAFile reports whether the desired config of a running server names other CA files
// than the config it runs: the plan changes which CAs it trusts.
func changesCAFile(inv *inventory.Inventory, desired Desired, facts map[string]Facts) bool {
	for _, h := range inv.Hosts {
		n := h.NATS()
		if n == nil {
			continue
		}
		f := facts[h.Name]
		if !f.Reachable() || !f.Services[ServiceNATS].Running {
			continue
		}
		var want []byte
		for _, df := range desired[h.Name] {
			if df.Path == n.ConfigFile {
				want = df.Content
			}
		}
		w, hv := configCAFiles(want), configCAFiles(fileContent(f, desired[h.Name], n.ConfigFile))
		sort.Strings(w)
		sort.Strings(hv)
		if len(w) > 0 && len(hv) > 0 && !slices.Equal(w, hv) {
			return true
		}
	}
	return false
}

// renderCAStep re-renders every nats-server host at a CA rotation's step. Their facts were
// observed against the default render: the config's content is carried over (a file that
// matched was not read), and the digest nats-server printed was of that config, so it is
// left for apply's pre-check to take again.
func renderCAStep(inv *inventory.Inventory, desired Desired, facts map[string]Facts, step int) (Desired, map[string]Facts, error) {
	out, outFacts := maps.Clone(desired), maps.Clone(facts)
	for _, h := range inv.Hosts {
		n := h.NATS()
		if n == nil {
			continue
		}
		files, err := renderHostFiles(inv, h, unit.Options{CAStep: step})
		if err != nil {
			return nil, nil, err
		}
		out[h.Name] = files
		f, ok := facts[h.Name]
		if !ok {
			continue
		}
		f.Files = maps.Clone(f.Files)
		if ff, ok := f.Files[n.ConfigFile]; ok {
			ff.Content = fileContent(f, desired[h.Name], n.ConfigFile)
			f.Files[n.ConfigFile] = ff
		}
		if f.NATS != nil {
			nf := *f.NATS
			nf.DesiredDigest, nf.DesiredError = "", ""
			f.NATS = &nf
		}
		outFacts[h.Name] = f
	}
	return out, outFacts, nil
}

// annotateCARotation gives the nats-server units a CA rotation changes their step as a reason.
func annotateCARotation(p *Plan, rot *Rotation) {
	var why string
	switch rot.Step {
	case CARotationTrustBoth:
		why = fmt.Sprintf("rotation of %s, step 1 of 3: the server trusts the new CA %s beside the retiring %s", rot.Secret, rot.NewCA, rot.OldCA)
	case CARotationReissue:
		why = fmt.Sprintf("rotation of %s, step 2 of 3: every server trusts both CAs; the certificate is issued by the new CA %s", rot.Secret, rot.NewCA)
	case CARotationDropOld:
		why = fmt.Sprintf("rotation of %s, step 3 of 3: every hub and relay presents a certificate of %s; the server stops trusting the retiring CA %s", rot.Secret, rot.NewCA, rot.OldCA)
	default:
		return
	}
	for _, u := range p.Units {
		if u.Service == ServiceNATS && u.Changes() {
			u.Reasons = append(u.Reasons, why)
		}
	}
}

// renderStep is the unit.Options.CAStep the plan renders at (the default without a rotation).
func (r *Rotation) renderStep() int {
	switch {
	case r == nil:
		return unit.CATrustBoth
	case r.Step == CARotationReissue:
		return unit.CAReissue
	case r.Step == CARotationDropOld || r.Step == RotationComplete:
		return unit.CADropOld
	}
	return unit.CATrustBoth
}
