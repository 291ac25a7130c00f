lattice "default" {
  js_domain = "hub"
}

role "hub" {
  nats {
    max_file_store   = "1GB"
    max_memory_store = "256MB"
    version          = "2.15.3"
    artifact "linux/amd64" {
      source = "ftp://releases.example.com/nats-server-v2.15.3-linux-amd64.tar.gz"
      sha256 = "6cbfbe812cc92158886e0066cc79d5394d13a22c07eb79f934aca225c98c9fad"
    }
  }
}

host "hub-1" {
  address = "10.0.0.11"
  roles   = ["hub"]
}

host "edge-1" {
  address = "10.0.1.21"
  roles   = ["leaf", "wasmcloud"]

}
