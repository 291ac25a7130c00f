package render

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/latticepush/latticepush/inventory"
)

// safePathRE is what a path written into a unit or a shell script may look like: absolute,
// with no character that systemd (specifiers, quoting) or sh would interpret.
var safePathRE = regexp.MustCompile(`^/[A-Za-z0-9._/+@-]+$`)

func checkPaths(paths map[string]string) error {
	for setting, p := range paths {
		if !safePathRE.MatchString(p) {
			return fmt.Errorf("%s = %q: want an absolute path of letters, digits and . _ / + @ -", setting, p)
		}
	}
	return nil
}

// svDir is the runit service directory of service.
func svDir(service string) string { return RunitDir + "/" + service }

func (r *renderer) runitFiles() ([]File, error) {
	var files []File
	script := func(service, name, body string) {
		content := "#!/bin/sh\n" + r.header() + body
		if strings.HasPrefix(body, "#!") { // the script brings its own interpreter
			i := strings.IndexByte(body, '\n')
			content = body[:i+1] + r.header() + body[i+1:]
		}
		files = append(files, r.file(svDir(service)+"/"+name, KindRunit, service, []byte(content), 0o755))
	}
	logRun := func(service string) {
		script(service, "log/run", fmt.Sprintf(`# The service's output, timestamped, in /var/log/%[1]s/current.
mkdir -p /var/log/%[1]s
exec svlogd -tt /var/log/%[1]s
`, service))
	}

	if n := r.h.NATS(); n != nil {
		if err := checkPaths(map[string]string{"nats binary": n.Binary, "nats config_file": n.ConfigFile}); err != nil {
			return nil, err
		}
		script(ServiceNATS, "run", fmt.Sprintf("exec 2>&1\nexec %s -c %s\n", n.Binary, n.ConfigFile))
		script(ServiceNATS, "check", checkScript(n.HTTPHost, n.HTTPPort))
		script(ServiceNATS, "control/t", `# runsv runs this instead of sending SIGTERM (sv stop, sv restart): lame duck mode, so
# clients and leaves move to other servers over lame_duck_duration before the server exits.
# If it fails (no process), runsv sends SIGTERM itself.
exec kill -USR2 "$(cat supervise/pid)"
`)
		logRun(ServiceNATS)
	}
	if wc := r.h.Wasmcloud; wc != nil {
		if err := checkPaths(map[string]string{"wasmcloud binary": wc.Binary, "wasmcloud env_file": wc.EnvFile}); err != nil {
			return nil, err
		}
		var wait string
		if r.h.NATS() != nil {
			// The host exits at once when NATS is not up: start after the local server's check.
			wait = fmt.Sprintf("sv -w 10 start %s >/dev/null || exit 1\n", svDir(ServiceNATS))
		}
		script(ServiceWasmcloud, "run", fmt.Sprintf("exec 2>&1\n%sset -a\n. %s\nset +a\nexec %s\n",
			wait, wc.EnvFile, wc.Binary))
		logRun(ServiceWasmcloud)
	}
	return files, nil
}

// checkScript is the runit check of nats-server: `sv -w N start|restart` waits until it
// exits 0, so a server that refuses its config fails the restart instead of reporting ok.
// Healthy means the monitoring endpoint answers /healthz?js-server-only=true with 200: every
// listener is up. bash's /dev/tcp needs no curl or wget on the host.
func checkScript(httpHost string, httpPort int) string {
	host := inventory.LocalHost(httpHost)
	return fmt.Sprintf(`#!/bin/bash
# Healthy when the monitoring endpoint answers /healthz?js-server-only=true with 200.
exec 3<>/dev/tcp/%s/%d || exit 1
printf 'GET /healthz?js-server-only=true HTTP/1.0\r\n\r\n' >&3
read -r -t 2 _ code _ <&3 || exit 1
[ "$code" = 200 ]
`, host, httpPort)
}
