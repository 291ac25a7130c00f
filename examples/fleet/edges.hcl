locals {
  sites = {
    ams = var.site_ams
    fra = var.site_fra
    nyc = var.site_nyc
  }
  # Every edge machine, by host name: "ams-edge-001" = { site, zone, address, rack }.
  # Racks hold 20 machines each.
  edges = merge([
    for site, s in local.sites : {
      for i in range(1, s.edges + 1) : format("%s-edge-%03d", site, i) => {
        site    = site
        zone    = s.zone
        address = cidrhost(s.cidr, 10 + i)
        rack    = format("r%02d", ceil(i / 20))
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
    zone = each.value.zone
    rack = each.value.rack
  }
}
