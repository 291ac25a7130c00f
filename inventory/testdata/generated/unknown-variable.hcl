variable "edge_cidr" {
  default = "10.0.1.0/24"
}

lattice "default" {
  js_domain = "hub"
}

host "hub-1" {
  address = "10.0.0.11"
  roles   = ["hub"]
}

hosts "edge" {
  for_each = toset(["edge-1", "edge-2"])
  address  = cidrhost(var.edge_cdir, 10)
  roles    = ["leaf"]
}

role "hub" {
  nats {
    max_file_store   = "1GB"
    max_memory_store = "256MB"
  }
}
