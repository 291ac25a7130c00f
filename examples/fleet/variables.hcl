variable "core_cidr" {
  description = "Network of the hub cluster."
  type        = string
  default     = "10.0.0.0/24"
}

# One variable per site, set by sites/<site>.hcl: its network, how many edge machines it
# has (numbered from 1, addresses from .11) and its availability zone.
variable "site_ams" {
  type = object({ cidr = string, edges = number, zone = string })
}

variable "site_fra" {
  type = object({ cidr = string, edges = number, zone = string })
}

variable "site_nyc" {
  type = object({ cidr = string, edges = number, zone = string })
}
