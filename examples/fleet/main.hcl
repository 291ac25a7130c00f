# A bare-metal fleet: a 3-node hub cluster homing the "core" domain and 300 edge machines in
# three sites, each running a leaf-node nats-server and a wasmCloud host. This directory is
# the inventory (every *.hcl in it); each site's numbers come from a variables file:
#
#   latticepush validate examples/fleet \
#     -var-file examples/fleet/sites/ams.hcl \
#     -var-file examples/fleet/sites/fra.hcl \
#     -var-file examples/fleet/sites/nyc.hcl

lattice "fleet" {
  js_domain = "core"
}

defaults {
  ssh {
    user   = "deploy"
    become = true
  }
  service_manager = "systemd"
  parallelism     = 64
}

role "hub" {
  nats {
    cluster_name     = "core"
    max_file_store   = "500GB"
    max_memory_store = "8GB"
  }
}

role "leaf" {
  nats {
    max_file_store = "10GB"
  }
  rollout {
    batch           = "10%"
    max_unreachable = 3
  }
}

role "wasmcloud" {
  wasmcloud {
    # Labels every wasmCloud host carries, kept in a JSON file next to the inventory.
    labels = jsondecode(file("labels.json"))
  }
  rollout {
    batch = "10%"
  }
}

hosts "hub" {
  for_each = { "hub-1" = 11, "hub-2" = 12, "hub-3" = 13 }
  address  = cidrhost(var.core_cidr, each.value)
  roles    = ["hub"]
}
