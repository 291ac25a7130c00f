# A tiered lattice: 3 hub nodes, a relay cluster of 2 relays, 4 edge machines behind them.
# The edges cannot reach the hubs; they only dial out, to the relays, which dial the hubs.
# JetStream stays homed on the hubs: `$JS.hub.API.>` crosses both leaf hops, and every
# wasmCloud host gets WASMCLOUD_JS_DOMAIN=hub. `latticepush lab up examples/tiered/inventory.hcl`
# runs it in network namespaces, the edges' routes to the hub addresses dropped.

lattice "default" {
  js_domain = "hub"
}

defaults {
  ssh {
    user          = "root"
    identity_file = "/run/latticepush-lab/tiered/id_ed25519"
    known_hosts   = "/run/latticepush-lab/tiered/known_hosts"
  }
  service_manager = "runit"
}

role "hub" {
  nats {
    cluster_name           = "hub"
    max_file_store         = "1GB"
    max_memory_store       = "256MB"
    lame_duck_duration     = "30s"
    lame_duck_grace_period = "1s"
  }
}

# Relays accept the edges' leaf connections on leafnode_port and are leaves of the hubs
# (upstream defaults to "hub"). They run no JetStream: one that did would need its own domain.
# cluster_name routes them to each other (cluster_port, default 6222), authenticated like
# the hubs' routes.
role "relay" {
  nats {
    cluster_name           = "relays"
    leafnode_port          = 7422
    lame_duck_duration     = "30s"
    lame_duck_grace_period = "1s"
  }
}

# Every edge dials every relay labelled site = "east"; its remotes list both.
role "leaf" {
  nats {
    upstream               = "site=east"
    lame_duck_duration     = "30s"
    lame_duck_grace_period = "1s"
  }
  rollout {
    batch = "50%"
  }
}

role "wasmcloud" {
  wasmcloud {
    labels = {
      env = "lab"
    }
  }
  rollout {
    batch = 2
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

host "relay-1" {
  address = "198.18.0.31"
  roles   = ["relay"]
  labels  = { site = "east" }
}

host "relay-2" {
  address = "198.18.0.32"
  roles   = ["relay"]
  labels  = { site = "east" }
}

host "edge-1" {
  address = "198.18.0.41"
  roles   = ["leaf", "wasmcloud"]
}

host "edge-2" {
  address = "198.18.0.42"
  roles   = ["leaf", "wasmcloud"]
}

host "edge-3" {
  address = "198.18.0.43"
  roles   = ["leaf", "wasmcloud"]
}

host "edge-4" {
  address = "198.18.0.44"
  roles   = ["leaf", "wasmcloud"]
}
