lattice "default" {
  js_domain = "hub"
}

role "hub" {
  nats {
    cluster_name     = "hub"
    max_file_store   = "10GB"
    max_memory_store = "1GB"
  }
}

host "hub-1" {
  address = "10.0.0.11"
  roles   = ["hub"]
}

host "edge-1" {
  address = "10.0.1.21"
  roles   = ["leaf", "wasmcloud"]
}

role "leaf" {
  rollout {
    gate_timeout = "0s"
  }
}

role "wasmcloud" {
  rollout {
    gate_timeout = "ten minutes"
  }
}
