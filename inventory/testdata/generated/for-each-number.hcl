variable "edges" {
  default = 3
}

lattice "default" {
  js_domain = "hub"
}

host "hub-1" {
  address = "10.0.0.11"
  roles   = ["hub"]
}

hosts "edge" {
  for_each = var.edges
  address  = each.value
  roles    = ["leaf"]
}

role "hub" {
  nats {
    max_file_store   = "1GB"
    max_memory_store = "256MB"
  }
}
