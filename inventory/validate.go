package inventory

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// validate applies the topology rules to a resolved inventory and returns every
// violation, each pointing at the attribute or block to fix.
//
// Two topology rules are not checked here because they hold by construction: every leaf's
// remotes list all hub leafnode URLs (below relays: every relay of its upstream), since unit/
// renders them from the hosts of this same inventory rather than from anything the operator
// writes; and every wasmCloud host's
// WASMCLOUD_JS_DOMAIN is Lattice.JSDomain, which has no per-host setting. The identity rule
// (no silent change of a hub's server_name or cluster_name) needs the live servers: plan/.
func validate(inv *Inventory, d *decoded) hcl.Diagnostics {
	v := &validator{inv: inv, d: d}
	v.lattice()
	v.hubs()
	v.hostRoles()
	v.uniqueNames()
	v.leafDomains()
	v.relays()
	v.upstreamSystem()
	v.listenAddresses()
	v.values()
	v.bastions()
	v.installs()
	return v.set.done()
}

type validator struct {
	inv *Inventory
	d   *decoded
	set diagSet
	// hb is the host block being checked: a diagnostic inside the hosts block that generated
	// it names the instance.
	hb *hostBlock
}

// on makes h the host being checked (nil: none).
func (v *validator) on(h *Host) {
	v.hb = nil
	if h != nil {
		v.hb = v.d.hosts[h]
	}
}

func (v *validator) errorf(subject hcl.Range, summary, detail string, args ...any) {
	v.add(hcl.DiagError, subject, summary, detail, args...)
}

func (v *validator) warnf(subject hcl.Range, summary, detail string, args ...any) {
	v.add(hcl.DiagWarning, subject, summary, detail, args...)
}

// add records a diagnostic once: a setting made in a role is checked on every host of the
// role, and reported only the first time. One about a generated host's own settings names
// the instance.
func (v *validator) add(sev hcl.DiagnosticSeverity, subject hcl.Range, summary, detail string, args ...any) {
	d := &hcl.Diagnostic{
		Severity: sev,
		Summary:  summary,
		Detail:   fmt.Sprintf(detail, args...),
	}
	if subject != (hcl.Range{}) {
		d.Subject = subject.Ptr()
	}
	var inst instance
	if v.hb != nil && v.hb.Group != nil && d.Subject != nil && within(subject, v.hb.GenRange) {
		inst = v.hb.Instance
	}
	v.set.add(d, inst)
}

// natsAttr is where host h's nats setting name comes from: the host's nats block, else its
// role's, else (a default) the host's name label.
func (v *validator) natsAttr(h *Host, name string) hcl.Range {
	hb := v.d.hosts[h]
	if hb.NATS != nil {
		if r, ok := attrRange(hb.NATS.Body, name); ok {
			return r
		}
	}
	if rb := v.d.roles[natsRole(h)]; rb != nil && rb.NATS != nil {
		if r, ok := attrRange(rb.NATS.Body, name); ok {
			return r
		}
	}
	return hb.NameRange
}

func (v *validator) lattice() {
	l := &v.d.fs.Lattice
	if l.DeclRange == (hcl.Range{}) {
		return // no lattice block: gohcl reported it
	}
	if !isName(l.Name) {
		v.errorf(l.NameRange, "Invalid lattice name",
			"Lattice name %q may only contain letters, digits, '_' and '-': wasmCloud puts it in NATS subjects and in the LATTICEDATA_<name> bucket name.", l.Name)
	}
	if l.JSDomainRange != (hcl.Range{}) {
		v.domain(l.JSDomain, "js_domain", l.JSDomainRange)
	}
	if l.PreviousJSDomain != nil {
		prev := *l.PreviousJSDomain
		if v.domain(prev, "previous_js_domain", l.PreviousRange) && prev == l.JSDomain {
			v.errorf(l.PreviousRange, "previous_js_domain equals js_domain",
				"previous_js_domain names the domain the hubs served before a domain change; it must differ from js_domain %q. Remove it once no client uses the old domain.", l.JSDomain)
		}
	}
}

// domain checks a JetStream domain token and reports whether it is valid.
func (v *validator) domain(dom, attr string, subject hcl.Range) bool {
	if problem := domainProblem(dom); problem != "" {
		v.errorf(subject, "Invalid JetStream domain",
			"%s %q %s. A domain is a single subject token ($JS.<domain>.API.>): nats-server refuses a '.', and '*' or '>' would be wildcards. Use letters, digits, '-' or '_'.", attr, dom, problem)
		return false
	}
	return true
}

func (v *validator) hubs() {
	defer v.on(nil)
	hubs := v.inv.Hubs()
	switch n := len(hubs); {
	case n == 0:
		v.errorf(v.d.fs.Lattice.DeclRange, "No hub",
			"No host has the role %q. A lattice needs one hub cluster (1, 3 or 5 hosts) that homes the JetStream domain %q: add \"hub\" to the roles of 1 or 3 hosts.", RoleHub, v.inv.Lattice.JSDomain)
	case n%2 == 0:
		v.on(hubs[n-1])
		v.warnf(v.d.hosts[hubs[n-1]].RolesRange, "Even number of hubs",
			"The hub cluster has %d hosts. JetStream needs a majority for quorum, so %d hubs tolerate no more failures than %d: use an odd number (3 or 5).", n, n, n-1)
	}
	if len(hubs) == 0 {
		return
	}
	first := hubs[0]
	for _, h := range hubs[1:] {
		v.on(h)
		if h.Hub.ClusterName != first.Hub.ClusterName {
			v.errorf(v.natsAttr(h, "cluster_name"), "More than one hub cluster",
				"Hub %s is in cluster %q but hub %s is in cluster %q. All hubs form one cluster: set cluster_name once, in role \"hub\", and remove it from the hosts.",
				h.Name, h.Hub.ClusterName, first.Name, first.Hub.ClusterName)
		}
	}
}

// hostRoles checks the role combinations on each host and the blocks that only apply to some
// roles.
func (v *validator) hostRoles() {
	defer v.on(nil)
	for _, h := range v.inv.Hosts {
		hb := v.d.hosts[h]
		v.on(h)
		if h.HasRole(RoleHub) && h.HasRole(RoleLeaf) {
			v.errorf(hb.RolesRange, "Host is both hub and leaf",
				"Host %s lists both \"hub\" and \"leaf\". A machine runs one nats-server: a hub already serves local clients, so remove \"leaf\".", h.Name)
		}
		if h.HasRole(RoleWasmcloud) && h.NATS() == nil && !v.d.unknownRoles[hb] {
			v.errorf(hb.RolesRange, "wasmCloud host without a local NATS server",
				"Host %s runs wasmCloud but no nats-server. A wasmCloud host connects to a leaf (or hub) on its own machine: add \"leaf\" to its roles.", h.Name)
		}
		if hb.NATS != nil && h.NATS() == nil {
			v.errorf(hb.NATS.DeclRange, "Unused nats block",
				"Host %s has no \"hub\" or \"leaf\" role, so its nats block has no effect. Remove the block or add the role.", h.Name)
		}
		if hb.Wasmcloud != nil && !h.HasRole(RoleWasmcloud) {
			v.errorf(hb.Wasmcloud.DeclRange, "Unused wasmcloud block",
				"Host %s has no \"wasmcloud\" role, so its wasmcloud block has no effect. Remove the block or add the role.", h.Name)
		}
		if h.Hub != nil && hb.NATS != nil {
			if r, ok := attrRange(hb.NATS.Body, "jetstream_domain"); ok {
				v.errorf(r, "jetstream_domain on a hub",
					"Hubs serve the lattice's js_domain (%q); jetstream_domain is for a leaf's own JetStream. Remove it here.", v.inv.Lattice.JSDomain)
			}
		}
		if h.Leaf != nil && hb.NATS != nil && !h.IsRelay() {
			v.hubOnly(hb.NATS, "host "+h.Name)
		}
		v.relayRoles(h, hb)
	}
	v.on(nil)
	for name, rb := range v.d.roles {
		switch name {
		case RoleHub:
			if rb.NATS != nil {
				if r, ok := attrRange(rb.NATS.Body, "jetstream_domain"); ok {
					v.errorf(r, "jetstream_domain on a hub",
						"Hubs serve the lattice's js_domain (%q); jetstream_domain is for a leaf's own JetStream. Remove it here.", v.inv.Lattice.JSDomain)
				}
			}
		case RoleLeaf:
			v.hubOnly(rb.NATS, "role \"leaf\"")
		}
		if name != RoleHub && name != RoleLeaf && name != RoleRelay && rb.NATS != nil {
			v.errorf(rb.NATS.DeclRange, "Unexpected nats block",
				"Role %q runs no nats-server; nats settings belong in role \"hub\" or \"leaf\". Move or remove this block.", name)
		}
		if name != RoleWasmcloud && rb.Wasmcloud != nil {
			v.errorf(rb.Wasmcloud.DeclRange, "Unexpected wasmcloud block",
				"wasmcloud settings belong in role \"wasmcloud\", not role %q. Move or remove this block.", name)
		}
	}
}

// hubOnly reports settings in a leaf's nats block that only hubs use (relays accept leaves
// and may form a cluster: they may set all three).
func (v *validator) hubOnly(b *natsBlock, where string) {
	if b == nil {
		return
	}
	for _, name := range []string{"cluster_name", "cluster_port", "leafnode_port"} {
		if r, ok := attrRange(b.Body, name); ok {
			v.errorf(r, "Hub setting on a leaf",
				"%s is a hub cluster setting; leaves have no cluster and accept no leaf connections. Remove it from %s.", name, where)
		}
	}
}

func (v *validator) uniqueNames() {
	defer v.on(nil)
	seen := map[string]*hostBlock{}
	for i := range v.d.fs.Hosts {
		hb := &v.d.fs.Hosts[i]
		v.hb = hb
		if !isHostName(hb.Name) {
			v.errorf(hb.NameRange, "Invalid host name",
				"Host name %q must start with a letter or digit and contain only letters, digits, '.', '_' and '-' (no spaces): it names files and secrets.", hb.Name)
		}
		if prev, dup := seen[hb.Name]; dup {
			v.errorf(hb.NameRange, "Duplicate host",
				"Host %q is already declared at %s. Rename one of them or merge the two blocks.", hb.Name, declaredAt(prev))
			continue
		}
		seen[hb.Name] = hb
	}

	servers := map[string]*Host{}
	for _, h := range v.inv.Hosts {
		v.on(h)
		n := h.NATS()
		if n == nil || n.ServerName == h.Name && !isHostName(h.Name) {
			continue // no server, or one named after a host name already reported
		}
		if n.ServerName == "" || strings.ContainsFunc(n.ServerName, isSpace) {
			v.errorf(v.natsAttr(h, "server_name"), "Invalid server_name",
				"server_name %q must be non-empty and without spaces. Omit it to use the host name.", n.ServerName)
			continue
		}
		if prev, dup := servers[n.ServerName]; dup && prev.Name != h.Name {
			v.errorf(v.natsAttr(h, "server_name"), "Duplicate server_name",
				"Hosts %s and %s both use server_name %q. NATS identifies servers by name (two leaves with one name evict each other from the hub): give each host its own, or omit server_name to use the host name.",
				prev.Name, h.Name, n.ServerName)
			continue
		}
		servers[n.ServerName] = h
	}
}

func (v *validator) leafDomains() {
	defer v.on(nil)
	l := v.inv.Lattice
	owner := map[string]*Host{}
	for _, h := range v.inv.Hosts {
		if h.Leaf == nil || h.Leaf.JetStreamDomain == "" {
			continue
		}
		v.on(h)
		dom, subject := h.Leaf.JetStreamDomain, v.natsAttr(h, "jetstream_domain")
		switch {
		case !v.domain(dom, "jetstream_domain", subject):
		case dom == l.JSDomain && h.IsRelay():
			v.errorf(subject, "Relay domain equals the hub domain",
				"Relay %s has jetstream_domain %q, the lattice's js_domain. Every request for %q from the leaves below it would silently reach the relay's JetStream instead of the hub's. A relay with its own JetStream needs its own domain (e.g. %q); or remove jetstream_domain.", h.Name, dom, dom, h.Name)
		case dom == l.JSDomain:
			v.errorf(subject, "Leaf domain equals the hub domain",
				"Leaf %s has jetstream_domain %q, the lattice's js_domain. Its clients would silently use the leaf's JetStream instead of the hub's, with no error anywhere. Give the leaf its own domain (e.g. %q) or remove jetstream_domain.", h.Name, dom, h.Name)
		case dom == l.PreviousJSDomain:
			v.errorf(subject, "Leaf domain equals the previous hub domain",
				"Leaf %s has jetstream_domain %q, the domain the hubs still answer for (previous_js_domain). Give the leaf its own domain.", h.Name, dom)
		case owner[dom] != nil:
			v.errorf(subject, "Duplicate leaf domain",
				"Leaves %s and %s both have jetstream_domain %q; requests for it would reach either at random. Give each leaf its own domain (e.g. its host name), and set it on the host, not in role \"leaf\".", owner[dom].Name, h.Name, dom)
		default:
			owner[dom] = h
		}
	}
}

// listenAddresses checks ports are in range and that no two listeners collide: on one host,
// on one machine (hosts with the same address and SSH port), and where others dial a hub
// (its address with its cluster or leafnode port).
func (v *validator) listenAddresses() {
	defer v.on(nil)
	type use struct {
		host *Host
		attr string
		bind string // the listen host, "0.0.0.0" for any address
	}
	type machine struct {
		address string
		sshPort int
	}
	onMachine := map[machine]map[int][]use{}
	// Listeners of two hosts on one machine that collide, by pair of hosts, in order found.
	clashes := map[[2]*Host][]string{}
	var pairs [][2]*Host
	dialled := map[string]use{}
	for _, h := range v.inv.Hosts {
		v.on(h)
		n := h.NATS()
		if n == nil {
			continue
		}
		ports := []listenPort{{"client_port", n.ClientPort, n.ClientHost}, {"http_port", n.HTTPPort, n.HTTPHost}}
		if h.Hub != nil {
			// Hubs bind these on every address: peers and leaves dial the inventory address.
			ports = append(ports, listenPort{"cluster_port", n.ClusterPort, "0.0.0.0"}, listenPort{"leafnode_port", n.LeafnodePort, "0.0.0.0"})
		} else if h.IsRelay() {
			ports = append(ports, listenPort{"leafnode_port", n.LeafnodePort, "0.0.0.0"})
			if n.ClusterName != "" {
				ports = append(ports, listenPort{"cluster_port", n.ClusterPort, "0.0.0.0"})
			}
		}
		m := machine{h.Address, h.SSH.Port}
		if onMachine[m] == nil {
			onMachine[m] = map[int][]use{}
		}
		for _, p := range ports {
			subject := v.natsAttr(h, p.attr)
			if p.port < 1 || p.port > 65535 {
				v.errorf(subject, "Port out of range", "%s %d must be between 1 and 65535.", p.attr, p.port)
				continue
			}
			u := use{h, p.attr, p.bind}
			clash := false
			for _, prev := range onMachine[m][p.port] {
				if !bindsOverlap(prev.bind, u.bind) {
					continue
				}
				clash = true
				if prev.host == h {
					v.errorf(subject, "Port used twice",
						"Host %s uses port %d for both %s and %s. Give each listener its own port.", h.Name, p.port, prev.attr, p.attr)
				} else {
					k := [2]*Host{prev.host, h}
					if clashes[k] == nil {
						pairs = append(pairs, k)
					}
					clashes[k] = append(clashes[k], fmt.Sprintf("%s's %s on %s and %s's %s on %s",
						prev.host.Name, prev.attr, listenAddr(prev.bind, p.port), h.Name, p.attr, listenAddr(u.bind, p.port)))
				}
				break
			}
			if clash {
				continue
			}
			onMachine[m][p.port] = append(onMachine[m][p.port], u)
			if p.attr == "cluster_port" || p.attr == "leafnode_port" {
				key := LocalAddr(h.Address, p.port)
				if prev, dup := dialled[key]; dup && prev.host != h && (prev.host.IsRelay() || h.IsRelay()) {
					v.errorf(v.addressRange(h), "Two servers dialled at one address",
						"%s (%s) and %s (%s) are both dialled at %s by the leaves below them. Give one of them another %s, or correct its address.",
						prev.host.Name, prev.attr, h.Name, p.attr, key, p.attr)
					continue
				} else if dup && prev.host != h {
					v.errorf(v.addressRange(h), "Two hubs dialled at one address",
						"Hubs %s (%s) and %s (%s) are both dialled at %s by the other hubs and the leaves. Give one of them another %s, or correct its address.",
						prev.host.Name, prev.attr, h.Name, p.attr, key, p.attr)
					continue
				}
				dialled[key] = u
			}
		}
	}
	for _, k := range pairs {
		a, b := k[0], k[1]
		// Point at the address written later in the file: the one likely copied.
		at := v.addressRange(b)
		if ra := v.addressRange(a); ra.Filename == at.Filename && ra.Start.Byte > at.Start.Byte {
			at = ra
		}
		v.on(nil)
		v.errorf(at, "Two servers on one address",
			"Hosts %s and %s both have address %s, so they are one machine to latticepush, and there their listeners collide: %s. Correct the address if they are different machines; otherwise give one of them other ports.",
			a.Name, b.Name, b.Address, strings.Join(clashes[k], "; "))
	}
}

// addressRange is where host h's address is set, else its name.
func (v *validator) addressRange(h *Host) hcl.Range {
	if hb := v.d.hosts[h]; hb.AddressRange != (hcl.Range{}) {
		return hb.AddressRange
	}
	return v.d.hosts[h].NameRange
}

// bindsOverlap reports whether listeners bound to a and b on one machine take the same
// address: either binds every address, or both bind the same one.
func bindsOverlap(a, b string) bool {
	return isAnyAddress(a) || isAnyAddress(b) || LocalHost(a) == LocalHost(b)
}

func isAnyAddress(h string) bool {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return h == "" || h == "0.0.0.0" || h == "::"
}

// listenAddr is the listen address host:port as a person reads it (IPv6 in brackets).
func listenAddr(bind string, port int) string {
	return net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(bind, "["), "]"), strconv.Itoa(port))
}

// declaredAt is where a host block was declared, with the instance for a generated host.
func declaredAt(hb *hostBlock) string {
	if hb.Group != nil {
		return pos(hb.NameRange) + " (" + hb.Instance.String() + ")"
	}
	return pos(hb.DeclRange)
}

type listenPort struct {
	attr string
	port int
	bind string
}

// isName reports whether s matches [A-Za-z0-9_-]+.
func isName(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
	})
}

func isHostName(s string) bool {
	if s == "" || s[0] == '.' || s[0] == '-' || s[0] == '_' {
		return false
	}
	return isName(strings.ReplaceAll(s, ".", "_"))
}

// isControl reports whether r is a control character (C0 or DEL), which neither an environment
// file nor a NATS config may carry in a value.
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
}

// domainProblem says what is wrong with a JetStream domain, or "" if nothing is.
func domainProblem(dom string) string {
	switch {
	case dom == "":
		return "is empty"
	case strings.ContainsAny(dom, ".*>"):
		return "contains '.', '*' or '>'"
	case strings.ContainsFunc(dom, isSpace):
		return "contains whitespace"
	case strings.ContainsFunc(dom, isControl):
		return "contains a control character"
	}
	return ""
}
