variable "cidr" {
  type    = string
  default = "10.0.1.0/24"
}

variable "edges" {
  type = number
}

variable "labels" {
  type    = map(string)
  default = { tier = "edge" }
}

lattice "default" {
  js_domain = "hub"
}

host "hub-1" {
  address = "10.0.0.11"
  roles   = ["hub"]
}

hosts "edge" {
  for_each = toset([for i in range(1, var.edges + 1) : "edge-${i}"])
  address  = cidrhost(var.cidr, 10 + tonumber(trimprefix(each.key, "edge-")))
  roles    = ["leaf", "wasmcloud"]
  labels   = var.labels
}

role "hub" {
  nats {
    max_file_store   = "1GB"
    max_memory_store = "256MB"
  }
}
