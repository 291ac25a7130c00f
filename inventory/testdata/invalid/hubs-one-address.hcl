lattice "default" {
  js_domain = "hub"
}

role "hub" {
  nats {
    max_file_store   = "1GB"
    max_memory_store = "256MB"
  }
}

host "hub-1" {
  address = "203.0.113.10"
  roles   = ["hub"]
  ssh {
    port = 2201
  }
}

host "hub-2" {
  address = "203.0.113.10"
  roles   = ["hub"]
  ssh {
    port = 2202
  }
  nats {
    cluster_port = 6223
  }
}

host "hub-3" {
  address = "203.0.113.11"
  roles   = ["hub"]
}
