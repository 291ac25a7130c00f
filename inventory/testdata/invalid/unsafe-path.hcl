lattice "default" {
  js_domain = "hub"
}

role "hub" {
  nats {
    max_file_store   = "1GB"
    max_memory_store = "256MB"
    binary           = "/opt/nats server/nats-server"
    config_file      = ""
  }
}

role "wasmcloud" {
  wasmcloud {
    env_file = "/etc/wasmcloud/$HOST.env"
  }
}

host "hub-1" {
  address = "10.0.0.11"
  roles   = ["hub", "wasmcloud"]
}
