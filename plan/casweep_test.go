package plan

import (
	"reflect"
	"testing"

	"github.com/latticepush/latticepush/inventory"
)

func leafConf(ca string) []byte {
	return []byte("server_name: edge-1\nleafnodes {\n  remotes [\n    {\n      urls: [\"tls://hub-1:7422\"]\n      tls {\n        ca_file: \"" +
		ca + "\"\n      }\n    }\n  ]\n}\n")
}

func hubCAConf(ca string) []byte {
	return []byte("server_name: hub-1\ntls {\n  cert_file: \"/etc/nats/tls/hub-1-aa.pem\"\n  key_file: \"/etc/nats/tls/hub-1-aa.key\"\n  ca_file: \"" +
		ca + "\"\n}\ncluster {\n  tls {\n    ca_file: \"" + ca + "\"\n  }\n}\n")
}

// planCASweep: a running server whose change moves its config to other managed CA files
// sweeps the ones it no longer names, once its gate passed; nothing when the CA file stays,
// for an operator's CA, a first start, or a CA file outside latticepush's tls directory.
func TestPlanCASweep(t *testing.T) {
	const cfg = "/etc/nats/nats-server.conf"
	for _, c := range []struct {
		name       string
		managed    bool
		conf       func(string) []byte
		from, to   string
		wasRunning bool
		want       *CASweep
	}{
		{"leaf, trust both", true, leafConf, "/etc/nats/tls/ca-aa.pem", "/etc/nats/tls/ca-bb-aa.pem", true,
			&CASweep{Prefix: "/etc/nats/tls/ca-", Keep: []string{"/etc/nats/tls/ca-bb-aa.pem"}, Previous: []string{"/etc/nats/tls/ca-aa.pem"}}},
		{"hub, drop the old CA", true, hubCAConf, "/etc/nats/tls/ca-bb-aa.pem", "/etc/nats/tls/ca-bb.pem", true,
			&CASweep{Prefix: "/etc/nats/tls/ca-", Keep: []string{"/etc/nats/tls/ca-bb.pem"}, Previous: []string{"/etc/nats/tls/ca-bb-aa.pem"}}},
		{"same CA file", true, hubCAConf, "/etc/nats/tls/ca-bb.pem", "/etc/nats/tls/ca-bb.pem", true, nil},
		{"operator's CA", false, leafConf, "/etc/nats/tls/ca-aa.pem", "/etc/nats/tls/ca-bb.pem", true, nil},
		{"first start", true, leafConf, "/etc/nats/tls/ca-aa.pem", "/etc/nats/tls/ca-bb.pem", false, nil},
		{"not latticepush's name", true, leafConf, "/etc/nats/tls/ca.pem", "/etc/nats/tls/ca-bb.pem", true, nil},
		{"not latticepush's directory", true, leafConf, "/etc/ssl/ca-aa.pem", "/etc/ssl/ca-bb.pem", true, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			inv := &inventory.Inventory{Lattice: inventory.Lattice{TLS: &inventory.TLS{Managed: c.managed}}}
			u := &Unit{Host: "h", Service: ServiceNATS, Action: Reload, WasRunning: c.wasRunning, ConfigPath: cfg,
				Files: []FileChange{{Path: cfg, Op: "update", content: c.conf(c.to)}}}
			facts := map[string]Facts{"h": {Host: "h", Files: map[string]FileFact{cfg: {Exists: true, Content: c.conf(c.from)}}}}
			planCASweep(inv, facts, &Plan{Units: []*Unit{u}})
			if !reflect.DeepEqual(u.CASweep, c.want) {
				t.Errorf("sweep %+v, want %+v", u.CASweep, c.want)
			}
		})
	}
}
