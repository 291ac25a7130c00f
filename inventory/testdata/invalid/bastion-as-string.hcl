lattice "default" {
  js_domain = "hub"
}

bastion "east" {
  address = "ops@10.0.0.5"
}

host "hub-1" {
  address = "10.0.0.11"
  roles   = ["hub"]
  ssh {
    proxy_jump = "bastion.east"
  }
}

role "hub" {
  nats {
    max_file_store   = "1GB"
    max_memory_store = "256MB"
  }
}
