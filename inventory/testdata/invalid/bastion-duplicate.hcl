lattice "default" {
  js_domain = "hub"
}

bastion "east" {
  address = "10.0.0.5"
}

bastion "east" {
  address = "10.0.0.6"
  port    = 70000
}

host "hub-1" {
  address = "10.0.0.11"
  roles   = ["hub"]
}

role "hub" {
  nats {
    max_file_store   = "1GB"
    max_memory_store = "256MB"
  }
}
