package bench

import (
	"fmt"
	"strings"
)

// SimPort is the SSH port of every simulated host.
const SimPort = 2222

// SimAddr is the loopback address of the i-th simulated edge (i from 0) in the /16
// 127.net.0.0: up to 250 edges per /24, from 127.net.1.0/24 on (hubs are 127.net.0.11-13).
func SimAddr(net, i int) string { return fmt.Sprintf("127.%d.%d.%d", net, 1+i/250, 1+i%250) }

// SimInventory is the HCL of a lattice shaped like examples/lab (3 hubs, edges running a
// leaf and a wasmCloud host) with n edges on simulated hosts, logging in with keyPath and
// checking host keys against knownHosts, on addresses in 127.net.0.0/16 (see SimAddr). Its
// secrets file is secrets.json next to it.
func SimInventory(net, n int, keyPath, knownHosts string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `lattice "default" {
  js_domain = "hub"
}

secrets {
  file = "secrets.json"
}

defaults {
  ssh {
    user          = "root"
    port          = %d
    identity_file = %q
    known_hosts   = %q
  }
  service_manager = "runit"
  parallelism     = 16
}

role "hub" {
  nats {
    cluster_name           = "hub"
    store_dir              = "/var/lib/nats"
    max_file_store         = "1GB"
    max_memory_store       = "256MB"
    lame_duck_duration     = "30s"
    lame_duck_grace_period = "1s"
  }
}

role "leaf" {
  nats {
    lame_duck_duration     = "30s"
    lame_duck_grace_period = "1s"
  }
  rollout {
    batch = "10%%"
  }
}

role "wasmcloud" {
  wasmcloud {
    binary = "/usr/local/bin/wasmcloud"
    labels = { env = "sim" }
  }
  rollout {
    batch = "10%%"
  }
}
`, SimPort, keyPath, knownHosts)
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(&b, "\nhost \"hub-%d\" {\n  address = \"127.%d.0.%d\"\n  roles   = [\"hub\"]\n}\n", i, net, 10+i)
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "\nhost \"edge-%d\" {\n  address = %q\n  roles   = [\"leaf\", \"wasmcloud\"]\n  labels  = { zone = %q }\n}\n", i+1, SimAddr(net, i), string(rune('a'+i%3)))
	}
	return b.String()
}
