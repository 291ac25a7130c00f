lattice "default" {
  js_domain = "hub"
}

role "hub" {
  nats {
    max_file_store   = "1GB"
    max_memory_store = "256MB"
    user             = "root"
  }
}

role "wasmcloud" {
  wasmcloud {
    user = "Wasm Cloud"
  }
}

host "hub-1" {
  address = "10.0.0.11"
  roles   = ["hub", "wasmcloud"]
}
