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

upstream {
  urls             = ["tls://ngs:s3cret@connect.ngs.global", "ws://10.0.9.1:443"]
  credentials_file = "creds/ngs.creds"
}
