# A generated inventory for the validate benchmark: 3 hubs and sites × per_site edge
# machines (10,000 by default), each a leaf and a wasmCloud host.
variable "sites" {
  type    = number
  default = 100
}

variable "per_site" {
  type    = number
  default = 100
}

lattice "scale" {
  js_domain = "core"
}

role "hub" {
  nats {
    max_file_store   = "1GB"
    max_memory_store = "256MB"
    cluster_name     = "core"
  }
}

hosts "hub" {
  for_each = { "hub-1" = 11, "hub-2" = 12, "hub-3" = 13 }
  address  = cidrhost("10.255.0.0/24", each.value)
  roles    = ["hub"]
}

locals {
  edges = merge([
    for s in range(var.sites) : {
      for i in range(var.per_site) : format("s%03d-edge-%03d", s, i) => {
        site    = format("s%03d", s)
        address = cidrhost(cidrsubnet("10.0.0.0/8", 8, s), 10 + i)
      }
    }
  ]...)
}

hosts "edge" {
  for_each = local.edges
  address  = each.value.address
  roles    = ["leaf", "wasmcloud"]
  labels = {
    site = each.value.site
  }
}
