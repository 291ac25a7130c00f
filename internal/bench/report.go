package bench

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// The lab cases, by name.
const (
	caseFirst   = "first deployment (25% batches)"
	casePlan    = "no-change plan"
	caseApply   = "no-change apply"
	caseVerify  = "no-change verify"
	caseReload  = "reload of every leaf"
	caseHubRoll = "hub rolling restart"
)

// Case is one lab case measured for latticepush and, where Ansible can do the same work,
// for Ansible in each AnsibleMode.
type Case struct {
	Name        string
	Latticepush Series
	Ansible     map[AnsibleMode]Series
	// Loads are the machine's load before each timed run of the case (latticepush's and
	// Ansible's).
	Loads []LoadSample
	// CPU and CLI are, for each latticepush run, the CPU time the machine used while it ran
	// and the CLI's own (cliRun).
	CPU, CLI Series
}

// Took records one latticepush run of the case.
func (c *Case) Took(r cliRun) {
	c.Latticepush = append(c.Latticepush, r.Wall)
	c.CPU = append(c.CPU, r.CPU)
	c.CLI = append(c.CLI, r.CLI)
}

// cpuUse is the medians of the machine's CPU time during latticepush's runs, of what the
// machine's CPUs could give over that wall time, and of the CLI's own.
func (c *Case) cpuUse(cpus int) string {
	if len(c.CPU) == 0 || cpus <= 0 {
		return "—"
	}
	return fmt.Sprintf("%s of %s (CLI %s)", secs(c.CPU.Median()), secs(c.Latticepush.Median()*time.Duration(cpus)), secs(c.CLI.Median()))
}

// AnsibleRun records one Ansible run of the case.
func (c *Case) AnsibleRun(mode AnsibleMode, d time.Duration) {
	if c.Ansible == nil {
		c.Ansible = map[AnsibleMode]Series{}
	}
	c.Ansible[mode] = append(c.Ansible[mode], d)
}

// loadRange is the range of busy shares and load averages before the case's runs.
func (c *Case) loadRange() string {
	if len(c.Loads) == 0 {
		return "—"
	}
	lo, hi := c.Loads[0], c.Loads[0]
	for _, l := range c.Loads {
		lo.Busy, hi.Busy = min(lo.Busy, l.Busy), max(hi.Busy, l.Busy)
		lo.Load1, hi.Load1 = min(lo.Load1, l.Load1), max(hi.Load1, l.Load1)
	}
	return fmt.Sprintf("%.0f–%.0f%% busy, load %.2f–%.2f", lo.Busy, hi.Busy, lo.Load1, hi.Load1)
}

// ScaleRow is one scale run: `latticepush plan` of Hosts simulated hosts.
type ScaleRow struct {
	Hosts int
	Wall  Series
	// Floor is the floor (see Floor) against the same simulated hosts, run after each plan.
	Floor   Series
	PeakRSS int64 // bytes, the CLI process's maximum resident set size
	// Phases is the in-process split of one run (load, render, observe, build), for
	// telling where the time goes.
	Phases string
	// HeapPerHost is, in that run, the live heap and goroutine stacks a host added once its
	// facts were in (its SSH connection and its facts), in bytes.
	HeapPerHost int64
	// Procs is how many processes served the simulated hosts.
	Procs int
}

// ValidateRow is `latticepush validate` of one big inventory, offline.
type ValidateRow struct {
	Name    string
	Hosts   int
	Wall    Series
	PeakRSS int64 // bytes, the CLI process's maximum resident set size
}

// Report is everything BENCHMARKS.md shows.
type Report struct {
	Machine Machine
	Hosts   int // lab hosts
	Runs    int // runs per lab case
	// AnsibleRuns is how many of those runs measured Ansible too.
	AnsibleRuns int
	Floor       Series
	// FloorBounded is the floor with at most 8 handshakes in flight, remote's bound per bastion.
	FloorBounded Series
	Cases        []Case
	// FirstBatches are the batches of latticepush's first deployment, each from its first
	// unit's start to its last unit's gate passing: the services' own start times and the
	// gates' waits, which the apply's wall time is held against.
	FirstBatches Series
	// FirstPhases and ReloadPhases split latticepush's first deployment and its last reload
	// of every leaf by phase, from the apply's -json events.
	FirstPhases, ReloadPhases string
	// LabPhases is the in-process split of one no-change plan of the lab.
	LabPhases string
	Scale     []ScaleRow
	Validate  []ValidateRow
	// Upgrade are the release upgrade runs, one per tool and way of moving the binary.
	Upgrade []UpgradeRow
	Notes   []string
}

// Case returns the named case, or nil.
func (r *Report) Case(name string) *Case {
	for i := range r.Cases {
		if r.Cases[i].Name == name {
			return &r.Cases[i]
		}
	}
	return nil
}

// Machine describes where the benchmark ran.
type Machine struct {
	CPUs                                 int
	Memory, Kernel, Load                 string
	Go, NATS, Ansible, OpenSSH, Revision string
}

// ThisMachine describes the machine and the versions of the tools in play; natsServer is
// the nats-server binary the lab hosts run.
func ThisMachine(natsServer string) Machine {
	first := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil && len(out) == 0 {
			return "not found"
		}
		return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	read := func(path string) string { b, _ := os.ReadFile(path); return strings.TrimSpace(string(b)) }
	m := Machine{CPUs: runtime.NumCPU(), Kernel: read("/proc/sys/kernel/osrelease"), Go: runtime.Version()}
	for _, line := range strings.Split(read("/proc/meminfo"), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(v), &kb)
			m.Memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	m.Load = strings.Join(strings.Fields(read("/proc/loadavg"))[:3], " ")
	m.NATS = first(natsServer, "--version")
	m.Ansible = first("ansible-playbook", "--version")
	m.OpenSSH = first("ssh", "-V")
	m.Revision = first("git", "describe", "--always", "--dirty")
	return m
}

// WriteMarkdown writes the report as BENCHMARKS.md.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	m := r.Machine
	p("# Benchmarks\n\nGenerated by `make bench` (internal/bench); do not edit by hand.\n\n")
	p("## Machine and versions\n\n")
	p("| | |\n|---|---|\n| CPUs | %d |\n| memory | %s |\n| kernel | %s |\n| load average at start | %s |\n", m.CPUs, m.Memory, m.Kernel, m.Load)
	p("| latticepush | %s |\n| Go | %s |\n| nats-server | %s |\n| ansible-core | %s |\n| OpenSSH | %s |\n\n", m.Revision, m.Go, m.NATS, m.Ansible, m.OpenSSH)

	p("## Results\n\n")
	if len(r.Cases) == 0 {
		p("The lab benchmark did not run.\n\n")
	}
	p("Lab: %d hosts (3 hubs, %d edges each running a leaf nats-server and a wasmCloud host), %d runs per case for latticepush and %d for Ansible (first deployment: one run each); ", r.Hosts, r.Hosts-3, r.Runs, r.AnsibleRuns)
	p("median and min–max wall time. The floor is %s (min–max %s).\n\n", secs(r.Floor.Median()), r.Floor.Spread())
	p("| case | latticepush median | min–max | × floor | CPU used during latticepush's runs | Ansible %s | Ansible %s | Ansible %s | Ansible's median over latticepush's (%s / %s / %s) | load before the runs |\n",
		ColdPerCall, ColdPerRun, Warm, ColdPerCall, ColdPerRun, Warm)
	p("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range r.Cases {
		lp := c.Latticepush.Median()
		var cols, ratios []string
		for _, m := range AnsibleModes {
			cols = append(cols, medianSpread(c.Ansible[m]))
			ratios = append(ratios, ratio(c.Ansible[m].Median(), lp))
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", c.Name, secs(lp), c.Latticepush.Spread(), ratio(lp, r.Floor.Median()), c.cpuUse(r.Machine.CPUs),
			cols[0], cols[1], cols[2], strings.Join(ratios, " / "), c.loadRange())
	}
	for _, s := range r.Scale {
		p("| scale %d (simulated) | %s | %s | %s | — | — | — | — | — | — |\n", s.Hosts, secs(s.Wall.Median()), s.Wall.Spread(), ratio(s.Wall.Median(), s.Floor.Median()))
	}
	p("\n\"× floor\" is the case's median over the floor's median. \"CPU used\" is the medians of the CPU time the whole machine used during each run (every process: the lab's hosts run on the same CPUs), of what its CPUs could give over the case's median, and of the CLI's own. Ansible's median over latticepush's above 1 means latticepush is faster. \"—\": Ansible has no equivalent (verify), or cannot run there (the simulated hosts answer only latticepush's commands). \"Load before the runs\" is the share of both CPUs busy over 2 s while the benchmark waited, and the 1-minute load average, before each timed run of the case.\n\n")
	if len(r.Scale) > 0 {
		p("### Scale run (simulated hosts)\n\n| hosts | served by | median | min–max | floor (min–max) | × floor | peak RSS | peak RSS per host | live heap and stacks per host after observe | where the time goes (one in-process run) |\n|---|---|---|---|---|---|---|---|---|---|\n")
		for _, s := range r.Scale {
			p("| %d | %d process(es) | %s | %s | %s (%s) | %s | %.0f MiB | %.0f KiB | %.1f KiB | %s |\n", s.Hosts, s.Procs, secs(s.Wall.Median()), s.Wall.Spread(),
				secs(s.Floor.Median()), s.Floor.Spread(), ratio(s.Wall.Median(), s.Floor.Median()),
				float64(s.PeakRSS)/(1<<20), float64(s.PeakRSS)/float64(s.Hosts)/1024, float64(s.HeapPerHost)/1024, s.Phases)
		}
		p("\n")
	}
	if len(r.Upgrade) > 0 {
		u := r.Upgrade[0]
		p("### Release upgrade (one run each)\n\nEvery nats-server of the lab (%d: 3 hubs, %d leaves) moved from v2.15.2 to %s: the %.1f MB binary onto every host (%.2f GB in all), then the binary path switched and the server restarted, hubs one at a time, leaves in batches of 25%%.\n\n",
			u.Hosts, u.Hosts-3, upgradeTo, float64(u.Bytes)/1e6, float64(u.Bytes)*float64(u.Hosts)/1e9)
		p("| tool | the binary | wall | of which the transfer (latticepush's release phase) | load before the run |\n|---|---|---|---|---|\n")
		for _, u := range r.Upgrade {
			transfer := "—"
			if u.Transfer > 0 {
				transfer = secs(u.Transfer)
			}
			p("| %s | %s | %s | %s | %s |\n", u.Tool, u.How, secs(u.Wall), transfer, u.Load)
		}
		p("\n")
	}
	if len(r.Validate) > 0 {
		p("### Inventory validation (generated hosts)\n\n| inventory | hosts | median | min–max | peak RSS |\n|---|---|---|---|---|\n")
		for _, v := range r.Validate {
			p("| %s | %d | %s | %s | %.0f MiB |\n", v.Name, v.Hosts, secs(v.Wall.Median()), v.Wall.Spread(), float64(v.PeakRSS)/(1<<20))
		}
		p("\n")
	}
	p("Other figures: the floor with at most 8 handshakes in flight (remote's bound per bastion; direct hosts share a bound of 32) is %s (min–max %s); ", secs(r.FloorBounded.Median()), r.FloorBounded.Spread())
	p("one in-process no-change plan of the lab splits into %s.\n\n", r.LabPhases)
	if r.FirstPhases != "" {
		p("Where latticepush's first deployment went, by phase (from its -json events): %s.\n\n", r.FirstPhases)
	}
	if r.ReloadPhases != "" {
		p("Where latticepush's last reload of every leaf went, by phase: %s.\n\n", r.ReloadPhases)
	}

	p("## Goals (issues 11, 22, 25)\n\n")
	for _, g := range r.Goals() {
		p("- %s\n", g)
	}
	p("\n## Method\n\n%s\n", method)
	if len(r.Notes) > 0 {
		p("\n## Notes from this run\n\n")
		for _, n := range r.Notes {
			p("- %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func medianSpread(s Series) string {
	if len(s) == 0 {
		return "—"
	}
	return secs(s.Median()) + " (" + s.Spread() + ")"
}

// Goals states each goal of issue 11 with what was measured and whether it was met.
func (r *Report) Goals() []string {
	met := func(ok bool) string {
		if ok {
			return "**met**"
		}
		return "**missed**"
	}
	var out []string
	if c := r.Case("no-change plan"); c != nil && len(c.Latticepush) > 0 {
		lp, fl := c.Latticepush.Median(), r.Floor.Median()
		x := float64(lp) / float64(fl)
		out = append(out, fmt.Sprintf("No-change plan of %d lab hosts within 1.5× the floor (issue 11): %s vs %s = %.1f× — %s.", r.Hosts, secs(lp), secs(fl), x, met(x <= 1.5)))
		if ac := c.Ansible[ColdPerCall].Median(); ac > 0 {
			y := float64(ac) / float64(lp)
			out = append(out, fmt.Sprintf("No-change plan ≥ 10× faster than Ansible %s (`--check --diff`) (issue 11): %s vs %s = %.1f× — %s.", ColdPerCall, secs(lp), secs(ac), y, met(y >= 10)))
		}
	}
	if c := r.Case(caseFirst); c != nil && len(c.Latticepush) > 0 {
		lp := c.Latticepush.Median()
		out = append(out, fmt.Sprintf("First deployment of the %d-host lab with 25%% batches ≤ 12 s (issue 25): %s — %s.", r.Hosts, secs(lp), met(lp <= 12*time.Second)))
		if crit := r.FirstBatches.Sum(); crit > 0 {
			x := float64(c.Latticepush[0]) / float64(crit)
			out = append(out, fmt.Sprintf("First deployment's wall time ≤ 1.2 × its batches (the services' start times and the gates' waits, from the first unit's start to the last gate of each batch, %d batches) (issue 25): %s vs %s = %.2f× — %s.",
				len(r.FirstBatches), secs(c.Latticepush[0]), secs(crit), x, met(x <= 1.2)))
		}
	}
	if c := r.Case(caseReload); c != nil && len(c.Latticepush) > 0 {
		lp := c.Latticepush.Median()
		out = append(out, fmt.Sprintf("Reload of %d leaves including the final verify ≤ 3 s (issue 25): %s — %s.", r.Hosts-3, secs(lp), met(lp <= 3*time.Second)))
	}
	if c := r.Case(caseVerify); c != nil && len(c.Latticepush) > 0 {
		lp := c.Latticepush.Median()
		out = append(out, fmt.Sprintf("No-change verify of the %d-host lab ≤ 1 s (issue 25): %s — %s.", r.Hosts, secs(lp), met(lp <= time.Second)))
	}
	for _, s := range r.Scale {
		w := s.Wall.Median()
		switch s.Hosts {
		case 1000:
			out = append(out, fmt.Sprintf("Plan of 1000 simulated hosts < 1.5 s (issue 25): %s (floor %s), %.0f MiB — %s.", secs(w), secs(s.Floor.Median()), float64(s.PeakRSS)/(1<<20), met(w < 1500*time.Millisecond)))
		case 10000:
			out = append(out, fmt.Sprintf("Plan of 10000 simulated hosts < 20 s and < 600 MB peak RSS (issue 25): %s, %.0f MiB — %s.", secs(w), float64(s.PeakRSS)/(1<<20), met(w < 20*time.Second && s.PeakRSS < 600e6)))
		}
	}
	for _, s := range r.Scale {
		if s.Hosts == 1000 {
			w := s.Wall.Median()
			out = append(out, fmt.Sprintf("Plan of 1000 simulated hosts under 10 s and 300 MB peak memory (issue 11): %s, %.0f MiB — %s.", secs(w), float64(s.PeakRSS)/(1<<20), met(w < 10*time.Second && s.PeakRSS < 300<<20)))
		}
	}
	for _, v := range r.Validate {
		if v.Hosts >= 10000 {
			w := v.Wall.Median()
			out = append(out, fmt.Sprintf("Validate of %d generated hosts under 2 s and 300 MB peak memory (issue 22): %s, %.0f MiB — %s.", v.Hosts, secs(w), float64(v.PeakRSS)/(1<<20), met(w < 2*time.Second && v.PeakRSS < 300<<20)))
		}
	}
	return out
}

const method = `- **Lab**: internal/labtest brings up a real fleet on this machine (one network namespace,
  OpenSSH sshd and runit per host; nats-server v2.15.2; the wasmCloud stand-in) once per run
  and reuses it across cases. latticepush is the real CLI (` + "`go build ./cmd/latticepush`" + `, the inventory's ` + "`parallelism`" + ` set to the
  fleet size, as Ansible's forks are), timed as a
  process: ` + "`latticepush plan INV`" + ` and ` + "`latticepush apply --auto-approve INV`" + `. The first apply
  converges the empty lab and is not one of the measured runs.
- **first deployment (25% batches)**: the empty lab (leaf and wasmCloud rollout ` + "`batch = \"25%\"`" + `),
  ` + "`latticepush apply --auto-approve`" + `: stage (the hubs first: their wave, first starts only,
  runs while the edges stage), supervise early, every wave gated, buckets, final verify. Ansible's ` + "`deploy.yml`" + ` does the same first deployment on the lab taken back to empty
  (services stopped and unlinked, every rendered file, the runit directories, the JetStream
  store and latticepush's state removed): copy every file, link each service into runsvdir's
  directory and wait until ` + "`sv up`" + ` succeeds, hubs and leaves, then wasmCloud hosts; it
  gates nothing (an untimed ` + "`latticepush verify`" + ` afterwards says whether it worked). One run
  per tool and mode (each needs the lab emptied).
- **no-change plan / apply**: the converged lab; the plan must show no change (exit 0 with
  ` + "`--detailed-exitcode`" + `). A no-change apply plans and stops. Each host answers in one exec
  (on a lab edge about ten short processes: stat, sha256sum, one ls of every process's
  executable, one grep of the command lines it needs, readlinks) plus /varz; the desired config's digest comes from the
  host's digest cache, written by the converging apply's pre-check (` + "`nats-server -t`" + ` on the
  staged config), so no nats-server binary is started.
- **no-change verify**: ` + "`latticepush verify`" + ` of the converged lab, every check (Ansible has no equivalent).
- **reload of every leaf**: ` + "`log_file`" + ` toggled in role "leaf" (` + "`plan --json`" + ` must say reload for every
  leaf and nothing else before each timed run); apply stages, checks, reloads each leaf by SIGHUP,
  confirms ` + "`config_digest`" + `, runs the leaf gates and the final verify.
- **hub rolling restart**: the hubs' ` + "`max_memory_store`" + ` toggled (plan must say restart for the 3
  hubs and nothing else); apply restarts one hub node at a time with lame duck, each gated by the
  hub cluster's health, then waits for the leaves' links and runs the final verify. Ansible's
  ` + "`hubroll.yml`" + `: ` + "`serial: 1`" + ` over the hubs, copy, and a handler running ` + "`sv -w 60 restart`" + `; no
  health check between nodes. A latticepush plan afterwards must be empty (every hub runs the
  new config). Most of a hub's restart is its lame-duck stop: nats-server closes its clients and
  leaf connections one at a time, spread over lame_duck_duration less the grace period (29 s
  here) but at most a second apart, so a hub holding N leaves takes min(N, 29) s to stop, and the
  roll's time follows how the 47 leaves happen to be spread over the hubs as each one stops
  (they move to the others): both tools' runs vary by tens of seconds for that reason.
- **release upgrade**: after the other lab cases, one run each. latticepush: ` + "`nats { version, artifact }`" + `
  pinned in roles hub and leaf, the artifact being the nats-server binary itself (its sha256
  and size declared), as a local file (uploaded over SFTP) or as a URL of an HTTP server the
  benchmark runs on the lab bridge's address (each host fetches it with curl); the plan must
  install the release on every nats-server and change nothing else. ` + "`apply`" + ` uploads or has
  every host fetch the binary, checks its sha256 on the host, runs the new release's
  ` + "`-t`" + ` on the config, then switches the binary path and restarts each server, every one gated
  (hubs one at a time, leaves in 25% batches), and runs the final verify. Ansible (cold,
  master per run): ` + "`upgrade-copy.yml`" + ` or ` + "`upgrade-get.yml`" + `, the binary into the same release
  directory on every host at once (` + "`copy`" + `, or ` + "`get_url`" + ` with the sha256 checked), then ` + "`serial: 1`" + ` over
  the hubs and ` + "`serial: \"25%\"`" + ` over the edges: the link switched with ` + "`file`" + ` and a handler
  running ` + "`sv -w 60 restart`" + `; no health check between batches. After each run every
  binary path must resolve to the new release's binary (its sha256 checked) and every
  ` + "`/varz`" + ` must report the new version. Before each run the lab goes back to v2.15.2 and the new release's
  directory is removed from every host, untimed.
- **Ansible**: Debian's ansible-core, ` + "`ansible-playbook`" + ` with the lab's hosts, key and known_hosts,
  forks = fleet size, pipelining on, no fact gathering. The playbook copies exactly the files
  latticepush rendered (same bytes and modes) with ` + "`copy`" + `, and its handlers run ` + "`sv hup`" + ` for
  nats-server (restart for wasmCloud). Plan case: ` + "`--check --diff`" + `. "Cold" has two honest
  meanings, both reported: **cold (connection per call)**, ` + "`ControlMaster=no`" + `, ` + "`ControlPath=none`" + `:
  every module call on every host opens its own SSH connection (a task looping over three files
  is three connections); **cold (master per run)**, ` + "`ControlMaster=auto`" + ` with a master per host
  opened by the run's first task and closed after the run (untimed): one fresh connection per
  host per run, as latticepush makes. **Warm**: ` + "`ControlPersist=30m`" + ` masters opened by an untimed
  run and kept alive across runs. All force ` + "`KexAlgorithms=curve25519-sha256`" + ` and
  ` + "`HostKeyAlgorithms=ssh-ed25519`" + `, which is what latticepush's remote/ negotiates (it lists
  curve25519 first and only the known_hosts key type). Each Ansible reload run changes every
  leaf (the copy and the handler in its recap), and a latticepush plan afterwards must be
  empty: the files are in place and every running config_digest matches them, so the reload
  really happened.
- **Load**: before every timed run (latticepush's and Ansible's) the benchmark samples how busy
  both CPUs are over 2 s while it waits, and the 1-minute load average; above
  ` + "`LATTICEPUSH_BENCH_MAX_BUSY`" + ` percent (default 25) it samples again for up to
  ` + "`LATTICEPUSH_BENCH_QUIET_WAIT_S`" + ` seconds (default 90), then refuses the run: it is not
  started, and the notes below say which and why. Each case's row shows the range of loads its
  runs started at.
- **Floor**: one fresh x/crypto/ssh connection per host (curve25519, ed25519 host key checked,
  public-key auth), one session running ` + "`true`" + `, all hosts at once.
- **Scale**: Go SSH servers on loopback (one listener per host on its own 127.N.x.y
  address) answer latticepush's facts script as a converged host (files as rendered,
  services running, the config's digest in the host's digest cache) and serve /varz, /jsz and
  /healthz over direct-tcpip. Its floor is the lab's (a connection and ` + "`true`" + ` per host, all
  at once) against the same simulated hosts, run after each plan. They run in child processes of the benchmark, 2,500 hosts each
  (` + "`LATTICEPUSH_BENCH_SIM_PER_PROCESS`" + `): a process holds two descriptors per host and may hold
  20,000 here, while the CLI holds one per host. They share the 2 cores with the CLI; the
  CLI's peak RSS is measured by GNU time (` + "`" + `/usr/bin/time -f %M` + "`" + `): the CLI's own getrusage maxrss
  would include the benchmark's memory, which a child started by vfork carries across exec. The phase split comes from one in-process run
  of the same pipeline, which also gives the live heap and stacks per host after observe (after a
  collection, with goroutine stacks: each host's SSH connection and facts); ` + "`LATTICEPUSH_BENCH_PROFILE=DIR`" + ` writes
  that run's CPU profile and its heap profile after observe there.
- **Inventory validation**: ` + "`latticepush validate`" + ` timed as a process (wall time; peak RSS
  by GNU time, as above), offline and without a secrets file: examples/fleet (a directory inventory, one
  ` + "`-var-file`" + ` per site, 300 edges from one hosts block) and inventory/testdata/scale (3 hubs
  and 10,000 edges from one hosts block over ` + "`cidrsubnet`/`cidrhost`" + `). Every run evaluates the
  variables, locals and for_each, decodes each instance and applies every validation rule.
- Nothing here is asserted as a pass/fail time; goals are reported as measured.`
