# Imported by `latticepush import ansible` from the Ansible inventory testdata/ini/hosts.ini.
#
# Before plan and apply:
#   - check the lattice name and js_domain below (--lattice, --js-domain);
#   - run `latticepush secrets` on this file: it writes the passwords, wasmCloud host seeds
#     and the fleet CA (every link is TLS) to secrets.json next to it (mode 0600; keep it out of
#     version control);
#   - size the hubs' JetStream limits in role "hub" (written as 10GB on disk, 1GB in memory);
#   - add role settings for NATS and wasmCloud as needed (binaries, labels, rollout), and
#     service_manager in defaults if the hosts do not run systemd.
#
# Not carried over from the Ansible inventory:
#   - testdata/ini/group_vars/edge/site.yaml:1: site_labels: not carried over: latticepush has no free-form variables
#   - testdata/ini/group_vars/nats_hubs.yml:3: nats_cluster: not carried over: latticepush has no free-form variables
#   - testdata/ini/host_vars/retired-box.yml: no host "retired-box" in the inventory: not read
#   - testdata/ini/hosts.ini:5: group "ams" is mapped to no role, and latticepush has no groups: its hosts have roles through other groups
#   - testdata/ini/hosts.ini:10: group "fra" is mapped to no role, and latticepush has no groups: its hosts have roles through other groups
#   - testdata/ini/hosts.ini:20: [edge:vars]: ntp_server: not carried over: latticepush has no free-form variables
#   - testdata/ini/hosts.ini:22: group "monitoring" is mapped to no role, and latticepush has no groups: 1 host of it not imported, for want of a role (--role ROLE=monitoring maps the group)
#   - testdata/ini/hosts.ini:23: host grafana: in no group mapped to a role: not imported (add --role ROLE=GROUP for one of its groups)
#   - testdata/ini/hosts.ini:28: [all:vars]: ansible_python_interpreter: not carried over: no latticepush equivalent
#   - testdata/ini/hosts.ini:29: [all:vars]: ansible_ssh_common_args: not carried over: -o ForwardAgent (latticepush takes known_hosts, strict_host_key_checking and proxy_jump from these)

lattice "default" {
  js_domain = "hub"
  tls {
    ca = "managed"
  }
}

defaults {
  ssh {
    identity_file = "~/.ssh/fleet_ed25519"
    known_hosts   = "/etc/fleet/known_hosts"
  }
}

role "hub" {
  nats {
    max_file_store   = "10GB"
    max_memory_store = "1GB"
  }
}

hosts "nats_hubs" {
  for_each = setsubtract([for i in range(1, 4) : format("hub-%d.example.net", i)], ["hub-1.example.net"])
  address  = each.key
  roles    = ["hub"]
  ssh {
    user = "deploy"
    port = 2202
  }
}

host "hub-1.example.net" {
  address = "10.0.0.11"
  roles   = ["hub"]
  ssh {
    user = "deploy"
    port = 2202
  }
}

hosts "ams" {
  for_each = setsubtract([for i in range(1, 101) : format("ams-edge-%03d", i)], ["ams-edge-007"])
  address  = each.key
  roles    = ["leaf", "wasmcloud"]
  ssh {
    user                     = "edge-ops"
    strict_host_key_checking = "accept-new"
    become                   = true
  }
}

host "ams-edge-007" {
  address = "10.1.0.250"
  roles   = ["leaf", "wasmcloud"]
  ssh {
    user                     = "edge-ops"
    strict_host_key_checking = "accept-new"
    become                   = true
  }
}

host "ams-edge-101" {
  address = "10.1.0.101"
  roles   = ["leaf", "wasmcloud"]
  ssh {
    user                     = "edge-ops"
    port                     = 2222
    strict_host_key_checking = "accept-new"
    become                   = true
  }
}

hosts "fra" {
  for_each = [for i in range(1, 41, 2) : format("fra-edge-%02d", i)]
  address  = each.key
  roles    = ["leaf", "wasmcloud"]
  ssh {
    user                     = "fra-ops"
    strict_host_key_checking = "accept-new"
    become                   = true
  }
}

hosts "fra-2" {
  for_each = [for i in ["a", "b", "c"] : format("fra-edge-%s", i)]
  address  = each.key
  roles    = ["leaf", "wasmcloud"]
  ssh {
    user                     = "edge-ops"
    strict_host_key_checking = "accept-new"
    become                   = true
  }
}
