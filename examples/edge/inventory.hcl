# An edge fleet: a 3-node hub homing the "core" domain, and edge machines that each run a
# leaf-node nats-server and a wasmCloud host. edge-4 keeps a local JetStream of its own,
# under its own domain; everything the lattice stores still lives on the hub.

lattice "prod" {
  js_domain = "core"
}

secrets {
  file = "secrets.json"
  env = {
    "passwords.leaf" = "LATTICEPUSH_LEAF_PASSWORD" # taken from the environment when set
  }
}

defaults {
  ssh {
    user        = "deploy"
    port        = 22
    known_hosts = "~/.ssh/known_hosts"
    become      = true
  }
  service_manager = "systemd"
  parallelism     = 32
}

role "hub" {
  nats {
    cluster_name     = "core"
    client_port      = 4222
    cluster_port     = 6222
    leafnode_port    = 7422
    http_port        = 8222
    store_dir        = "/var/lib/nats"
    max_file_store   = "200GB"
    max_memory_store = "4GB"
  }
}

role "leaf" {
  nats {
    client_port = 4222
    http_port   = 8222
  }
  rollout {
    batch           = "25%"
    max_failures    = 0
    max_unreachable = 1
  }
}

role "wasmcloud" {
  wasmcloud {
    binary = "/usr/local/bin/wasmcloud"
    labels = {
      zone = "east"
    }
  }
  rollout {
    batch = 2
  }
}

host "core-1" {
  address = "10.20.0.11"
  roles   = ["hub"]
}

host "core-2" {
  address = "10.20.0.12"
  roles   = ["hub"]
}

host "core-3" {
  address = "10.20.0.13"
  roles   = ["hub"]
}

host "edge-1" {
  address = "10.20.1.21"
  roles   = ["leaf", "wasmcloud"]
  labels  = { rack = "r1" }
}

host "edge-2" {
  address = "10.20.1.22"
  roles   = ["leaf", "wasmcloud"]
  labels  = { rack = "r1" }
}

host "edge-3" {
  address = "10.20.1.23"
  roles   = ["leaf", "wasmcloud"]
  labels  = { rack = "r2" }
}

host "edge-4" {
  address = "10.20.1.24"
  roles   = ["leaf", "wasmcloud"]
  labels  = { rack = "r2" }
  nats {
    jetstream_domain = "edge-4" # a local JetStream of its own; never the hub's domain
    store_dir        = "/var/lib/nats"
    max_file_store   = "10GB"
    max_memory_store = "256MB"
  }
}
