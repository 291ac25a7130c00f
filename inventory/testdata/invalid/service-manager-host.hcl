lattice "default" {
  js_domain = "hub"
}

defaults {
  service_manager = "systemd"
}

role "hub" {
  nats {
    max_file_store   = "1GB"
    max_memory_store = "256MB"
    cluster_name     = "hub"
  }
}

host "hub-1" {
  address = "10.0.0.11"
  roles   = ["hub"]
}

host "edge-1" {
  address         = "10.0.1.21"
  roles           = ["leaf", "wasmcloud"]
  service_manager = "rnuit"
}
