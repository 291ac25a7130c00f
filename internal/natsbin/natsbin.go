// Package natsbin locates the pinned nats-server build that `make nats-server` puts into the
// cache. The lab command runs it on its hosts and the tests start it; the package imports nothing
// of the project and no test helper, so the shipped binary may link it.
package natsbin

import (
	"os"
	"path/filepath"
	"strings"
)

// Version is the nats-server release the Makefile builds and the lab and tests run.
const Version = "v2.15.2"

// EnvVar names the environment variable that overrides where the binary is.
const EnvVar = "LATTICEPUSH_NATS_SERVER"

// Path returns the path of the pinned nats-server binary, or "" when it is absent.
// It looks at $LATTICEPUSH_NATS_SERVER, then the Makefile's cache location
// (~/.cache/latticepush/nats-server-<Version>/nats-server).
func Path() string {
	if p := os.Getenv(EnvVar); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	p := filepath.Join(home, ".cache", "latticepush", "nats-server-"+Version, "nats-server")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// Upgrades are the other nats-server releases the Makefile builds into the cache: what the lab
// starts on (`lab up --nats-version`) and the upgrade tests move between.
var Upgrades = []string{"v2.14.10", "v2.15.3"}

// PathFor returns the cached build of release version ("v2.14.10"), or "" when it is absent:
// $LATTICEPUSH_NATS_SERVER_<version with dots as underscores> (LATTICEPUSH_NATS_SERVER_V2_14_10),
// then ~/.cache/latticepush/nats-server-<version>/nats-server.
func PathFor(version string) string {
	if version == Version {
		return Path()
	}
	env := EnvVar + "_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(version))
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	p := filepath.Join(home, ".cache", "latticepush", "nats-server-"+version, "nats-server")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}
