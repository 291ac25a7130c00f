lattice "default" {
  js_domain = "hub"
}

defaults {
  ssh {
    user          = "root"
    identity_file = "/keys/fleet"
    known_hosts   = "/keys/known_hosts"
    proxy_jump    = bastion.east
  }
}

bastion "east" {
  address       = "10.0.0.5"
  user          = "ops"
  port          = 2222
  identity_file = "/keys/bastion"
}

bastion "west" {
  address = "10.9.0.5"
}

host "hub-1" {
  address = "10.0.0.11"
  roles   = ["hub"]
}

host "edge-1" {
  address = "10.0.1.21"
  roles   = ["leaf", "wasmcloud"]
  ssh {
    proxy_jump = "${bastion.west},root@10.0.0.11"
  }
}

role "hub" {
  nats {
    max_file_store   = "1GB"
    max_memory_store = "256MB"
  }
}
