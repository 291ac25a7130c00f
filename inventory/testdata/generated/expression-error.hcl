lattice "default" {
  js_domain = "hub"
}

host "hub-1" {
  address = "10.0.0.11"
  roles   = ["hub"]
}

hosts "edge" {
  for_each = {
    "edge-1" = "10.0.1.0/24"
    "edge-2" = "10.0.2.0/30"
  }
  address = cidrhost(each.value, 10)
  roles   = ["leaf"]
}

role "hub" {
  nats {
    max_file_store   = "1GB"
    max_memory_store = "256MB"
  }
}
