package remote

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kevinburke/ssh_config"
)

// unsupported lists ssh_config directives that change where or how a connection is made
// and that latticepush does not implement. When one applies to a host, Resolve reports it
// instead of connecting differently from what `ssh <host>` would do without saying so.
var unsupported = []string{
	"ProxyCommand", "HostKeyAlias", "CertificateFile", "IdentityAgent", "KexAlgorithms",
	"Ciphers", "MACs", "HostKeyAlgorithms", "PubkeyAcceptedAlgorithms", "PubkeyAcceptedKeyTypes",
	"PreferredAuthentications", "GlobalKnownHostsFile", "CanonicalizeHostname", "AddressFamily",
	"BindAddress", "BindInterface", "CheckHostIP", "VerifyHostKeyDNS", "PKCS11Provider",
	"SecurityKeyProvider", "KnownHostsCommand", "RemoteCommand", "Tunnel",
}

// Resolver merges Targets with ssh_config files. It parses each file once and is safe for
// concurrent use.
type Resolver struct {
	mu    sync.Mutex
	files map[string]*ssh_config.Config // by path; nil value: file absent
}

// NewResolver returns an empty Resolver.
func NewResolver() *Resolver { return &Resolver{files: map[string]*ssh_config.Config{}} }

func (r *Resolver) config(path string) (*ssh_config.Config, error) {
	if path == "none" {
		return nil, nil
	}
	if path == "" {
		path = filepath.Join(homeDir(), ".ssh", "config")
	}
	path = expandPath(path, &Endpoint{})
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.files[path]; ok {
		return c, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		r.files[path] = nil
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read ssh config: %w", err)
	}
	defer f.Close()
	c, err := ssh_config.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("parse ssh config %s: %w (fix the file, or set the host's ssh config_file to \"none\")", path, err)
	}
	r.files[path] = c
	return c, nil
}

// Resolve merges t with its ssh_config and OpenSSH's defaults, including the ProxyJump
// chain. It fails on a ProxyJump loop, a malformed value, or an unreadable config file.
func (r *Resolver) Resolve(t Target) (Resolved, error) {
	res := Resolved{Name: t.Name, Become: t.Become}
	if res.Name == "" {
		res.Name = t.Address
	}
	if t.Address == "" {
		return Resolved{}, &HostError{Host: res.Name, Err: errors.New("no address to connect to")}
	}
	cfg, err := r.config(t.ConfigFile)
	if err != nil {
		return Resolved{}, &HostError{Host: res.Name, Err: err}
	}
	res.Endpoint, err = endpoint(cfg, t.Address, t.User, t.Port, &res.Warnings)
	if err != nil {
		return Resolved{}, &HostError{Host: res.Name, Err: err}
	}
	e := &res.Endpoint
	e.IdentityFiles = withIdentities(e.IdentityFiles, t.IdentityFiles, false, e)
	e.IdentitiesOnly = e.IdentitiesOnly || t.IdentitiesOnly
	if t.KnownHostsFile != "" {
		e.KnownHosts = []string{expandPath(t.KnownHostsFile, e)}
	}
	if err := setStrict(e, t.StrictHostKeyChecking); err != nil {
		return Resolved{}, &HostError{Host: res.Name, Err: err}
	}
	jump := t.ProxyJump
	if jump == "" {
		jump = get(cfg, t.Address, "ProxyJump")
	}
	res.Jumps, err = r.jumps(cfg, jump, t.JumpHosts, 0, &res.Warnings)
	if err != nil {
		return Resolved{}, &HostError{Host: res.Name, Err: err}
	}
	return res, nil
}

func setStrict(e *Endpoint, v string) error {
	switch v {
	case "":
	case "yes", "accept-new":
		e.StrictHostKey = v
	default:
		return fmt.Errorf("strict_host_key_checking must be \"yes\" or \"accept-new\", not %q", v)
	}
	return nil
}

// withIdentities adds own (expanded) to the identity files ssh_config gave: first, or after
// them when after is set.
func withIdentities(cfgFiles, own []string, after bool, e *Endpoint) []string {
	if len(own) == 0 {
		return cfgFiles
	}
	exp := make([]string, len(own))
	for i, p := range own {
		exp[i] = expandPath(p, e)
	}
	if after {
		return dedupe(append(append([]string{}, cfgFiles...), exp...))
	}
	return dedupe(append(exp, cfgFiles...))
}

const maxJumpDepth = 8

// jumps resolves a ProxyJump value into hops, first hop first. As OpenSSH does, the first
// hop is reached through its own ProxyJump (if any); later hops through the ones before.
// Elements in known (keyed as written) are resolved with their Hop.
func (r *Resolver) jumps(cfg *ssh_config.Config, spec string, known map[string]Hop, depth int, warn *[]string) ([]Endpoint, error) {
	if spec == "" || strings.EqualFold(spec, "none") {
		return nil, nil
	}
	if depth >= maxJumpDepth {
		return nil, fmt.Errorf("ProxyJump chain deeper than %d hops (a loop in ssh_config or proxy_jump?)", maxJumpDepth)
	}
	var hops []Endpoint
	for i, el := range strings.Split(spec, ",") {
		el = strings.TrimSpace(el)
		user, host, port, err := ParseJump(el)
		if err != nil {
			return nil, err
		}
		hop, isKnown := known[el]
		hcfg, match := cfg, host
		if isKnown {
			if hop.ConfigFile != "" {
				if hcfg, err = r.config(hop.ConfigFile); err != nil {
					return nil, err
				}
			}
			if hop.Address != "" {
				match = hop.Address
			}
		}
		if i == 0 {
			via := get(hcfg, match, "ProxyJump")
			if isKnown && hop.ProxyJump != "" && (!hop.Inherited || via == "") {
				via = hop.ProxyJump
			}
			prefix, err := r.jumps(hcfg, via, known, depth+1, warn)
			if err != nil {
				return nil, err
			}
			hops = append(hops, prefix...)
		}
		var e Endpoint
		if isKnown {
			e, err = hopEndpoint(hcfg, host, match, user, port, hop, warn)
		} else {
			e, err = endpoint(hcfg, host, user, port, warn)
		}
		if err != nil {
			return nil, err
		}
		hops = append(hops, e)
	}
	return hops, nil
}

// hopEndpoint resolves a jump host the caller described with hop; written is the host as the
// ProxyJump element names it, match what ssh_config is matched against.
func hopEndpoint(cfg *ssh_config.Config, written, match, user string, port int, hop Hop, warn *[]string) (Endpoint, error) {
	fill := func(hopVal, cfgKey string) bool { // whether hop's value applies
		return hopVal != "" && (!hop.Inherited || get(cfg, match, cfgKey) == "")
	}
	if user == "" && fill(hop.User, "User") {
		user = hop.User
	}
	if port == 0 && hop.Port != 0 && fill(strconv.Itoa(hop.Port), "Port") {
		port = hop.Port
	}
	e, err := endpoint(cfg, match, user, port, warn)
	if err != nil {
		return e, err
	}
	e.Alias = written
	cfgIDs := len(getAll(cfg, match, "IdentityFile")) > 0
	e.IdentityFiles = withIdentities(e.IdentityFiles, hop.IdentityFiles, hop.Inherited && cfgIDs, &e)
	if len(hop.KnownHostsFiles) > 0 && fill("set", "UserKnownHostsFile") {
		e.KnownHosts = e.KnownHosts[:0:0]
		for _, p := range hop.KnownHostsFiles {
			e.KnownHosts = append(e.KnownHosts, expandPath(p, &e))
		}
		e.KnownHosts = dedupe(e.KnownHosts)
	}
	if fill(hop.StrictHostKeyChecking, "StrictHostKeyChecking") {
		if err := setStrict(&e, hop.StrictHostKeyChecking); err != nil {
			return e, fmt.Errorf("jump host %s: %w", written, err)
		}
	}
	return e, nil
}

// endpoint resolves alias against cfg; user and port, when set, win over the config.
func endpoint(cfg *ssh_config.Config, alias, user string, port int, warn *[]string) (Endpoint, error) {
	e := Endpoint{Alias: alias, Host: alias, User: user, Port: port, StrictHostKey: "yes"}
	if hn := get(cfg, alias, "HostName"); hn != "" {
		e.Host = strings.ReplaceAll(hn, "%h", alias)
	}
	if e.User == "" {
		e.User = get(cfg, alias, "User")
	}
	if e.User == "" {
		e.User = localUser()
	}
	if e.Port == 0 {
		if p := get(cfg, alias, "Port"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n <= 0 || n > 65535 {
				return e, fmt.Errorf("ssh_config Port %q for %s is not a port number", p, alias)
			}
			e.Port = n
		}
	}
	if e.Port == 0 {
		e.Port = 22
	}
	for _, p := range getAll(cfg, alias, "IdentityFile") {
		e.IdentityFiles = append(e.IdentityFiles, expandPath(p, &e))
	}
	if len(e.IdentityFiles) == 0 { // OpenSSH's defaults, those that exist
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			p := filepath.Join(homeDir(), ".ssh", n)
			if _, err := os.Stat(p); err == nil {
				e.IdentityFiles = append(e.IdentityFiles, p)
			}
		}
	}
	e.IdentityFiles = dedupe(e.IdentityFiles)
	e.IdentitiesOnly = strings.EqualFold(get(cfg, alias, "IdentitiesOnly"), "yes")
	for _, p := range strings.Fields(get(cfg, alias, "UserKnownHostsFile")) {
		e.KnownHosts = append(e.KnownHosts, expandPath(p, &e))
	}
	if len(e.KnownHosts) == 0 {
		e.KnownHosts = []string{filepath.Join(homeDir(), ".ssh", "known_hosts")}
	}
	switch v := strings.ToLower(get(cfg, alias, "StrictHostKeyChecking")); v {
	case "", "yes", "ask":
	case "accept-new":
		e.StrictHostKey = "accept-new"
	default:
		*warn = append(*warn, fmt.Sprintf("%s: ssh_config StrictHostKeyChecking %s is not honoured: host keys are always checked (use accept-new to record new hosts)", alias, v))
	}
	if v := get(cfg, alias, "ConnectTimeout"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			e.ConnectTimeout = time.Duration(n) * time.Second
		}
	}
	if v := get(cfg, alias, "ServerAliveInterval"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			e.KeepAlive = time.Duration(n) * time.Second
		}
	}
	for _, k := range unsupported {
		if v := get(cfg, alias, k); v != "" {
			*warn = append(*warn, fmt.Sprintf("%s: ssh_config %s %s is not supported by latticepush and is ignored", alias, k, v))
		}
	}
	return e, nil
}

func get(cfg *ssh_config.Config, alias, key string) string {
	if cfg == nil {
		return ""
	}
	v, _ := cfg.Get(alias, key)
	return v
}

func getAll(cfg *ssh_config.Config, alias, key string) []string {
	if cfg == nil {
		return nil
	}
	v, _ := cfg.GetAll(alias, key)
	return v
}

func dedupe(s []string) []string {
	seen := make(map[string]bool, len(s))
	out := s[:0:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
