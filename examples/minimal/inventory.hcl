# The smallest useful lattice: a 3-node JetStream hub and one edge machine that runs a
# leaf-node nats-server next to a wasmCloud host.

lattice "default" {
  js_domain = "hub"
}

secrets {
  file = "secrets.json" # 0600; `latticepush secrets inventory.hcl` generates what is missing
}

defaults {
  ssh {
    user   = "deploy"
    become = true
  }
  service_manager = "systemd"
}

role "hub" {
  nats {
    cluster_name     = "hub"
    store_dir        = "/var/lib/nats"
    max_file_store   = "20GB"
    max_memory_store = "1GB"
  }
}

role "leaf" {
  nats {}
}

role "wasmcloud" {
  wasmcloud {
    binary = "/usr/local/bin/wasmcloud"
  }
}

host "hub-1" {
  address = "10.0.0.11"
  roles   = ["hub"]
}

host "hub-2" {
  address = "10.0.0.12"
  roles   = ["hub"]
}

host "hub-3" {
  address = "10.0.0.13"
  roles   = ["hub"]
}

host "edge-1" {
  address = "10.0.1.21"
  roles   = ["leaf", "wasmcloud"]
}
