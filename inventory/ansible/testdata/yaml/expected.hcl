# Imported by `latticepush import ansible` from the Ansible inventory testdata/yaml/inventory.yml.
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
#   - testdata/yaml/group_vars/all.yml:1: ansible_python_interpreter: not carried over: no latticepush equivalent
#   - testdata/yaml/group_vars/lon/main.yml:1: ansible_user: a Jinja2 template, which latticepush does not evaluate: set the value by hand
#   - testdata/yaml/inventory.yml:21: group "lon" is mapped to no role, and latticepush has no groups: its hosts have roles through other groups
#   - testdata/yaml/inventory.yml:26: group lon vars: ansible_password: a password, not copied: latticepush logs in with keys or the agent and needs passwordless sudo

lattice "default" {
  js_domain = "hub"
  tls {
    ca = "managed"
  }
}

defaults {
  ssh {
    user   = "deploy"
    become = true
  }
}

role "hub" {
  nats {
    max_file_store   = "10GB"
    max_memory_store = "1GB"
  }
}

hosts "hubs" {
  for_each = [for i in range(1, 4) : format("hub-%d", i)]
  address  = each.key
  roles    = ["hub"]
  ssh {
    identity_file = "/etc/fleet/hub_key"
  }
}

hosts "nyc" {
  for_each = setsubtract([for i in range(1, 21) : format("nyc-edge-%02d", i)], ["nyc-edge-03"])
  address  = each.key
  roles    = ["leaf", "wasmcloud"]
  ssh {
    known_hosts = "/etc/fleet/known_hosts"
    proxy_jump  = "jump@198.51.100.1"
  }
}

host "nyc-edge-03" {
  address = "10.3.0.3"
  roles   = ["leaf", "wasmcloud"]
  ssh {
    known_hosts = "/etc/fleet/known_hosts"
    proxy_jump  = "jump@198.51.100.1"
  }
}

host "nyc-edge-21" {
  address = "10.3.0.21"
  roles   = ["leaf", "wasmcloud"]
  ssh {
    known_hosts = "/etc/fleet/known_hosts"
    proxy_jump  = "jump@198.51.100.1"
  }
}

hosts "lon" {
  for_each = flatten([for i in range(1, 3) : [for j in ["a", "b", "c"] : format("lon-rack%d-node%s", i, j)]])
  address  = each.key
  roles    = ["leaf"]
  ssh {
    port        = 2222
    known_hosts = "/etc/fleet/known_hosts"
    proxy_jump  = "jump@198.51.100.1"
  }
}
