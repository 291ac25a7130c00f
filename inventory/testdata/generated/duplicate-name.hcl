lattice "default" {
  js_domain = "hub"
}

host "hub-1" {
  address = "10.0.0.11"
  roles   = ["hub"]
}

hosts "edge" {
  for_each = { a = 21, b = 22, c = 23 }
  name     = each.key == "c" ? "edge-c" : "edge-1"
  address  = "10.0.1.${each.value}"
  roles    = ["leaf"]
}

role "hub" {
  nats {
    max_file_store   = "1GB"
    max_memory_store = "256MB"
  }
}
