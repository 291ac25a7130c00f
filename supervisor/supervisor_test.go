package supervisor

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

func natsLike() Service {
	return Service{Name: "svc", Description: "a service", Binary: "/usr/bin/svc", Args: []string{"-c", "/etc/svc.conf"},
		Reload: []string{"/usr/bin/svc", "--reload", PIDWord}, StopSignal: "USR2", StopTimeout: 90 * time.Second,
		RestartDelay: 2 * time.Second, Hardened: true, Check: &HTTPCheck{Host: "127.0.0.1", Port: 8222, Path: "/healthz"}}
}

// TestRegistry: every supervisor an inventory may name is registered, and an unknown name is
// refused naming the known ones.
func TestRegistry(t *testing.T) {
	for _, name := range []string{"systemd", "runit"} {
		s, err := For(name)
		if err != nil || s.Name() != name {
			t.Errorf("For(%q) = %v, %v", name, s, err)
		}
	}
	if _, err := For("upstart"); err == nil || !strings.Contains(err.Error(), `"runit", "systemd"`) {
		t.Errorf("For(upstart): %v", err)
	}
}

// TestSystemd_Definition: the service's settings become the unit's directives; the pid in the
// reload command is ${MAINPID} (a bare $MAINPID inside a word is not substituted).
func TestSystemd_Definition(t *testing.T) {
	files, err := Systemd{}.Definition("# header\n", natsLike())
	if err != nil || len(files) != 1 || files[0].Path != "/etc/systemd/system/svc.service" {
		t.Fatalf("files %+v, err %v", files, err)
	}
	unit := string(files[0].Content)
	for _, want := range []string{"# header\n[Unit]\nDescription=a service\n", "ExecStart=/usr/bin/svc -c /etc/svc.conf\n",
		"ExecReload=/usr/bin/svc --reload ${MAINPID}\n", "KillSignal=SIGUSR2\nTimeoutStopSec=90\nRestart=on-failure\nRestartSec=2\n",
		"NoNewPrivileges=yes\n", "WantedBy=multi-user.target\n"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	svc := Service{Name: "host", Binary: "/usr/bin/host", EnvFile: "/etc/host.env", After: "svc", KeepTrying: true,
		RestartAlways: true, RestartDelay: 5 * time.Second, StopTimeout: 30 * time.Second}
	files, _ = Systemd{}.Definition("", svc)
	unit = string(files[0].Content)
	for _, want := range []string{"After=network-online.target svc.service\n", "StartLimitIntervalSec=0\n", "EnvironmentFile=/etc/host.env\n",
		"Restart=always\nRestartSec=5\nTimeoutStopSec=30\n"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	if strings.Contains(unit, "ExecReload") || strings.Contains(unit, "KillSignal") {
		t.Errorf("a service without reload or stop signal got them:\n%s", unit)
	}
}

// TestRunit_Definition: run, check, control/t and log/run, each a script that sh (bash for the
// check) parses.
func TestRunit_Definition(t *testing.T) {
	r := Runit{SvDir: RunitSvDir, ServiceDir: RunitServiceDir}
	files, err := r.Definition("# header\n", natsLike())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		got[f.Path] = string(f.Content)
		if f.Mode != 0o755 || !f.Script {
			t.Errorf("%s: mode %o script %v", f.Path, f.Mode, f.Script)
		}
		shell := "sh"
		if strings.HasPrefix(string(f.Content), "#!/bin/bash") {
			shell = "bash"
		}
		if out, err := exec.Command(shell, "-n", "-c", string(f.Content)).CombinedOutput(); err != nil {
			t.Errorf("%s does not parse: %v %s", f.Path, err, out)
		}
	}
	for path, want := range map[string]string{
		"/etc/sv/svc/run":       "#!/bin/sh\n# header\nexec 2>&1\nexec /usr/bin/svc -c /etc/svc.conf\n",
		"/etc/sv/svc/check":     "exec 3<>/dev/tcp/127.0.0.1/8222 || exit 1\nprintf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3\n",
		"/etc/sv/svc/control/t": "exec kill -USR2 \"$(cat supervise/pid)\"\n",
		"/etc/sv/svc/log/run":   "exec svlogd -tt /var/log/svc\n",
	} {
		if !strings.Contains(got[path], want) {
			t.Errorf("%s lacks %q:\n%s", path, want, got[path])
		}
	}
	files, _ = r.Definition("", Service{Name: "host", Binary: "/usr/bin/host", EnvFile: "/etc/host.env", After: "svc"})
	for _, f := range files {
		if f.Path == "/etc/sv/host/run" && !strings.Contains(string(f.Content), "out=$(sv -w 10 start /etc/sv/svc) || { echo \"waiting for /etc/sv/svc: $out\"; exit 1; }\nset -a\n. /etc/host.env\nset +a\nexec /usr/bin/host\n") {
			t.Errorf("run of a service after another:\n%s", f.Content)
		}
		if strings.HasSuffix(f.Path, "/check") || strings.HasSuffix(f.Path, "/control/t") {
			t.Errorf("%s for a service without check or stop signal", f.Path)
		}
	}
}

// TestStateScripts: each supervisor's part of the facts script parses as a shell function.
func TestStateScripts(t *testing.T) {
	for _, name := range []string{"systemd", "runit"} {
		s, _ := For(name)
		script := "svc_state() {\n" + s.StateScript() + "\n}\n"
		if out, err := exec.Command("sh", "-n", "-c", script).CombinedOutput(); err != nil {
			t.Errorf("%s: %v %s", name, err, out)
		}
	}
}

// TestDefinition_User: a service with a user runs as it under both supervisors, with what it
// writes created and handed to it before the start, and systemd's sandbox made strict.
func TestDefinition_User(t *testing.T) {
	svc := natsLike()
	svc.User, svc.RuntimeDir = "nats", "nats"
	svc.StateDirs, svc.StateFiles = []string{"/var/lib/nats"}, []string{"/var/log/nats.log"}
	files, err := Systemd{}.Definition("", svc)
	if err != nil {
		t.Fatal(err)
	}
	unit := string(files[0].Content)
	for _, want := range []string{"User=nats\nGroup=nats\n", "RuntimeDirectory=nats\n",
		"ExecStartPre=+/bin/mkdir -p /var/lib/nats\nExecStartPre=+/usr/bin/touch /var/log/nats.log\n" +
			"ExecStartPre=+/bin/chown -R nats:nats /var/lib/nats /var/log/nats.log\nReadWritePaths=/var/lib/nats /var/log/nats.log\n",
		"NoNewPrivileges=yes\nCapabilityBoundingSet=\nPrivateTmp=yes\nProtectHome=yes\nProtectSystem=strict\n"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	if strings.Contains(unit, "ProtectSystem=full") {
		t.Errorf("unit of a user's service keeps ProtectSystem=full:\n%s", unit)
	}
	files, err = Runit{SvDir: RunitSvDir, ServiceDir: RunitServiceDir}.Definition("", svc)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Path != "/etc/sv/svc/run" {
			continue
		}
		want := "exec 2>&1\ninstall -d -m 0755 -o nats -g nats /run/nats || exit\nmkdir -p /var/lib/nats || exit\n" +
			"touch /var/log/nats.log || exit\nchown -R nats:nats /var/lib/nats /var/log/nats.log || exit\n" +
			"exec chpst -u nats:nats /usr/bin/svc -c /etc/svc.conf\n"
		if !strings.HasSuffix(string(f.Content), want) {
			t.Errorf("run:\n%s\nwant it to end with:\n%s", f.Content, want)
		}
		if out, err := exec.Command("sh", "-n", "-c", string(f.Content)).CombinedOutput(); err != nil {
			t.Errorf("run does not parse: %v %s", err, out)
		}
	}
}
