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

host "relay-a" {
  address = "10.0.1.1"
  roles   = ["relay"]
  nats {
    upstream = "hub"
  }
}

host "edge-1" {
  address = "10.0.2.1"
  roles   = ["leaf", "wasmcloud"]
  nats {
    upstream = "relay-a"
  }
}

host "edge-2" {
  address = "10.0.2.2"
  roles   = ["leaf", "wasmcloud"]
  nats {
    upstream = "edge-1"
  }
}
