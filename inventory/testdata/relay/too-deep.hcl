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
  address = "10.0.0.11"
  roles   = ["hub"]
}

host "r1" {
  address = "10.0.1.1"
  roles   = ["relay"]
  nats {
    upstream = "hub"
  }
}

host "r2" {
  address = "10.0.1.2"
  roles   = ["relay"]
  nats {
    upstream = "r1"
  }
}

host "r3" {
  address = "10.0.1.3"
  roles   = ["relay"]
  nats {
    upstream = "r2"
  }
}

host "r4" {
  address = "10.0.1.4"
  roles   = ["relay"]
  nats {
    upstream = "r3"
  }
}

host "edge-1" {
  address = "10.0.2.1"
  roles   = ["leaf", "wasmcloud"]
  nats {
    upstream = "r4"
  }
}
