lattice "default" {
  js_domain = "hub"
}

host "hub-1" {
  address = "10.0.0.11"
  roles   = ["hub"]
}

hosts "edge" {
  for_each = toset([for i in range(1, 5) : format("edge-%d", i)])
  address  = "10.0.1.${trimprefix(each.key, "edge-")}"
  roles    = ["leaf", "wasmcloud"]
  labels = {
    "rack-id" = each.key
  }
  nats {
    jetstream_domain = each.key == "edge-3" ? "hub" : each.key
  }
}

role "hub" {
  nats {
    max_file_store   = "1GB"
    max_memory_store = "256MB"
  }
}
