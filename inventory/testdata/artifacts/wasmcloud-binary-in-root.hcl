lattice "default" {
  js_domain = "hub"
}

role "wasmcloud" {
  wasmcloud {
    binary  = "/opt/latticepush/wasmcloud/current"
    version = "1.9.3"
    artifact "linux/amd64" {
      source = "dist/wasmcloud-1.9.3-linux-amd64.tar.gz"
      sha256 = "f422926a866f4ed43523ccb7ce09a06bad33e0e93e70107cd8a805cfaf2803a2"
    }
  }
}

host "hub-1" {
  address = "10.0.0.11"
  roles   = ["hub"]
  nats {
    max_file_store   = "1GB"
    max_memory_store = "256MB"
  }
}

host "edge-1" {
  address = "10.0.1.21"
  roles   = ["leaf", "wasmcloud"]
}
