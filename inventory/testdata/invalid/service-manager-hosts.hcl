lattice "default" {
  js_domain = "hub"
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

hosts "edge" {
  for_each = { "edge-1" = 21, "edge-2" = 22, "edge-3" = 23 }

  address         = "10.0.1.${each.value}"
  roles           = ["leaf", "wasmcloud"]
  service_manager = "openrc"
}
