package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := parseConfig(nil, nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.lattice != "default" || cfg.natsURL() != "nats://127.0.0.1:4222" || cfg.jsDomain != "" ||
		cfg.hostSeed != "" || cfg.heartbeat != 30*time.Second || cfg.logLevel != levelInfo || len(cfg.labels) != 0 {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestParseConfigEnvAndFlags(t *testing.T) {
	env := []string{
		"WASMCLOUD_LATTICE=prod", "WASMCLOUD_NATS_HOST=10.0.0.1", "WASMCLOUD_NATS_PORT=4333",
		"WASMCLOUD_JS_DOMAIN=hub", "WASMCLOUD_HEARTBEAT_INTERVAL=5", "WASMCLOUD_LOG_LEVEL=DEBUG",
		"WASMCLOUD_LABEL_hostname=node1", "WASMCLOUD_LABEL_HOSTNAME=upper", "WASMCLOUD_LABEL_zone=east",
		"WASMCLOUD_LATTICE_PREFIX=ignored", "WASMCLOUD_CLUSTER_SEED=ignored", "PATH=/bin",
	}
	cfg, err := parseConfig([]string{"--js-domain", "other", "-l", "zone=west", "--label=rack=r7"}, env, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.lattice != "prod" || cfg.natsURL() != "nats://10.0.0.1:4333" || cfg.heartbeat != 5*time.Second || cfg.logLevel != levelDebug {
		t.Fatalf("env not applied: %+v", cfg)
	}
	if cfg.jsDomain != "other" {
		t.Errorf("flag did not override env: js domain %q", cfg.jsDomain)
	}
	want := map[string]string{"hostname": "node1", "HOSTNAME": "upper", "zone": "west", "rack": "r7"}
	if len(cfg.labels) != len(want) {
		t.Errorf("labels %v, want %v", cfg.labels, want)
	}
	for k, v := range want {
		if cfg.labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, cfg.labels[k], v)
		}
	}
	if len(cfg.warnings) != 1 || !strings.Contains(cfg.warnings[0], "zone") {
		t.Errorf("warnings %v, want one about zone", cfg.warnings)
	}
}

func TestParseConfigEmptyDomainIsUnset(t *testing.T) {
	cfg, err := parseConfig(nil, []string{"WASMCLOUD_JS_DOMAIN="}, &bytes.Buffer{})
	if err != nil || cfg.jsDomain != "" {
		t.Fatalf("cfg %+v, err %v", cfg, err)
	}
}

func TestParseConfigRefusals(t *testing.T) {
	for name, tc := range map[string]struct{ args, env []string }{
		"label value with =": {env: []string{"WASMCLOUD_LABEL_a=b=c"}},
		"flag label with =":  {args: []string{"-l", "a=b=c"}},
		"flag label no =":    {args: []string{"-l", "a"}},
		"lattice with dot":   {env: []string{"WASMCLOUD_LATTICE=a.b"}},
		"port":               {env: []string{"WASMCLOUD_NATS_PORT=http"}},
		"port 0":             {args: []string{"--nats-port", "0"}},
		"heartbeat":          {env: []string{"WASMCLOUD_HEARTBEAT_INTERVAL=1.5"}},
		"log level":          {env: []string{"WASMCLOUD_LOG_LEVEL=verbose"}},
		"removed flag":       {args: []string{"--cluster-seed", "x"}},
		"argument":           {args: []string{"run"}},
	} {
		if _, err := parseConfig(tc.args, tc.env, &bytes.Buffer{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestHelpHidesSeed(t *testing.T) {
	var out bytes.Buffer
	_, err := parseConfig([]string{"--help"}, []string{"WASMCLOUD_HOST_SEED=SNSECRETSEEDVALUE"}, &out)
	if err != errHelpShown {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(out.String(), "TEST DOUBLE") || strings.Contains(out.String(), "SNSECRETSEEDVALUE") {
		t.Fatalf("help:\n%s", out.String())
	}
}

func TestCheckNATSHost(t *testing.T) {
	for _, ok := range []string{"127.0.0.1", "localhost", "nats.internal"} {
		if err := checkNATSHost(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"nats://127.0.0.1", "tls://h", "a,b", "h:4222", "u:p@h", "h/x"} {
		if checkNATSHost(bad) == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestHumanUptime(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 141 * time.Second: "2m 21s", time.Hour: "1h", 90061 * time.Second: "1day 1h 1m 1s",
		2*24*time.Hour + 5*time.Second: "2days 5s",
	} {
		if got := humanUptime(d); got != want {
			t.Errorf("humanUptime(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestVersionFlag: --version and -V answer as the real host does, "wasmcloud <version>", with
// the version a build sets.
func TestVersionFlag(t *testing.T) {
	defer func(v string) { version = v }(version)
	version = "1.9.3"
	for _, flag := range []string{"--version", "-V"} {
		var out bytes.Buffer
		if _, err := parseConfig([]string{flag}, nil, &out); err != errHelpShown {
			t.Fatalf("%s: err = %v", flag, err)
		}
		if out.String() != "wasmcloud 1.9.3\n" {
			t.Errorf("%s printed %q", flag, out.String())
		}
	}
}
