# The lab lattice after its JetStream domain moved from "hub" to "central":
# `latticepush plan -allow-domain-change` shows a cutover: all hubs stop, then start on the new
# domain; leaves reconnect; wasmCloud hosts roll to WASMCLOUD_JS_DOMAIN=central.
# Apply it to a lab brought up from examples/lab/inventory.hcl.

lattice "default" {
  js_domain = "central"
  # The hubs served "hub" until now. While clients move, they keep answering for it through
  # a temporary alias (set alias_old_domain = false, or drop this line, to remove it).
  previous_js_domain = "hub"
}

secrets {
  file = "../lab/secrets.json"
}

defaults {
  ssh {
    user          = "root"
    identity_file = "/run/latticepush-lab/demo/id_ed25519"
    known_hosts   = "/run/latticepush-lab/demo/known_hosts"
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
    batch = "50%"
  }
}

role "wasmcloud" {
  wasmcloud {
    binary = "/usr/local/bin/wasmcloud"
    labels = {
      env = "lab"
    }
  }
  rollout {
    batch = 1
  }
}

host "hub-1" {
  address = "198.18.0.11"
  roles   = ["hub"]
}

host "hub-2" {
  address = "198.18.0.12"
  roles   = ["hub"]
}

host "hub-3" {
  address = "198.18.0.13"
  roles   = ["hub"]
}

host "edge-1" {
  address = "198.18.0.21"
  roles   = ["leaf", "wasmcloud"]
  labels  = { zone = "a" }
}

host "edge-2" {
  address = "198.18.0.22"
  roles   = ["leaf", "wasmcloud"]
  labels  = { zone = "a" }
}

host "edge-3" {
  address = "198.18.0.23"
  roles   = ["leaf", "wasmcloud"]
  labels  = { zone = "b" }
}
