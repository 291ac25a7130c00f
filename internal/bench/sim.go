package bench

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
)

// Sim serves simulated hosts for a scale run: one SSH listener per inventory host, on the
// host's own loopback address, answering what latticepush asks during a plan as a converged
// host would: fleet's facts script from the host's rendered files with every service
// running and the config's digest in the host's digest cache (and its nats script, should it
// ask the binary), and /varz, /jsz, /healthz over direct-tcpip to the
// monitoring address. Anything else gets exit status 127, so a change in what latticepush
// runs shows up as a failed plan instead of a silently wrong benchmark. Commands are
// answered in Go: no shell runs, so the cost measured is latticepush's and SSH's.
type Sim struct {
	HostKey ssh.PublicKey
	cfg     *ssh.ServerConfig
	hosts   []*simHost
	wg      sync.WaitGroup
}

type simHost struct {
	sim     *Sim
	name    string
	ln      net.Listener
	files   map[string]plan.DesiredFile
	pid     int
	monitor string // host:port of the monitoring listener ("" when no nats-server)
	config  string // the nats-server config's path
	pages   map[string][]byte
}

// StartSim listens on every host's address and ssh port (listening on 127.0.0.0/8 needs no
// set-up on Linux) and lets authorized log in. The desired files are what each host holds.
func StartSim(inv *inventory.Inventory, desired plan.Desired, authorized ssh.PublicKey) (*Sim, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	return startSim(inv, desired, authorized, signer, 0, len(inv.Hosts))
}

// startSim serves inv.Hosts[from:to] with host key signer.
func startSim(inv *inventory.Inventory, desired plan.Desired, authorized ssh.PublicKey, signer ssh.Signer, from, to int) (*Sim, error) {
	want := authorized.Marshal()
	s := &Sim{HostKey: signer.PublicKey(), cfg: &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(key.Marshal(), want) {
				return nil, nil
			}
			return nil, errors.New("key not authorized")
		},
	}}
	s.cfg.AddHostKey(signer)
	for i := from; i < to; i++ {
		h := inv.Hosts[i]
		sh := &simHost{sim: s, name: h.Name, files: map[string]plan.DesiredFile{}, pid: 1000 + i}
		for _, f := range desired[h.Name] {
			sh.files[f.Path] = f
		}
		if n := h.NATS(); n != nil {
			sh.monitor, sh.config = plan.MonitorAddr(n), n.ConfigFile
			sh.pages = natsPages(inv, h, n, sh.files[n.ConfigFile].Content)
		}
		var err error
		if sh.ln, err = net.Listen("tcp", simSSHAddr(h)); err != nil {
			s.Close()
			return nil, fmt.Errorf("simulated host %s: %w", h.Name, err)
		}
		s.hosts = append(s.hosts, sh)
		s.wg.Add(1)
		go sh.serve()
	}
	return s, nil
}

// simSSHAddr is where host h's simulated sshd listens.
func simSSHAddr(h *inventory.Host) string {
	port := h.SSH.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(h.Address, strconv.Itoa(port))
}

// writeKnownHosts writes a known_hosts file with one line per inventory host, all with key.
func writeKnownHosts(path string, inv *inventory.Inventory, key ssh.PublicKey) error {
	var b strings.Builder
	for _, h := range inv.Hosts {
		b.WriteString(knownhosts.Line([]string{knownhosts.Normalize(simSSHAddr(h))}, key))
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// WriteKnownHosts writes a known_hosts file with one line per simulated host.
func (s *Sim) WriteKnownHosts(path string) error {
	var b strings.Builder
	for _, h := range s.hosts {
		b.WriteString(knownhosts.Line([]string{knownhosts.Normalize(h.ln.Addr().String())}, s.HostKey))
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// Addrs are the hosts' SSH addresses, "ip:port".
func (s *Sim) Addrs() []string {
	out := make([]string, len(s.hosts))
	for i, h := range s.hosts {
		out[i] = h.ln.Addr().String()
	}
	return out
}

// Close stops listening; connections in progress end with their clients.
func (s *Sim) Close() {
	for _, h := range s.hosts {
		h.ln.Close()
	}
	s.wg.Wait()
}

func (h *simHost) serve() {
	defer h.sim.wg.Done()
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		go h.handle(c)
	}
}

func (h *simHost) handle(c net.Conn) {
	sc, chans, reqs, err := ssh.NewServerConn(c, h.sim.cfg)
	if err != nil {
		c.Close()
		return
	}
	defer sc.Close()
	go func() {
		for r := range reqs {
			if r.WantReply {
				r.Reply(r.Type == "keepalive@openssh.com", nil)
			}
		}
	}()
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			go h.session(nc)
		case "direct-tcpip":
			go h.forward(nc)
		default:
			nc.Reject(ssh.UnknownChannelType, "unsupported")
		}
	}
}

func (h *simHost) session(nc ssh.NewChannel) {
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	for r := range reqs {
		if r.Type != "exec" {
			if r.WantReply {
				r.Reply(false, nil)
			}
			continue
		}
		var p struct{ Cmd string }
		if ssh.Unmarshal(r.Payload, &p) != nil {
			r.Reply(false, nil)
			continue
		}
		r.Reply(true, nil)
		status := h.exec(ch, p.Cmd)
		ch.CloseWrite()
		b := make([]byte, 4)
		binary.BigEndian.PutUint32(b, uint32(status))
		ch.SendRequest("exit-status", false, b)
		return
	}
}

// exec answers one command line and returns its exit status.
func (h *simHost) exec(ch ssh.Channel, line string) int {
	words, err := shellWords(line)
	if err != nil || len(words) == 0 {
		fmt.Fprintf(ch.Stderr(), "sim: cannot parse %q\n", line)
		return 2
	}
	if len(words) == 1 && words[0] == "true" {
		return 0
	}
	if len(words) >= 4 && words[0] == "sh" && words[1] == "-c" {
		script, args := words[2], words[4:]
		switch {
		case strings.HasPrefix(script, "set -f\nsm=$1") && len(args) >= 7:
			return h.facts(ch, args)
		}
	}
	fmt.Fprintf(ch.Stderr(), "sim: unsupported command %.80q\n", line)
	return 127
}

// simBinaryStamp is the simulated nats-server binary's identity (dev.inode|size|mtime).
const simBinaryStamp = "2049.131|24450397|1795646298"

// facts answers fleet's facts script as a converged host: every service enabled and
// running, every file as rendered (so no content is sent), and a digest cache that holds the
// digest of the host's nats-server config (its sha256 here). A desired config (on stdin)
// that the cache does not hold gets the digest -t would print.
func (h *simHost) facts(ch ssh.Channel, args []string) int {
	natsBin, configSHA := args[1], args[5]
	n, err := strconv.Atoi(args[6]) // after the store directory and the config's sha256
	if err != nil || len(args) < 7+n {
		return 2
	}
	var desired []byte
	if configSHA != "" {
		if desired, err = io.ReadAll(ch); err != nil {
			return 1
		}
	}
	wants, services := args[7:7+n], args[7+n:]
	w := io.Writer(ch)
	bw := bufio.NewWriter(w)
	for i, s := range services {
		fmt.Fprintf(bw, "svc.%s.enabled=1\nsvc.%s.running=1\nsvc.%s.pid=%d\n", s, s, s, h.pid*10+i)
	}
	bw.WriteString("--stat\n")
	var sums, content bytes.Buffer
	for _, wp := range wants {
		want, p, _ := strings.Cut(wp, ":")
		f, ok := h.files[p]
		if !ok {
			continue
		}
		sum := sha256.Sum256(f.Content)
		fmt.Fprintf(bw, "%s|regular file|%o|%d|1795646298|2049.%d\n", p, f.Mode, len(f.Content), h.pid)
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(sum[:]), p)
		if hex.EncodeToString(sum[:]) != want && len(f.Content) <= diffLimit {
			content.WriteString("C " + p + "\n" + base64.StdEncoding.EncodeToString(f.Content) + "\n")
		}
	}
	for i := range services {
		fmt.Fprintf(bw, "/proc/%d|directory|555|0|1795646298|23.%d\n", h.pid*10+i, h.pid*10+i)
	}
	var cache string
	if natsBin != "" {
		fmt.Fprintf(bw, "%s|regular file|755|24450397|1795646298|2049.131\n", natsBin)
		if cfg := h.natsConfig(); cfg != nil {
			sum := sha256.Sum256(cfg)
			cache = simBinaryStamp + " " + hex.EncodeToString(sum[:]) + " " + digest(cfg) + "\n"
		}
	}
	bw.WriteString("--sums\n")
	bw.Write(sums.Bytes())
	bw.WriteString("--content\n")
	bw.Write(content.Bytes())
	bw.WriteString("--cache\n" + cache)
	if natsBin != "" && configSHA != "" && !strings.Contains(cache, " "+configSHA+" ") {
		fmt.Fprintf(bw, "--nats\ncheck_rc=0\ncheck=nats-server: configuration file /dev/stdin is valid (%s) \n", digest(desired))
	}
	bw.Flush()
	return 0
}

// diffLimit mirrors fleet's: files up to it come back with their content.
const diffLimit = 256 << 10

func (h *simHost) natsConfig() []byte {
	if f, ok := h.files[h.config]; ok {
		return f.Content
	}
	return nil
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// forward serves one HTTP request on a direct-tcpip channel to the monitoring address.
func (h *simHost) forward(nc ssh.NewChannel) {
	var p struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if ssh.Unmarshal(nc.ExtraData(), &p) != nil || h.monitor == "" || net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port))) != h.monitor {
		nc.Reject(ssh.ConnectionFailed, "connection refused")
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	defer ch.Close()
	req, err := http.ReadRequest(bufio.NewReader(ch))
	if err != nil {
		return
	}
	body, ok := h.pages[req.URL.Path]
	status := "200 OK"
	if !ok {
		status, body = "404 Not Found", []byte("404 page not found\n")
	}
	fmt.Fprintf(ch, "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", status, len(body))
	ch.Write(body)
	ch.CloseWrite()
}

// natsPages are the monitoring answers of a healthy nats-server running config: /varz with
// the fields a real 2.15 server reports (the ones plan reads, and the usual bulk), /jsz and
// /healthz.
func natsPages(inv *inventory.Inventory, h *inventory.Host, n *inventory.NATS, config []byte) map[string][]byte {
	domain := n.JetStreamDomain
	if h.Hub != nil {
		domain = inv.Lattice.JSDomain
	}
	varz := map[string]any{
		"server_id": "N" + strings.Repeat("A", 55), "server_name": n.ServerName, "version": "2.15.2",
		"proto": 1, "go": "go1.25.5", "host": "0.0.0.0", "port": n.ClientPort, "max_connections": 65536,
		"ping_interval": 120000000000, "ping_max": 2, "http_host": "127.0.0.1", "http_port": n.HTTPPort,
		"https_port": 0, "auth_timeout": 2, "max_control_line": 4096, "max_payload": 1048576,
		"max_pending": 67108864, "tls_timeout": 2, "write_deadline": 10000000000,
		"start": "2026-01-01T00:00:00Z", "now": "2026-01-01T01:00:00Z", "uptime": "1h0m0s",
		"mem": 25165824, "cores": 2, "gomaxprocs": 2, "cpu": 0.5, "connections": 3,
		"total_connections": 12, "routes": 2, "remotes": 0, "leafnodes": 1, "in_msgs": 123456,
		"out_msgs": 123456, "in_bytes": 9876543, "out_bytes": 9876543, "slow_consumers": 0,
		"subscriptions": 250, "config_load_time": "2026-01-01T00:00:00Z", "config_digest": digest(config),
		"system_account": "SYS", "cluster": map[string]any{"name": n.ClusterName, "port": n.ClusterPort},
		"leaf": map[string]any{"port": n.LeafnodePort}, "gateway": map[string]any{},
	}
	if domain != "" || h.Hub != nil {
		varz["jetstream"] = map[string]any{"config": map[string]any{"domain": domain, "store_dir": "/var/lib/nats"}}
	}
	pages := map[string][]byte{"/healthz": []byte(`{"status":"ok"}`)}
	pages["/varz"], _ = json.Marshal(varz)
	jsz := map[string]any{"server_id": varz["server_id"], "now": varz["now"]}
	if h.Hub != nil {
		jsz["meta_cluster"] = map[string]any{"name": n.ClusterName, "leader": leaderName(inv), "cluster_size": 3}
	}
	pages["/jsz"], _ = json.Marshal(jsz)
	return pages
}

// leaderName is the first hub's server name: the simulated meta leader.
func leaderName(inv *inventory.Inventory) string {
	for _, h := range inv.Hosts {
		if h.Hub != nil {
			return h.Hub.ServerName
		}
	}
	return ""
}

// shellWords splits a command line quoted as remote.Command quotes it: words separated by
// spaces, each made of bare characters, '...' spans and backslash escapes.
func shellWords(s string) ([]string, error) {
	var out []string
	var w strings.Builder
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			for i++; i < len(s) && s[i] != '\''; i++ {
				w.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated quote")
			}
			in = true
		case c == '\\' && i+1 < len(s):
			i++
			w.WriteByte(s[i])
			in = true
		case c == ' ':
			if in {
				out = append(out, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, w.String())
	}
	return out, nil
}
