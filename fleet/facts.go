package fleet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/supervisor"
	"github.com/latticepush/latticepush/verify/natsmon"
)

// diffLimit is the largest file whose content is fetched for a diff.
const diffLimit = 256 << 10

// DigestCache is where apply records, on each host, the digest the host's nats-server -t
// printed for a config it accepted: "<binary dev.inode.size.mtime> <config sha256> <digest>"
// per line, newest first. plan takes a desired config's digest from it instead of starting
// nats-server (the dominant cost of a no-change plan); another binary or other bytes miss it.
const DigestCache = "/var/lib/latticepush/nats-digests"

// factsScript reports one host's state in one exec. Its cost is the processes it starts, which
// every host pays at every observe, so it starts few: service states come from runit's
// supervise files (or systemctl); one ls lists every process's executable (the services'
// and each nats-server's); one grep reads all the command lines it needs; one stat and one
// sha256sum cover the managed files; and the nats-server binary is started (-t, in the same
// exec) only when the digest cache has no digest for the desired config.
//
//	svc.<s>.enabled|running|pid=...   services
//	svc.<s>.exe=...  a running service's /proc/PID/exe
//	--stat     "path|type|mode|size|mtime|dev.inode|user|group" of the managed files,
//	           /proc/<pid> of the running services (its user: the process's effective uid) and
//	           the nats-server binary
//	--sums     sha256sum lines of the managed files
//	--content  "C <path>", then the base64 of each file that differs from its desired sha256
//	--cache    the digest cache's lines
//	--nats     check_rc=... and check=...: what the nats-server binary's -t said of the
//	           desired config (read from stdin), when the digest cache has no digest for that
//	           binary and those bytes
//	--cmdline  last, not lines: "/proc/<pid>/cmdline:<argument>" records, each ended by a NUL,
//	           for the services' processes, the nats-server processes and their runsv
//
//	nats.real=...            the nats-server binary, resolved (readlink -f)
//	nats.store=1             the store directory holds JetStream state
//	lock=...                 the base64 of the host's latticepush lock, when one is held
//	                         (not in the lock's own exec, step: that lock is this run's)
//	proc.<pid>.exe|unit|runsvpid=...  every process of a nats-server binary, with the systemd
//	           unit (cgroup) or the runsv process that runs it
//	runsv.<pid>.cwd=...      that runsv's directory
//
// $1 service manager, $2 nats-server binary ("" for none), $3 digest cache, $4 content
// limit, $5 JetStream store directory ("" for none), $6 the sha256 of the desired
// nats-server config, which is on stdin ("" for none: stdin is not read), $7 N, then N
// "sha256:path" (latticepush's paths hold no spaces or newlines), then the services. The
// binary's -t comes after the scan of nats-server processes, which must not list it.
// @SVC_STATE@ is the body of svc_state, the supervisor's part (its StateScript): see
// factsScriptFor.

// factsScriptFor is the facts script of a host under sup.
func factsScriptFor(sup supervisor.Supervisor) string {
	s := strings.Replace(factsScript, "@SVC_STATE@", sup.StateScript(), 1)
	return strings.ReplaceAll(s, "@LOCK@", remote.Quote(path.Join(remote.DefaultLockDir, "lock")))
}

const factsScript = `set -f
sm=$1; nats=$2; cache=$3; limit=$4; store=$5; csha=$6; n=$7; shift 7; held=""; ifs=$IFS; nl='
'
svc_state() {
@SVC_STATE@
}
files=""; wants=""; i=0
while [ "$i" -lt "$n" ]; do files="$files ${1#*:}"; wants="$wants $1"; shift; i=$((i+1)); done
procs=""; svcpids=""
for s in "$@"; do
  svc_state "$s"
  echo "svc.$s.running=$r"
  if [ "$r" = 1 ]; then echo "svc.$s.pid=$p"; procs="$procs /proc/$p"; svcpids="$svcpids $p:$s"; fi
done
[ -z "$held" ] && [ -f @LOCK@ ] && echo "lock=$(head -c 2048 @LOCK@ | base64 | tr -d '\n')"
[ -n "$nats" ] && [ ! -x "$nats" ] && echo "nats.missing=1"
if [ -n "$store" ]; then
  set +f
  for e in "$store"/jetstream/* "$store"/jetstream/.[!.]* "$store"/jetstream/..?*; do
    if [ -e "$e" ] || [ -L "$e" ]; then echo "nats.store=1"; break; fi
  done
  set -f
fi
real=""
if [ -n "$nats" ]; then real=$(readlink -f -- "$nats" 2>/dev/null); echo "nats.real=$real"; fi
cmds=""; cwds=""
if [ -n "$nats$svcpids" ]; then
  set +f
  scan=$(ls -l --time-style=+. /proc/[0-9]*/exe 2>/dev/null)
  set -f
  while read -r _ _ _ _ _ _ pe _ x; do
    q=${pe#/proc/}; q=${q%/exe}
    for sp in $svcpids; do
      [ "${sp%%:*}" = "$q" ] || continue
      echo "svc.${sp#*:}.exe=$x"
      case "$cmds " in *" /proc/$q/cmdline "*) ;; *) cmds="$cmds /proc/$q/cmdline" ;; esac
    done
    [ -n "$nats" ] || continue
    case $x in "$real"|"$real (deleted)"|*/nats-server|*/nats-server" (deleted)") ;; *) continue ;; esac
    echo "proc.$q.exe=$x"
    case "$cmds " in *" /proc/$q/cmdline "*) ;; *) cmds="$cmds /proc/$q/cmdline" ;; esac
    u=""; while IFS= read -r l; do case $l in *.service) u=${l##*/} ;; esac; done 2>/dev/null < "/proc/$q/cgroup"
    [ -n "$u" ] && echo "proc.$q.unit=$u"
    pp=""; while read -r k v; do [ "$k" = PPid: ] && pp=$v; done 2>/dev/null < "/proc/$q/status"
    c=""; [ -n "$pp" ] && read -r c 2>/dev/null < "/proc/$pp/comm"
    if [ "$c" = runsv ]; then
      echo "proc.$q.runsvpid=$pp"
      case "$cwds " in *" /proc/$pp/cwd "*) ;; *) cwds="$cwds /proc/$pp/cwd"; cmds="$cmds /proc/$pp/cmdline" ;; esac
    fi
  done <<EOF
$scan
EOF
fi
if [ -n "$cwds" ]; then
  scan=$(ls -ld --time-style=+. $cwds 2>/dev/null)
  while read -r _ _ _ _ _ _ pe _ x; do
    q=${pe#/proc/}; q=${q%/cwd}; [ -n "$q" ] && echo "runsv.$q.cwd=$x"
  done <<EOF
$scan
EOF
fi
echo "--stat"
[ -n "$files$procs$nats" ] && stat -L -c '%n|%F|%a|%s|%Y|%d.%i|%U|%G' -- $files $procs $nats 2>/dev/null
sums=""; [ -n "$files" ] && sums=$(sha256sum -- $files 2>/dev/null)
echo "--sums"; [ -n "$sums" ] && printf '%s\n' "$sums"
echo "--content"
for w in $wants; do
  p=${w#*:}
  case "
$sums
" in *"
${w%%:*}  $p
"*) continue ;; esac
  [ -f "$p" ] && [ -r "$p" ] || continue
  [ "$(wc -c < "$p")" -le "$limit" ] || continue
  echo "C $p"; base64 < "$p" | tr -d '\n'; echo
done
echo "--cache"; cached=""
if [ -n "$nats" ] && [ -r "$cache" ]; then
  while IFS= read -r l; do echo "$l"; cached="$cached$nl$l"; done < "$cache"
fi
asked=""
if [ -n "$csha" ] && [ -n "$nats" ] && [ -x "$nats" ]; then
  asked=1
  if [ -n "$cached" ]; then
    bs=$(stat -L -c '%d.%i|%s|%Y' -- "$nats" 2>/dev/null)
    case "$cached$nl" in *"$nl$bs $csha sha256:"*) asked="" ;; esac
  fi
  if [ -n "$asked" ]; then
    out=$("$nats" -t -c /dev/stdin 2>&1); rc=$?
    chk=""; IFS=$nl; for l in $out; do chk="$chk$l "; done; IFS=$ifs
    printf -- '--nats\ncheck_rc=%s\ncheck=%s\n' "$rc" "${chk% }"
  fi
fi
# stdin is read to its end, asked or not: the controller's write of it then always completes.
if [ -n "$csha" ] && [ -z "$asked" ]; then while read -r _; do :; done; fi
if [ -n "$cmds" ]; then echo "--cmdline"; grep -a -z -H '' -- $cmds 2>/dev/null; fi
exit 0
`

// putCacheFunc defines put_cache: it puts lines ($2, each "binary-stamp config-sha256
// digest") at the top of the digest cache $1, drops older lines with the same key, and keeps
// the newest 32 entries (mode 0600). The binary's stamp is its "dev.inode|size|mtime". Only
// the final rename is a process of its own: every changed host runs this at each apply.
const putCacheFunc = `put_cache() {
  [ -d "${1%/*}" ] || mkdir -p "${1%/*}" 2>/dev/null
  for f in "$1".tmp.*; do [ -f "$f" ] && rm -f -- "$f"; done
  t="$1.tmp.$$"; seen=" "; n=0; umask 077
  keep() {
    case $seen in *" $1/$2 "*) return 0 ;; esac
    [ -n "$3" ] && [ "$n" -lt 32 ] || return 0
    seen="$seen$1/$2 "; n=$((n+1)); printf '%s %s %s\n' "$1" "$2" "$3"
  }
  ifs=$IFS; nl='
'
  {
    set -f; IFS=$nl
    for l in $2; do IFS=' '; keep $l; IFS=$nl; done
    IFS=$ifs; set +f
    if [ -f "$1" ]; then while read -r a b c; do keep "$a" "$b" "$c"; done < "$1"; fi
  } > "$t" && mv -f "$t" "$1" || { rm -f "$t"; return 1; }
}
`

// checkScript runs nats-server -t on a config ($1 binary, $2 config, $3 digest cache) and
// prints what it printed, exiting with its status. When the config is accepted it records
// the digest in the cache under the binary's identity and the config's sha256; failing to
// record is not an error (plan then runs -t itself).
const checkScript = putCacheFunc + `bin=$1; cfg=$2; cache=$3
out=$("$bin" -t -c "$cfg" 2>&1); rc=$?
printf '%s\n' "$out"
[ "$rc" = 0 ] || exit "$rc"
case $out in *"(sha256:"*")"*) ;; *) exit 0 ;; esac
d=${out#*(sha256:}; d="sha256:${d%%)*}"
bs=$(stat -L -c '%d.%i|%s|%Y' -- "$bin") || exit 0
s=$(sha256sum < "$cfg") || exit 0
put_cache "$cache" "$bs ${s%% *} $d
"
exit 0
`

// recordDigestsScript records in the digest cache ($1) what binaries printed for configs
// they accepted: $2... are triples of binary path, config sha256 and digest (apply's
// Closing.Digests, accepted when observed).
const recordDigestsScript = putCacheFunc + `cache=$1; shift; lines=""
while [ "$#" -ge 3 ]; do
  bs=$(stat -L -c '%d.%i|%s|%Y' -- "$1") && lines="$lines$bs $2 $3
"
  shift 3
done
[ -z "$lines" ] || put_cache "$cache" "$lines"
`

var digestRE = regexp.MustCompile(`\((sha256:[0-9a-f]{64})\)`)

// observe gathers one host's facts: one exec of factsScript (which starts the nats-server
// binary only when the digest cache has no digest for the desired config) and, concurrently
// on the same connection, the monitoring endpoints. Latency is one round trip.
func (f *Fleet) observe(ctx context.Context, pr plan.Probe) plan.Facts {
	facts := plan.Facts{Host: pr.Host}
	h := f.inv.Host(pr.Host)
	c, err := f.reach(ctx, pr.Host)
	if err != nil {
		facts.Err = plan.WithoutHost(pr.Host, err).Error() // plan names the host
		var hk *remote.HostKeyError
		facts.Refused = errors.As(err, &hk)
		return facts
	}
	var (
		mon *monitorFacts
		wg  sync.WaitGroup
	)
	if pr.NATS != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mon = readMonitor(ctx, c, pr.NATS.MonitorAddr, h.Hub != nil)
		}()
	}
	var inst map[string]string
	st, err := f.runFacts(ctx, c, h, pr)
	if err == nil && pr.NATS != nil {
		st.answerNATS(pr.NATS)
	}
	if err == nil && pr.NATS != nil && pr.NATS.Install {
		// After the facts script: a --version it starts must not show up in that script's
		// scan for nats-server processes.
		inst, err = installFacts(ctx, c, h, inventory.ProgramNATS, pr.NATS.Binary)
	}
	var wcInst map[string]string
	if err == nil && pr.Wasmcloud != nil {
		wcInst, err = installFacts(ctx, c, h, inventory.ProgramWasmcloud, pr.Wasmcloud.Binary)
	}
	wg.Wait()
	if err != nil {
		facts.Err = "reading host state: " + plan.WithoutHost(pr.Host, err).Error()
		return facts
	}
	facts.Files = map[string]plan.FileFact{}
	for _, p := range pr.Files {
		facts.Files[p] = st.file(p)
	}
	facts.Services = map[string]plan.ServiceFact{}
	for _, s := range pr.Services {
		facts.Services[s] = st.service(s)
	}
	if l, ok := st.kv["lock"]; ok && !f.holds(pr.Host, l) {
		facts.Lock = "a lock"
		if b, err := base64.StdEncoding.DecodeString(l); err == nil {
			facts.Lock = remote.DescribeLock(string(b))
		}
	}
	if pr.NATS != nil {
		facts.Others = st.others(facts.Services[plan.ServiceNATS])
		nf := &plan.NATSFacts{DesiredDigest: st.digest, DesiredError: st.digestErr,
			FileDigest: st.cachedDigest(pr.NATS.Binary, st.sums[h.NATS().ConfigFile]),
			BinaryPath: st.kv["nats.real"], StoreState: st.kv["nats.store"] == "1"}
		if (mon == nil || !mon.ok) && facts.Services[plan.ServiceNATS].Running {
			mon = readPreviousMonitor(ctx, c, h, st.content[h.NATS().ConfigFile], pr.NATS.MonitorAddr, mon)
		}
		// A server another service runs answers too, when it holds the monitoring port.
		if mon != nil && (facts.Services[plan.ServiceNATS].Running || len(facts.Others) > 0) {
			mon.fill(nf)
		}
		if pr.NATS.Install {
			fillInstall(nf, inst)
			if mon != nil && mon.ok && facts.Services[plan.ServiceNATS].Running {
				nf.Running = mon.varz.Version
			}
		}
		facts.NATS = nf
	}
	if pr.Wasmcloud != nil {
		rf := releaseFacts(wcInst)
		if facts.Services[plan.ServiceWasmcloud].Running && pr.Wasmcloud.HostID != "" {
			// What runs is what the host answers on its control interface; a host that does
			// not answer leaves Running empty (unknown).
			vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			rf.Running, _ = f.wasmcloudVersion(vctx, pr.Wasmcloud.HostID)
			cancel()
		}
		facts.Wasmcloud = rf
	}
	return facts
}

// reach connects to host, unless Host could not in this session (then it returns why: a
// host that apply could not lock is not waited on again).
func (f *Fleet) reach(ctx context.Context, host string) (*remote.Client, error) {
	if err, ok := f.unreached.Load(host); ok {
		return nil, err.(error)
	}
	return f.client(ctx, host)
}

// holds reports whether the lock the facts script found on host (base64) is the one this
// process holds there.
func (f *Fleet) holds(host, b64 string) bool {
	l, ok := f.held.Load(host)
	if !ok {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	return err == nil && l.(*remote.Lock).Holds(string(b))
}

// hostState is what factsScript said.
type hostState struct {
	kv      map[string]string // svc.* and nats.* lines
	nats    map[string]string // the --nats section: what the binary's -t said
	stat    map[string]statLine
	sums    map[string]string // path -> sha256 hex
	content map[string][]byte
	cache   []string // digest cache lines

	digest, digestErr string
}

type statLine struct {
	regular bool
	mode    uint32
	size    int64
	mtime   int64
	stamp   string // "dev.inode|size|mtime", the binary's identity in the digest cache
	// user and group own the file; for /proc/<pid>, user is the process's effective user.
	user, group string
}

func (st *hostState) file(p string) plan.FileFact {
	s, ok := st.stat[p]
	if !ok {
		return plan.FileFact{}
	}
	ff := plan.FileFact{Exists: true, Mode: s.mode, Size: s.size, MTime: s.mtime, Group: s.group}
	if s.regular {
		ff.SHA256 = st.sums[p]
		ff.Content = st.content[p]
	}
	return ff
}

func (st *hostState) service(s string) plan.ServiceFact {
	pid, _ := strconv.Atoi(st.kv["svc."+s+".pid"])
	sf := plan.ServiceFact{Running: st.kv["svc."+s+".running"] == "1", Enabled: st.kv["svc."+s+".enabled"] == "1", PID: pid,
		Stopping: st.kv["svc."+s+".stopping"] == "1"}
	if sf.Running && pid > 0 {
		sf.Started = st.stat["/proc/"+strconv.Itoa(pid)].mtime
		sf.User = st.stat["/proc/"+strconv.Itoa(pid)].user
		sf.Exe, sf.Cmdline = st.kv["svc."+s+".exe"], strings.TrimSpace(st.kv["svc."+s+".cmdline"])
	}
	sf.Definition = st.kv["svc."+s+".def"]
	if d := strings.Fields(st.kv["svc."+s+".dropins"]); len(d) > 0 {
		sf.DropIns = d
	}
	sf.ExecStart = execArgv(st.kv["svc."+s+".execstart"])
	return sf
}

// execArgv is the command line in systemctl show's ExecStart value,
// "{ path=/usr/bin/x ; argv[]=/usr/bin/x -c f ; ignore_errors=no ; ... }"; the value itself
// when it has no argv[].
func execArgv(v string) string {
	_, rest, ok := strings.Cut(v, "argv[]=")
	if !ok {
		return strings.TrimSpace(v)
	}
	argv, _, _ := strings.Cut(rest, " ;")
	return strings.TrimSpace(argv)
}

// others are the nats-server processes that are not the managed service's: not its main
// process, and run by neither its unit nor its runit directory.
func (st *hostState) others(managed plan.ServiceFact) []plan.Process {
	byPID := map[int]*plan.Process{}
	for k, v := range st.kv {
		rest, ok := strings.CutPrefix(k, "proc.")
		if !ok {
			continue
		}
		ps, field, ok := strings.Cut(rest, ".")
		pid, err := strconv.Atoi(ps)
		if !ok || err != nil {
			continue
		}
		p := byPID[pid]
		if p == nil {
			p = &plan.Process{PID: pid}
			byPID[pid] = p
		}
		switch field {
		case "exe":
			p.Exe = v
		case "cmdline":
			p.Cmdline = strings.TrimSpace(v)
		case "unit":
			p.Unit = v
		case "runsv":
			p.RunitDir = v
		case "runsvpid":
			p.RunitDir = st.kv["runsv."+v+".cwd"]
		case "runsvname":
			p.RunitName = v
		}
	}
	var out []plan.Process
	for pid, p := range byPID {
		if pid == managed.PID || p.Unit == plan.ServiceNATS+".service" ||
			(p.RunitDir != "" && p.RunitDir == managed.Definition) {
			continue
		}
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out
}

// cachedDigest returns the digest the cache holds for the binary's identity and the config's
// sha256, or "".
func (st *hostState) cachedDigest(binary, configSHA string) string {
	b, ok := st.stat[binary]
	if !ok {
		return ""
	}
	for _, l := range st.cache {
		if f := strings.Fields(l); len(f) == 3 && f[0] == b.stamp && f[1] == configSHA && strings.HasPrefix(f[2], "sha256:") {
			return f[2]
		}
	}
	return ""
}

// factsCall is how the facts script is run for pr: the script, its arguments and its
// standard input (the desired nats-server config, or nil).
type factsCall struct {
	script string
	args   []string
	stdin  []byte
}

func factsCallFor(h *inventory.Host, pr plan.Probe) (factsCall, error) {
	sup, err := supervisor.For(h.ServiceManager)
	if err != nil {
		return factsCall{}, err
	}
	natsBin, store, configSHA := "", "", ""
	var stdin []byte
	if pr.NATS != nil {
		natsBin, store = pr.NATS.Binary, pr.NATS.StoreDir
		if pr.NATS.DesiredConfig != nil {
			sum := sha256.Sum256(pr.NATS.DesiredConfig)
			configSHA, stdin = hex.EncodeToString(sum[:]), pr.NATS.DesiredConfig
		}
	}
	args := []string{h.ServiceManager, natsBin, DigestCache, strconv.Itoa(diffLimit), store, configSHA, strconv.Itoa(len(pr.Files))}
	for _, p := range pr.Files {
		w := pr.Want[p]
		if w == "" {
			w = "-" // unknown: never matches, so the content comes back
		}
		args = append(args, w+":"+p)
	}
	args = append(args, pr.Services...)
	return factsCall{script: factsScriptFor(sup), args: args, stdin: stdin}, nil
}

// same reports whether o asks the host exactly what c asks.
func (c factsCall) same(o factsCall) bool {
	return slices.Equal(c.args, o.args) && bytes.Equal(c.stdin, o.stdin)
}

// step is the facts script as a step of another exec (the lock's, see host.Lock): its
// standard error, which the exec's output would mix into the facts, is dropped, and it does
// not read the lock, which that exec has just taken for this run (held=1: four processes
// less on every host at every apply).
func (c factsCall) step() *remote.Step {
	return &remote.Step{Name: "facts", Script: "exec 2>/dev/null\n" + strings.Replace(c.script, `held=""`, "held=1", 1), Args: c.args, Stdin: c.stdin != nil}
}

// runFacts runs the facts script for pr, unless the host's lock already did or is doing
// it (prefetched) and was asked the same.
func (f *Fleet) runFacts(ctx context.Context, c *remote.Client, h *inventory.Host, pr plan.Probe) (*hostState, error) {
	call, err := factsCallFor(h, pr)
	if err != nil {
		return nil, err
	}
	if v, ok := f.prefetched.LoadAndDelete(h.Name); ok {
		if p := v.(*prefetched); p.call.same(call) {
			select {
			case <-p.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if p.err == nil {
				return parseFacts(p.out)
			}
			// It failed on its own: ask again, and say what this attempt finds.
		}
	}
	out, err := f.execFacts(ctx, c, h, call)
	if err != nil {
		return nil, err
	}
	return parseFacts(out)
}

// execFacts runs the facts script in an exec of its own and returns what it printed.
func (f *Fleet) execFacts(ctx context.Context, c *remote.Client, h *inventory.Host, call factsCall) ([]byte, error) {
	var stdin io.Reader
	if call.stdin != nil {
		stdin = bytes.NewReader(call.stdin)
	}
	res, err := c.Run(ctx, remote.Script(call.script, call.args...), remote.RunOptions{Stdin: stdin, Become: h.SSH.Become, Timeout: 60 * time.Second})
	return res.Stdout, err
}

// prefetched is the facts script's output for the observe that follows a host's lock:
// printed in the lock's exec, or by an exec of its own started once the lock was held
// (host.LockQuick), which has finished when done is closed.
type prefetched struct {
	call factsCall
	done chan struct{}
	out  []byte
	err  error
}

// donePrefetch is a prefetched whose output is already in.
func donePrefetch(call factsCall, out []byte) *prefetched {
	p := &prefetched{call: call, done: make(chan struct{}), out: out}
	close(p.done)
	return p
}

// answerNATS fills the desired config's digest: from the digest cache, else from what the
// binary's -t said in the facts script.
func (st *hostState) answerNATS(pr *plan.NATSProbe) {
	if st.kv["nats.missing"] == "1" {
		st.digestErr = fmt.Sprintf("%s is not installed (not executable)", pr.Binary)
		return
	}
	if pr.DesiredConfig == nil {
		return
	}
	sum := sha256.Sum256(pr.DesiredConfig)
	if st.digest = st.cachedDigest(pr.Binary, hex.EncodeToString(sum[:])); st.digest != "" {
		return
	}
	check, asked := st.nats["check"]
	switch m := digestRE.FindStringSubmatch(check); {
	case !asked:
		st.digestErr = fmt.Sprintf("%s was not asked for the config's digest", pr.Binary)
	case m != nil && st.nats["check_rc"] == "0":
		st.digest = m[1]
	default:
		st.digestErr = strings.TrimSpace(check)
	}
}

func parseFacts(out []byte) (*hostState, error) {
	st := &hostState{kv: map[string]string{}, nats: map[string]string{}, stat: map[string]statLine{}, sums: map[string]string{}, content: map[string][]byte{}}
	// The output is in memory: lines are cut from it, with no scanner buffer per host.
	section, pending := "", ""
	for rest := out; len(rest) > 0; {
		var b []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			b, rest = rest[:i], rest[i+1:]
		} else {
			b, rest = rest, nil
		}
		line := string(bytes.TrimSuffix(b, []byte("\r")))
		if line == "--cmdline" { // the last section, NUL-separated: not lines
			st.cmdlines(rest)
			break
		}
		if strings.HasPrefix(line, "--") {
			section = line
			continue
		}
		switch section {
		case "":
			if k, v, ok := strings.Cut(line, "="); ok {
				st.kv[k] = v
			}
		case "--stat":
			f := strings.Split(line, "|")
			if len(f) == 6 { // without owner (an older script's line)
				f = append(f, "", "")
			}
			if len(f) != 8 {
				return nil, fmt.Errorf("bad stat line %s", quoteClip(line, 60))
			}
			mode, err1 := strconv.ParseUint(f[2], 8, 32)
			size, err2 := strconv.ParseInt(f[3], 10, 64)
			mtime, err3 := strconv.ParseInt(f[4], 10, 64)
			if err1 != nil || err2 != nil || err3 != nil {
				// strconv's errors quote the whole field: name which one is wrong instead.
				return nil, fmt.Errorf("bad stat line %s: its mode (octal), size or mtime is not a number", quoteClip(line, 60))
			}
			st.stat[f[0]] = statLine{regular: strings.HasPrefix(f[1], "regular"), mode: uint32(mode) & 0o777,
				size: size, mtime: mtime, stamp: f[5] + "|" + f[3] + "|" + f[4], user: f[6], group: f[7]}
		case "--sums":
			if sum, p, ok := strings.Cut(line, "  "); ok && len(sum) == 64 {
				st.sums[p] = sum
			}
		case "--content":
			if p, ok := strings.CutPrefix(line, "C "); ok {
				pending = p
				continue
			}
			b, err := base64.StdEncoding.DecodeString(line)
			if err != nil || pending == "" {
				return nil, fmt.Errorf("bad content record after %s", quoteClip(pending, 60))
			}
			st.content[pending], pending = b, ""
		case "--cache":
			st.cache = append(st.cache, line)
		case "--nats":
			if k, v, ok := strings.Cut(line, "="); ok {
				st.nats[k] = v
			}
		}
	}
	return st, nil
}

// cmdlines reads the --cmdline section, grep -z -H's "/proc/<pid>/cmdline:<arg>" records,
// each ended by a NUL, into the command lines (arguments joined by spaces) of the services'
// processes, of the nats-server processes and of the runsv processes running them.
func (st *hostState) cmdlines(b []byte) {
	args := map[string][]string{} // pid -> arguments
	for _, rec := range bytes.Split(b, []byte{0}) {
		// Read as the line sections are: a CR before a newline is not part of the output.
		path, arg, ok := strings.Cut(strings.ReplaceAll(string(rec), "\r\n", "\n"), ":")
		pid, isCmdline := strings.CutSuffix(strings.TrimPrefix(path, "/proc/"), "/cmdline")
		if !ok || !isCmdline || !strings.HasPrefix(path, "/proc/") {
			continue
		}
		args[pid] = append(args[pid], arg)
	}
	line := func(pid string) (string, bool) {
		a, ok := args[pid]
		return strings.Join(a, " "), ok
	}
	set := map[string]string{}
	for k, v := range st.kv {
		switch {
		case strings.HasPrefix(k, "svc.") && strings.HasSuffix(k, ".pid"):
			if l, ok := line(v); ok {
				set[strings.TrimSuffix(k, ".pid")+".cmdline"] = l
			}
		case strings.HasPrefix(k, "proc.") && strings.HasSuffix(k, ".exe"):
			q := strings.TrimSuffix(strings.TrimPrefix(k, "proc."), ".exe")
			if l, ok := line(q); ok {
				set["proc."+q+".cmdline"] = l
			}
		case strings.HasPrefix(k, "proc.") && strings.HasSuffix(k, ".runsvpid"):
			// runsv's second argument is the name runsvdir started it under.
			q := strings.TrimSuffix(strings.TrimPrefix(k, "proc."), ".runsvpid")
			if a := args[v]; len(a) > 1 {
				set["proc."+q+".runsvname"] = a[1]
			}
		}
	}
	for k, v := range set {
		st.kv[k] = v
	}
}

// quoteClip quotes s for a message, cut after its first n bytes: a line a host printed can
// be of any length, and a message holds only enough of it to recognise it.
func quoteClip(s string, n int) string {
	if len(s) <= n {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:n]) + fmt.Sprintf("… (%d bytes)", len(s))
}

// monitorFacts is what the running nats-server's monitoring endpoints said.
type monitorFacts struct {
	varz       natsmon.Varz
	metaLeader string
	metaPeers  []plan.MetaPeer   // the other members of the meta group, as this node sees them
	metaSize   int               // the meta group's size as this node counts it
	routes     []string          // the servers it has a route to (/routez), by name
	routesRead bool              // /routez answered
	served     *x509.Certificate // the certificate it presents, when it has TLS
	ok         bool
}

func (m *monitorFacts) fill(nf *plan.NATSFacts) {
	if !m.ok {
		return
	}
	v := m.varz
	nf.Version = v.Version // the running server's: the one that reloads
	nf.RunningDigest = v.ConfigDigest
	nf.ServerName = v.ServerName
	nf.ClusterName = v.Cluster.Name
	nf.ClientPort, nf.HTTPPort, nf.ClusterPort, nf.LeafnodePort = v.Port, v.HTTPPort, v.Cluster.Port, v.Leaf.Port
	nf.ClientHost, nf.HTTPHost = v.Host, v.HTTPHost
	nf.Domain, nf.JetStream = v.Domain()
	nf.MetaLeader, nf.MetaPeers, nf.MetaSize = m.metaLeader, m.metaPeers, m.metaSize
	nf.Routes, nf.RoutesRead = m.routes, m.routesRead
	nf.TLSCertNotAfter = v.CertNotAfter()
	if c := m.served; c != nil {
		nf.TLSCertSerial = strings.ToLower(c.SerialNumber.Text(16))
		nf.TLSCertIssuer = hex.EncodeToString(c.AuthorityKeyId)
	}
}

// readMonitor reads /varz and, on a hub, /jsz (the meta leader) through the host's SSH
// connection, at once. A server that does not answer /varz yields facts with ok false (it is
// down, or not yet listening).
func readMonitor(ctx context.Context, c *remote.Client, addr string, hub bool) *monitorFacts {
	m := &monitorFacts{}
	mc := natsmon.New(addr, c.DialContext, natsmon.Options{})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	jsz, routez := make(chan *natsmon.Jsz, 1), make(chan *natsmon.Routez, 1)
	if hub {
		go func() {
			j, err := mc.Jsz(ctx)
			if err != nil {
				j = nil
			}
			jsz <- j
		}()
		go func() {
			r, err := mc.Routez(ctx)
			if err != nil {
				r = nil
			}
			routez <- r
		}()
	} else {
		jsz <- nil
		routez <- nil
	}
	v, err := mc.Varz(ctx)
	if r := <-routez; r != nil {
		m.routesRead = true
		for _, rt := range r.Routes {
			if rt.RemoteName != "" && !slices.Contains(m.routes, rt.RemoteName) {
				m.routes = append(m.routes, rt.RemoteName) // a pool's routes share the name
			}
		}
	}
	if j := <-jsz; j != nil {
		m.metaLeader = j.Leader()
		if j.Meta != nil {
			m.metaSize = j.Meta.Size
			for _, r := range j.Meta.Replicas {
				m.metaPeers = append(m.metaPeers, plan.MetaPeer{Name: r.Name, Peer: r.Peer, Current: r.Current, Offline: r.Offline})
			}
		}
	}
	if m.ok = err == nil; m.ok {
		m.varz = *v
		if at := natsmon.ServedCertAddr(v, addr); at != "" {
			m.served, _ = natsmon.ServedCert(ctx, c.DialContext, at) // unread: plan waits for it
		}
	}
	return m
}
