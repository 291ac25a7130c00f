package unit

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"time"

	"github.com/latticepush/latticepush/inventory"
)

// Accounts and users of the auth model: config-mode accounts, no operator or JWT; a system
// account, one lattice account with JetStream, a leaf user and a user for latticepush's own
// checks. Leaves have no accounts block: their
// local clients land in $G, which the leaf link binds to LATTICE through user UserLeaf.
const (
	AccountSystem  = "SYS"
	AccountLattice = "LATTICE"
	// The users before any rotation; Auth.UserName is the current one.
	UserSystem = "sys"
	UserLeaf   = inventory.DefaultLeafUser
	UserCheck  = "latticepush"
	UserRoute  = "route"
)

// Well-known secret names, for placeholders of an inventory loaded without secrets: the
// secrets file's keys.
const (
	secretSystem = inventory.SecretSystemPassword
	secretLeaf   = inventory.SecretLeafPassword
	secretCheck  = inventory.SecretCheckPassword
	secretRoute  = inventory.SecretRoutePassword
)

// anyAddress is what hub cluster and leafnode listeners bind to: peers and leaves reach a
// hub by its inventory address, which may be a name or sit behind NAT.
const anyAddress = "0.0.0.0"

func (r *Context) natsFile(n *inventory.NATS, tf *tlsFiles) (File, error) {
	var w confWriter
	w.b.WriteString(r.Header())
	var err error
	if r.Host.Hub != nil {
		err = r.hubConf(&w, n, tf)
	} else {
		err = r.leafConf(&w, n, tf)
	}
	if err != nil {
		return File{}, err
	}
	return r.File(n.ConfigFile, FileNATSConfig, ServiceNATS, w.b.Bytes(), 0o644), nil
}

// common writes the top-level keys every server has.
func (r *Context) common(w *confWriter, n *inventory.NATS) error {
	w.kv("server_name", quote(n.ServerName))
	w.kv("listen", quote(hostPort(n.ClientHost, n.ClientPort)))
	w.kv("http", quote(hostPort(n.HTTPHost, n.HTTPPort)))
	w.kv("pid_file", quote(pidFile(n)))
	if n.LogFile != "" {
		w.kv("log_file", quote(n.LogFile))
	}
	if _, err := lameDuck(n); err != nil {
		return err
	}
	if n.LameDuckDuration != "" {
		w.kv("lame_duck_duration", quote(n.LameDuckDuration))
	}
	if n.LameDuckGracePeriod != "" {
		w.kv("lame_duck_grace_period", quote(n.LameDuckGracePeriod))
	}
	return nil
}

// lameDuck checks the lame-duck settings and returns how long a lame-duck stop may take:
// grace period plus duration (nats-server defaults where unset).
func lameDuck(n *inventory.NATS) (time.Duration, error) {
	dur, grace := 2*time.Minute, 10*time.Second
	var err error
	if n.LameDuckDuration != "" {
		if _, dur, err = duration("lame_duck_duration", n.LameDuckDuration); err != nil {
			return 0, err
		}
		if dur < 30*time.Second {
			return 0, fmt.Errorf("lame_duck_duration = %q: nats-server refuses less than 30s", n.LameDuckDuration)
		}
	}
	if n.LameDuckGracePeriod != "" {
		if _, grace, err = duration("lame_duck_grace_period", n.LameDuckGracePeriod); err != nil {
			return 0, err
		}
	}
	if grace >= dur {
		return 0, fmt.Errorf("lame_duck_grace_period (%s) must be shorter than lame_duck_duration (%s)", grace, dur)
	}
	return grace + dur, nil
}

// jetStreamBlock writes a jetstream block homing domain.
func jetStreamBlock(w *confWriter, n *inventory.NATS, domain string) error {
	if n.StoreDir == "" {
		return fmt.Errorf("JetStream needs store_dir")
	}
	w.open("jetstream {")
	w.kv("store_dir", quote(n.StoreDir))
	w.kv("domain", quote(domain))
	for _, l := range []struct{ key, v string }{
		{"max_memory_store", n.MaxMemoryStore},
		{"max_file_store", n.MaxFileStore},
	} {
		if l.v == "" {
			continue
		}
		v, err := size(l.key, l.v)
		if err != nil {
			return err
		}
		w.kv(l.key, v)
	}
	w.close("}")
	return nil
}

func (r *Context) hubConf(w *confWriter, n *inventory.NATS, tf *tlsFiles) error {
	if n.MaxFileStore == "" || n.MaxMemoryStore == "" {
		// A reload may raise an explicit limit but never turn a dynamic one explicit or lower one.
		return fmt.Errorf("hub needs explicit max_file_store and max_memory_store: set both in role \"hub\"'s nats block")
	}
	if err := r.common(w, n); err != nil {
		return err
	}
	// A wasmCloud host on a hub machine cannot send a user and password (wasmCloud 1.x
	// authenticates with JWT/nkey only); connections without credentials then become user
	// "leaf": exactly the rights every edge wasmCloud host gets through its leaf.
	if r.Host.Wasmcloud != nil {
		w.kv("no_auth_user", quote(r.Inv.Auth.LeafUserName()))
	}
	r.clientTLS(w, tf)

	w.line("")
	if err := jetStreamBlock(w, n, r.Inv.Lattice.JSDomain); err != nil {
		return err
	}

	w.line("")
	var peers []routePeer
	for _, p := range r.Hubs() {
		peers = append(peers, routePeer{p.Name, hostPort(p.Address, p.Hub.ClusterPort)})
	}
	if err := r.clusterBlock(w, n, tf, peers); err != nil {
		return err
	}

	w.line("")
	w.open("leafnodes {")
	w.kv("listen", quote(hostPort(anyAddress, n.LeafnodePort)))
	leafCompression(w, n)
	r.leafListenTLS(w, tf)
	upstreamRemote(w, r.Inv.UpstreamSystem)
	w.close("}")

	w.line("")
	return r.accounts(w)
}

func (r *Context) accounts(w *confWriter) error {
	type user struct {
		name, secretName string
		s                inventory.Secret
	}
	users := func(us ...user) error {
		w.open("users: [")
		for _, u := range us {
			if u.name == "" {
				continue
			}
			pw, err := r.Secret(u.s, u.secretName)
			if err != nil {
				return err
			}
			if err := checkPassword(u.secretName, pw); err != nil {
				return err
			}
			w.line("{user: " + quote(u.name) + ", password: " + quote(pw) + "}")
		}
		w.close("]")
		return nil
	}
	a := r.Inv.Auth
	// A password rotation: the user it replaces stays accepted beside the new one (NATS
	// refuses two users with one name, hence leaf-a and leaf-b) until nothing logs in with it.
	retiring := func(key string) user {
		ru := a.RetiringUser(key)
		if !ru.IsSet() || slices.Contains(r.Opts.DropRetiring, key) {
			return user{}
		}
		return user{ru.User, inventory.RetiringSecretName(key), ru.Password}
	}
	w.open("accounts {")
	w.open(AccountSystem + " {")
	if err := users(user{a.UserName("system"), secretSystem, a.SystemPassword}, retiring("system")); err != nil {
		return err
	}
	w.close("}")
	w.open(AccountLattice + " {")
	w.kv("jetstream", "enabled")
	if err := users(
		user{a.LeafUserName(), secretLeaf, a.LeafPassword},
		retiring("leaf"),
		user{a.UserName("check"), secretCheck, a.CheckPassword},
		retiring("check"),
	); err != nil {
		return err
	}
	if old := r.Inv.Lattice.PreviousJSDomain; old != "" && r.Inv.Lattice.AliasOldDomain {
		aliasMappings(w, old)
	}
	w.close("}")
	w.close("}")
	w.kv("system_account", quote(AccountSystem))
	return nil
}

// aliasMappings writes the table that keeps $JS.<old>.API answering on the hubs after a domain
// change: the same table nats-server generates for its own domain (docs/domain-alias.md says
// why a single $JS.<old>.API.> mapping does not work). Hubs only: a leaf with JetStream that
// loaded it would answer those requests itself.
func aliasMappings(w *confWriter, old string) {
	w.line("# Temporary alias for the previous JetStream domain " + quote(old) + " (alias_old_domain):")
	w.line("# clients still on it keep working until they move. Not documented by NATS.")
	w.open("mappings: {")
	for _, m := range [][2]string{
		{"INFO", "$JS.API.INFO"},
		{"STREAM.>", "$JS.API.STREAM.>"},
		{"CONSUMER.>", "$JS.API.CONSUMER.>"},
		{"DIRECT.>", "$JS.API.DIRECT.>"},
		{"META.>", "$JS.API.META.>"},
		{"SERVER.>", "$JS.API.SERVER.>"},
		{"ACCOUNT.>", "$JS.API.ACCOUNT.>"},
		{"$KV.>", "$KV.>"},
		{"$OBJ.>", "$OBJ.>"},
	} {
		w.line(quote("$JS."+old+".API."+m[0]) + ": " + quote(m[1]))
	}
	w.close("}")
}

func (r *Context) leafConf(w *confWriter, n *inventory.NATS, tf *tlsFiles) error {
	if err := r.common(w, n); err != nil {
		return err
	}
	if n.JetStreamDomain != "" {
		w.line("")
		if err := jetStreamBlock(w, n, n.JetStreamDomain); err != nil {
			return err
		}
	}

	if err := r.relayCluster(w, n, tf); err != nil {
		return err
	}
	if r.Inv.Lattice.TLS != nil && r.Inv.Lattice.TLS.RoutesOnly {
		tf = nil // a relay's files are for its routes only: every leaf link stays plaintext
	}
	listeners, why, err := upstreamListeners(r.Inv, r.Host, r.Hubs())
	if err != nil {
		return err
	}
	pw, err := r.Secret(r.Inv.Auth.LeafPassword, secretLeaf)
	if err != nil {
		return err
	}
	if err := checkPassword(secretLeaf, pw); err != nil {
		return err
	}
	leafUser := r.Inv.Auth.LeafUserName()
	userinfo := url.UserPassword(leafUser, pw).String()
	if !r.Opts.RevealSecrets {
		userinfo = leafUser + ":" + pw // keep the placeholder readable
	}
	var urls []string
	seen := map[string]bool{}
	for _, hp := range listeners {
		seen[hp] = true
		urls = append(urls, leafScheme(tf)+userinfo+"@"+hp)
	}
	bridge := false
	for _, hp := range r.Opts.LeafAlsoTo {
		if !seen[hp] {
			seen[hp], bridge = true, true
			urls = append(urls, leafScheme(tf)+userinfo+"@"+hp)
		}
	}
	sort.Strings(urls)

	w.line("")
	w.line("# " + why)
	if bridge {
		w.line("# Bridge: the current listeners too, while the hub or relay wave moves them (plan: leaves first).")
	}
	w.open("leafnodes {")
	if r.Host.IsRelay() {
		users := []relayUser{{leafUser, pw}}
		if ru := r.Inv.Auth.RetiringUser("leaf"); ru.IsSet() && !slices.Contains(r.Opts.DropRetiring, "leaf") {
			old, err := r.Secret(ru.Password, inventory.RetiringSecretName("leaf"))
			if err != nil {
				return err
			}
			if err := checkPassword(inventory.RetiringSecretName("leaf"), old); err != nil {
				return err
			}
			users = append(users, relayUser{ru.User, old})
		}
		relayListener(w, n, users...)
		leafCompression(w, n)
		r.leafListenTLS(w, tf)
	}
	w.open("remotes: [")
	w.open("{")
	w.open("urls: [")
	for _, u := range urls {
		w.line(quote(u))
	}
	w.close("]")
	leafCompression(w, n)
	remoteTLS(w, tf)
	w.close("}")
	w.close("]")
	w.close("}")
	return nil
}

// leafCompression writes, in a leafnodes block or in a remote to the hubs or relays, the
// compression of the server's leaf links when the inventory sets one (leaf_compression;
// unset, nats-server's s2_auto applies). Quoted: unquoted, nats-server reads off as false.
func leafCompression(w *confWriter, n *inventory.NATS) {
	if n.LeafCompression != "" {
		w.kv("compression", quote(n.LeafCompression))
	}
}

// routePeer is a cluster member a route is dialled to: its host name and "host:port".
type routePeer struct{ host, addr string }

// clusterBlock writes a cluster block routed to peers (every member's cluster port, itself
// included): the hub cluster, or a relay cluster. Routes authenticate with passwords.route
// unless route_auth = false, and are mutual TLS with a tls block. During a route password
// rotation the member's RouteStep says which login it accepts and dials each peer with.
func (r *Context) clusterBlock(w *confWriter, n *inventory.NATS, tf *tlsFiles, peers []routePeer) error {
	w.open("cluster {")
	w.kv("name", quote(n.ClusterName))
	w.kv("listen", quote(hostPort(anyAddress, n.ClusterPort)))
	login := map[string]string{} // peer host -> "user:password@" of its route URL
	if r.Inv.Lattice.RouteAuth {
		a := r.Inv.Auth
		cur, err := r.routeLogin(a.UserName("route"), a.RoutePassword, secretRoute)
		if err != nil {
			return err
		}
		accept, old := cur, cur
		step, rotating := r.Opts.RouteSteps[r.Host.Name]
		if ru := a.RetiringUser("route"); rotating && ru.IsSet() {
			if old, err = r.routeLogin(ru.User, ru.Password, inventory.RetiringSecretName("route")); err != nil {
				return err
			}
			if !step.AcceptNew {
				accept = old
			}
		} else {
			step = RouteStep{}
			rotating = false
		}
		for _, p := range peers {
			switch {
			case p.host == r.Host.Name:
				login[p.host] = accept.userinfo // a route to itself, which nats-server skips
			case rotating && !slices.Contains(step.DialNew, p.host):
				login[p.host] = old.userinfo
			default:
				login[p.host] = cur.userinfo
			}
		}
		// Both halves in one config, applied by one reload (nats-server reloads cluster
		// authorization and routes). A changed route URL is a route removed and one added, so
		// the reloading node drops its routes, dials them again with the credentials, and
		// refuses routes that come in without them. Nodes not reloaded yet ask for no
		// credentials and accept those routes; and a reloaded node keeps dialling its
		// configured routes, so an old node whose own dial is refused stays connected through
		// them. So the hub wave's one-node-at-a-time reload, gated on routes to every other
		// node, introduces route authentication on a running cluster in a single pass
		// (internal/e2e TestRouteAuth_IntroducedUnderLoad: routes back within milliseconds of
		// each reload, no acknowledged KV write lost).
		w.line("# Routes authenticate (passwords.route): a server without it cannot join the cluster.")
		w.open("authorization {")
		w.kv("user", quote(accept.user))
		w.kv("password", quote(accept.password))
		w.close("}")
	}
	routes := make([]string, 0, len(peers))
	for _, p := range peers {
		routes = append(routes, "nats-route://"+login[p.host]+p.addr)
	}
	sort.Strings(routes)
	w.open("routes: [")
	for _, u := range routes {
		w.line(quote(u))
	}
	w.close("]")
	routeTLS(w, tf)
	w.close("}")
	return nil
}

// routeCred is a route login as a config writes it: the password (or its placeholder) and
// the "user:password@" of a route URL.
type routeCred struct{ user, password, userinfo string }

func (r *Context) routeLogin(user string, s inventory.Secret, name string) (routeCred, error) {
	pw, err := r.Secret(s, name)
	if err != nil {
		return routeCred{}, err
	}
	if err := checkPassword(name, pw); err != nil {
		return routeCred{}, err
	}
	userinfo := url.UserPassword(user, pw).String() + "@"
	if !r.Opts.RevealSecrets {
		userinfo = user + ":" + pw + "@" // keep the placeholder readable
	}
	return routeCred{user, pw, userinfo}, nil
}
