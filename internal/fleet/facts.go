package fleet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
)

// diffLimit is the largest file whose content is fetched for a diff.
const diffLimit = 256 << 10

// stateScript reports, as key=value lines, the state of the services it is given and of the
// nats-server binary: version, and the digest its -t prints for the config on stdin; when each
// service's process started and when the managed files last changed (a restart an earlier run
// did not get to). $1 service manager, $2 nats-server binary ("" for none), $3 managed paths
// (space-separated; latticepush's paths hold no spaces), $4... services.
const stateScript = `sm=$1; nats=$2; files=$3; shift 3
for s in "$@"; do
  case $sm in
  runit)
    if [ -e "/etc/service/$s" ]; then echo "svc.$s.enabled=1"; else echo "svc.$s.enabled=0"; fi
    st=$(sv status "/etc/service/$s" 2>/dev/null) || st=""
    case $st in
    run:*) p=${st#*(pid }; p=${p%%)*}; echo "svc.$s.running=1"; echo "svc.$s.pid=$p"
      echo "svc.$s.started=$(stat -c %Y "/proc/$p" 2>/dev/null)" ;;
    *) echo "svc.$s.running=0" ;;
    esac ;;
  systemd)
    if systemctl is-enabled --quiet "$s.service" 2>/dev/null; then echo "svc.$s.enabled=1"; else echo "svc.$s.enabled=0"; fi
    if systemctl is-active --quiet "$s.service" 2>/dev/null; then echo "svc.$s.running=1"; else echo "svc.$s.running=0"; fi
    p=$(systemctl show -p MainPID --value "$s.service" 2>/dev/null)
    echo "svc.$s.pid=$p"; echo "svc.$s.started=$(stat -c %Y "/proc/$p" 2>/dev/null)" ;;
  esac
done
for f in $files; do echo "mtime.$f=$(stat -c %Y "$f" 2>/dev/null)"; done
if [ -n "$nats" ]; then
  if [ -x "$nats" ]; then
    echo "nats.version=$("$nats" --version 2>&1 | head -n 1)"
    out=$("$nats" -t -c /dev/stdin 2>&1); rc=$?
    echo "nats.check_rc=$rc"
    echo "nats.check=$(printf '%s' "$out" | tr '\n' ' ')"
  else
    echo "nats.missing=1"
  fi
fi
`

var digestRE = regexp.MustCompile(`\((sha256:[0-9a-f]{64})\)`)

// observe gathers one host's facts: file states, service states and the nats-server's view of
// the desired config run as concurrent channels of the one SSH connection, alongside the
// monitoring endpoints read through it. Latency is one round trip.
func (f *Fleet) observe(ctx context.Context, pr plan.Probe) plan.Facts {
	facts := plan.Facts{Host: pr.Host}
	h := f.inv.Host(pr.Host)
	c, err := f.client(ctx, pr.Host)
	if err != nil {
		facts.Err = err.Error()
		var hk *remote.HostKeyError
		facts.Refused = errors.As(err, &hk)
		return facts
	}
	var wg sync.WaitGroup
	var filesErr, stateErr error
	var files map[string]remote.FileState
	var state map[string]string
	var mon *monitorFacts
	wg.Add(2)
	go func() {
		defer wg.Done()
		files, filesErr = c.ReadFiles(ctx, pr.Files, diffLimit)
	}()
	go func() {
		defer wg.Done()
		state, stateErr = runState(ctx, c, h, pr)
	}()
	if pr.NATS != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mon = readMonitor(ctx, c, pr.NATS.MonitorAddr)
		}()
	}
	wg.Wait()
	if filesErr != nil {
		facts.Err = "reading files: " + filesErr.Error()
		return facts
	}
	if stateErr != nil {
		facts.Err = "reading service state: " + stateErr.Error()
		return facts
	}
	facts.Files = map[string]plan.FileFact{}
	for p, st := range files {
		mtime, _ := strconv.ParseInt(state["mtime."+p], 10, 64)
		facts.Files[p] = plan.FileFact{Exists: st.Exists, Mode: uint32(st.Mode.Perm()), Size: st.Size, SHA256: st.SHA256, Content: st.Content, MTime: mtime}
	}
	facts.Services = map[string]plan.ServiceFact{}
	for _, s := range pr.Services {
		pid, _ := strconv.Atoi(state["svc."+s+".pid"])
		started, _ := strconv.ParseInt(state["svc."+s+".started"], 10, 64)
		facts.Services[s] = plan.ServiceFact{Running: state["svc."+s+".running"] == "1", Enabled: state["svc."+s+".enabled"] == "1", PID: pid, Started: started}
	}
	if pr.NATS != nil {
		nf := &plan.NATSFacts{}
		if state["nats.missing"] == "1" {
			nf.DesiredError = fmt.Sprintf("%s is not installed (not executable)", pr.NATS.Binary)
		} else {
			nf.Version = strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(state["nats.version"], "nats-server:")), "v")
			if m := digestRE.FindStringSubmatch(state["nats.check"]); m != nil && state["nats.check_rc"] == "0" {
				nf.DesiredDigest = m[1]
			} else {
				nf.DesiredError = strings.TrimSpace(state["nats.check"])
			}
		}
		if mon != nil && facts.Services[plan.ServiceNATS].Running {
			mon.fill(nf)
			f.recordPorts(pr.Host, nf.ClientPort, nf.HTTPPort)
		}
		facts.NATS = nf
	}
	return facts
}

func runState(ctx context.Context, c *remote.Client, h *inventory.Host, pr plan.Probe) (map[string]string, error) {
	natsBin := ""
	var stdin io.Reader
	if pr.NATS != nil {
		natsBin = pr.NATS.Binary
		stdin = bytes.NewReader(pr.NATS.DesiredConfig)
	}
	args := append([]string{h.ServiceManager, natsBin, strings.Join(pr.Files, " ")}, pr.Services...)
	res, err := c.Run(ctx, remote.Script(stateScript, args...), remote.RunOptions{Stdin: stdin, Become: h.SSH.Become, Timeout: 60 * time.Second})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(res.Stdout))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			out[k] = v
		}
	}
	return out, sc.Err()
}

// monitorFacts is what the running nats-server's monitoring endpoints said.
type monitorFacts struct {
	varz struct {
		ServerName   string `json:"server_name"`
		ConfigDigest string `json:"config_digest"`
		Port         int    `json:"port"`
		HTTPPort     int    `json:"http_port"`
		Cluster      struct {
			Name string `json:"name"`
			Port int    `json:"port"`
		} `json:"cluster"`
		Leaf struct {
			Port int `json:"port"`
		} `json:"leaf"`
		JetStream struct {
			Config *struct {
				Domain string `json:"domain"`
			} `json:"config"`
		} `json:"jetstream"`
	}
	metaLeader string
	healthy    bool
	ok         bool
}

func (m *monitorFacts) fill(nf *plan.NATSFacts) {
	if !m.ok {
		return
	}
	v := m.varz
	nf.RunningDigest = v.ConfigDigest
	nf.ServerName = v.ServerName
	nf.ClusterName = v.Cluster.Name
	nf.ClientPort, nf.HTTPPort, nf.ClusterPort, nf.LeafnodePort = v.Port, v.HTTPPort, v.Cluster.Port, v.Leaf.Port
	if v.JetStream.Config != nil {
		nf.Domain = v.JetStream.Config.Domain
	}
	nf.MetaLeader = m.metaLeader
	nf.Healthy = m.healthy
}

// readMonitor reads /varz, /jsz and /healthz through the host's SSH connection. A server
// that does not answer yields facts with ok false (it is down, or not yet listening).
func readMonitor(ctx context.Context, c *remote.Client, addr string) *monitorFacts {
	m := &monitorFacts{}
	hc := monitorClient(c)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := getJSON(ctx, hc, "http://"+addr+"/varz", &m.varz); err != nil {
		return m
	}
	m.ok = true
	var jsz struct {
		Meta *struct {
			Leader string `json:"leader"`
		} `json:"meta_cluster"`
	}
	if getJSON(ctx, hc, "http://"+addr+"/jsz", &jsz) == nil && jsz.Meta != nil {
		m.metaLeader = jsz.Meta.Leader
	}
	if req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil); err == nil {
		if resp, err := hc.Do(req); err == nil {
			m.healthy = resp.StatusCode == http.StatusOK
			resp.Body.Close()
		}
	}
	return m
}

func monitorClient(c *remote.Client) *http.Client {
	return &http.Client{Transport: &http.Transport{Proxy: nil, DialContext: c.DialContext, DisableKeepAlives: true}}
}

func getJSON(ctx context.Context, hc *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(v)
}
