# examples/fleet expanded by hand (go test ./cmd/latticepush -run TestFleetRenderMatchesExpanded -update).
lattice "fleet" {
  js_domain = "core"
}

defaults {
  ssh {
    user   = "deploy"
    become = true
  }
  service_manager = "systemd"
  parallelism     = 64
}

role "hub" {
  nats {
    cluster_name     = "core"
    max_file_store   = "500GB"
    max_memory_store = "8GB"
  }
}

role "leaf" {
  nats {
    max_file_store = "10GB"
  }
  rollout {
    batch           = "10%"
    max_unreachable = 3
  }
}

role "wasmcloud" {
  wasmcloud {
    labels = {
      owner = "platform"
      tier  = "edge"
    }
  }
  rollout {
    batch = "10%"
  }
}

host "hub-1" {
  address = "10.0.0.11"
  roles   = ["hub"]
}

host "hub-2" {
  address = "10.0.0.12"
  roles   = ["hub"]
}

host "hub-3" {
  address = "10.0.0.13"
  roles   = ["hub"]
}

host "ams-edge-001" {
  address = "10.1.0.11"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r01"
  }
}

host "ams-edge-002" {
  address = "10.1.0.12"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r01"
  }
}

host "ams-edge-003" {
  address = "10.1.0.13"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r01"
  }
}

host "ams-edge-004" {
  address = "10.1.0.14"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r01"
  }
}

host "ams-edge-005" {
  address = "10.1.0.15"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r01"
  }
}

host "ams-edge-006" {
  address = "10.1.0.16"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r01"
  }
}

host "ams-edge-007" {
  address = "10.1.0.17"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r01"
  }
}

host "ams-edge-008" {
  address = "10.1.0.18"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r01"
  }
}

host "ams-edge-009" {
  address = "10.1.0.19"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r01"
  }
}

host "ams-edge-010" {
  address = "10.1.0.20"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r01"
  }
}

host "ams-edge-011" {
  address = "10.1.0.21"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r01"
  }
}

host "ams-edge-012" {
  address = "10.1.0.22"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r01"
  }
}

host "ams-edge-013" {
  address = "10.1.0.23"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r01"
  }
}

host "ams-edge-014" {
  address = "10.1.0.24"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r01"
  }
}

host "ams-edge-015" {
  address = "10.1.0.25"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r01"
  }
}

host "ams-edge-016" {
  address = "10.1.0.26"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r01"
  }
}

host "ams-edge-017" {
  address = "10.1.0.27"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r01"
  }
}

host "ams-edge-018" {
  address = "10.1.0.28"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r01"
  }
}

host "ams-edge-019" {
  address = "10.1.0.29"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r01"
  }
}

host "ams-edge-020" {
  address = "10.1.0.30"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r01"
  }
}

host "ams-edge-021" {
  address = "10.1.0.31"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r02"
  }
}

host "ams-edge-022" {
  address = "10.1.0.32"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r02"
  }
}

host "ams-edge-023" {
  address = "10.1.0.33"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r02"
  }
}

host "ams-edge-024" {
  address = "10.1.0.34"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r02"
  }
}

host "ams-edge-025" {
  address = "10.1.0.35"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r02"
  }
}

host "ams-edge-026" {
  address = "10.1.0.36"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r02"
  }
}

host "ams-edge-027" {
  address = "10.1.0.37"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r02"
  }
}

host "ams-edge-028" {
  address = "10.1.0.38"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r02"
  }
}

host "ams-edge-029" {
  address = "10.1.0.39"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r02"
  }
}

host "ams-edge-030" {
  address = "10.1.0.40"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r02"
  }
}

host "ams-edge-031" {
  address = "10.1.0.41"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r02"
  }
}

host "ams-edge-032" {
  address = "10.1.0.42"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r02"
  }
}

host "ams-edge-033" {
  address = "10.1.0.43"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r02"
  }
}

host "ams-edge-034" {
  address = "10.1.0.44"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r02"
  }
}

host "ams-edge-035" {
  address = "10.1.0.45"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r02"
  }
}

host "ams-edge-036" {
  address = "10.1.0.46"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r02"
  }
}

host "ams-edge-037" {
  address = "10.1.0.47"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r02"
  }
}

host "ams-edge-038" {
  address = "10.1.0.48"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r02"
  }
}

host "ams-edge-039" {
  address = "10.1.0.49"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r02"
  }
}

host "ams-edge-040" {
  address = "10.1.0.50"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r02"
  }
}

host "ams-edge-041" {
  address = "10.1.0.51"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r03"
  }
}

host "ams-edge-042" {
  address = "10.1.0.52"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r03"
  }
}

host "ams-edge-043" {
  address = "10.1.0.53"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r03"
  }
}

host "ams-edge-044" {
  address = "10.1.0.54"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r03"
  }
}

host "ams-edge-045" {
  address = "10.1.0.55"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r03"
  }
}

host "ams-edge-046" {
  address = "10.1.0.56"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r03"
  }
}

host "ams-edge-047" {
  address = "10.1.0.57"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r03"
  }
}

host "ams-edge-048" {
  address = "10.1.0.58"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r03"
  }
}

host "ams-edge-049" {
  address = "10.1.0.59"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r03"
  }
}

host "ams-edge-050" {
  address = "10.1.0.60"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r03"
  }
}

host "ams-edge-051" {
  address = "10.1.0.61"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r03"
  }
}

host "ams-edge-052" {
  address = "10.1.0.62"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r03"
  }
}

host "ams-edge-053" {
  address = "10.1.0.63"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r03"
  }
}

host "ams-edge-054" {
  address = "10.1.0.64"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r03"
  }
}

host "ams-edge-055" {
  address = "10.1.0.65"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r03"
  }
}

host "ams-edge-056" {
  address = "10.1.0.66"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r03"
  }
}

host "ams-edge-057" {
  address = "10.1.0.67"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r03"
  }
}

host "ams-edge-058" {
  address = "10.1.0.68"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r03"
  }
}

host "ams-edge-059" {
  address = "10.1.0.69"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r03"
  }
}

host "ams-edge-060" {
  address = "10.1.0.70"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r03"
  }
}

host "ams-edge-061" {
  address = "10.1.0.71"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r04"
  }
}

host "ams-edge-062" {
  address = "10.1.0.72"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r04"
  }
}

host "ams-edge-063" {
  address = "10.1.0.73"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r04"
  }
}

host "ams-edge-064" {
  address = "10.1.0.74"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r04"
  }
}

host "ams-edge-065" {
  address = "10.1.0.75"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r04"
  }
}

host "ams-edge-066" {
  address = "10.1.0.76"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r04"
  }
}

host "ams-edge-067" {
  address = "10.1.0.77"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r04"
  }
}

host "ams-edge-068" {
  address = "10.1.0.78"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r04"
  }
}

host "ams-edge-069" {
  address = "10.1.0.79"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r04"
  }
}

host "ams-edge-070" {
  address = "10.1.0.80"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r04"
  }
}

host "ams-edge-071" {
  address = "10.1.0.81"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r04"
  }
}

host "ams-edge-072" {
  address = "10.1.0.82"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r04"
  }
}

host "ams-edge-073" {
  address = "10.1.0.83"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r04"
  }
}

host "ams-edge-074" {
  address = "10.1.0.84"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r04"
  }
}

host "ams-edge-075" {
  address = "10.1.0.85"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r04"
  }
}

host "ams-edge-076" {
  address = "10.1.0.86"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r04"
  }
}

host "ams-edge-077" {
  address = "10.1.0.87"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r04"
  }
}

host "ams-edge-078" {
  address = "10.1.0.88"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r04"
  }
}

host "ams-edge-079" {
  address = "10.1.0.89"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r04"
  }
}

host "ams-edge-080" {
  address = "10.1.0.90"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r04"
  }
}

host "ams-edge-081" {
  address = "10.1.0.91"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r05"
  }
}

host "ams-edge-082" {
  address = "10.1.0.92"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r05"
  }
}

host "ams-edge-083" {
  address = "10.1.0.93"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r05"
  }
}

host "ams-edge-084" {
  address = "10.1.0.94"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r05"
  }
}

host "ams-edge-085" {
  address = "10.1.0.95"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r05"
  }
}

host "ams-edge-086" {
  address = "10.1.0.96"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r05"
  }
}

host "ams-edge-087" {
  address = "10.1.0.97"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r05"
  }
}

host "ams-edge-088" {
  address = "10.1.0.98"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r05"
  }
}

host "ams-edge-089" {
  address = "10.1.0.99"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r05"
  }
}

host "ams-edge-090" {
  address = "10.1.0.100"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r05"
  }
}

host "ams-edge-091" {
  address = "10.1.0.101"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r05"
  }
}

host "ams-edge-092" {
  address = "10.1.0.102"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r05"
  }
}

host "ams-edge-093" {
  address = "10.1.0.103"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r05"
  }
}

host "ams-edge-094" {
  address = "10.1.0.104"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r05"
  }
}

host "ams-edge-095" {
  address = "10.1.0.105"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r05"
  }
}

host "ams-edge-096" {
  address = "10.1.0.106"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r05"
  }
}

host "ams-edge-097" {
  address = "10.1.0.107"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r05"
  }
}

host "ams-edge-098" {
  address = "10.1.0.108"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r05"
  }
}

host "ams-edge-099" {
  address = "10.1.0.109"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r05"
  }
}

host "ams-edge-100" {
  address = "10.1.0.110"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "ams"
    zone = "eu-west"
    rack = "r05"
  }
}

host "fra-edge-001" {
  address = "10.2.0.11"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r01"
  }
}

host "fra-edge-002" {
  address = "10.2.0.12"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r01"
  }
}

host "fra-edge-003" {
  address = "10.2.0.13"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r01"
  }
}

host "fra-edge-004" {
  address = "10.2.0.14"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r01"
  }
}

host "fra-edge-005" {
  address = "10.2.0.15"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r01"
  }
}

host "fra-edge-006" {
  address = "10.2.0.16"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r01"
  }
}

host "fra-edge-007" {
  address = "10.2.0.17"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r01"
  }
}

host "fra-edge-008" {
  address = "10.2.0.18"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r01"
  }
}

host "fra-edge-009" {
  address = "10.2.0.19"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r01"
  }
}

host "fra-edge-010" {
  address = "10.2.0.20"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r01"
  }
}

host "fra-edge-011" {
  address = "10.2.0.21"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r01"
  }
}

host "fra-edge-012" {
  address = "10.2.0.22"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r01"
  }
}

host "fra-edge-013" {
  address = "10.2.0.23"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r01"
  }
}

host "fra-edge-014" {
  address = "10.2.0.24"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r01"
  }
}

host "fra-edge-015" {
  address = "10.2.0.25"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r01"
  }
}

host "fra-edge-016" {
  address = "10.2.0.26"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r01"
  }
}

host "fra-edge-017" {
  address = "10.2.0.27"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r01"
  }
}

host "fra-edge-018" {
  address = "10.2.0.28"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r01"
  }
}

host "fra-edge-019" {
  address = "10.2.0.29"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r01"
  }
}

host "fra-edge-020" {
  address = "10.2.0.30"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r01"
  }
}

host "fra-edge-021" {
  address = "10.2.0.31"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r02"
  }
}

host "fra-edge-022" {
  address = "10.2.0.32"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r02"
  }
}

host "fra-edge-023" {
  address = "10.2.0.33"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r02"
  }
}

host "fra-edge-024" {
  address = "10.2.0.34"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r02"
  }
}

host "fra-edge-025" {
  address = "10.2.0.35"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r02"
  }
}

host "fra-edge-026" {
  address = "10.2.0.36"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r02"
  }
}

host "fra-edge-027" {
  address = "10.2.0.37"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r02"
  }
}

host "fra-edge-028" {
  address = "10.2.0.38"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r02"
  }
}

host "fra-edge-029" {
  address = "10.2.0.39"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r02"
  }
}

host "fra-edge-030" {
  address = "10.2.0.40"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r02"
  }
}

host "fra-edge-031" {
  address = "10.2.0.41"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r02"
  }
}

host "fra-edge-032" {
  address = "10.2.0.42"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r02"
  }
}

host "fra-edge-033" {
  address = "10.2.0.43"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r02"
  }
}

host "fra-edge-034" {
  address = "10.2.0.44"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r02"
  }
}

host "fra-edge-035" {
  address = "10.2.0.45"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r02"
  }
}

host "fra-edge-036" {
  address = "10.2.0.46"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r02"
  }
}

host "fra-edge-037" {
  address = "10.2.0.47"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r02"
  }
}

host "fra-edge-038" {
  address = "10.2.0.48"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r02"
  }
}

host "fra-edge-039" {
  address = "10.2.0.49"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r02"
  }
}

host "fra-edge-040" {
  address = "10.2.0.50"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r02"
  }
}

host "fra-edge-041" {
  address = "10.2.0.51"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r03"
  }
}

host "fra-edge-042" {
  address = "10.2.0.52"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r03"
  }
}

host "fra-edge-043" {
  address = "10.2.0.53"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r03"
  }
}

host "fra-edge-044" {
  address = "10.2.0.54"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r03"
  }
}

host "fra-edge-045" {
  address = "10.2.0.55"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r03"
  }
}

host "fra-edge-046" {
  address = "10.2.0.56"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r03"
  }
}

host "fra-edge-047" {
  address = "10.2.0.57"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r03"
  }
}

host "fra-edge-048" {
  address = "10.2.0.58"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r03"
  }
}

host "fra-edge-049" {
  address = "10.2.0.59"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r03"
  }
}

host "fra-edge-050" {
  address = "10.2.0.60"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r03"
  }
}

host "fra-edge-051" {
  address = "10.2.0.61"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r03"
  }
}

host "fra-edge-052" {
  address = "10.2.0.62"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r03"
  }
}

host "fra-edge-053" {
  address = "10.2.0.63"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r03"
  }
}

host "fra-edge-054" {
  address = "10.2.0.64"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r03"
  }
}

host "fra-edge-055" {
  address = "10.2.0.65"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r03"
  }
}

host "fra-edge-056" {
  address = "10.2.0.66"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r03"
  }
}

host "fra-edge-057" {
  address = "10.2.0.67"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r03"
  }
}

host "fra-edge-058" {
  address = "10.2.0.68"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r03"
  }
}

host "fra-edge-059" {
  address = "10.2.0.69"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r03"
  }
}

host "fra-edge-060" {
  address = "10.2.0.70"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r03"
  }
}

host "fra-edge-061" {
  address = "10.2.0.71"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r04"
  }
}

host "fra-edge-062" {
  address = "10.2.0.72"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r04"
  }
}

host "fra-edge-063" {
  address = "10.2.0.73"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r04"
  }
}

host "fra-edge-064" {
  address = "10.2.0.74"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r04"
  }
}

host "fra-edge-065" {
  address = "10.2.0.75"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r04"
  }
}

host "fra-edge-066" {
  address = "10.2.0.76"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r04"
  }
}

host "fra-edge-067" {
  address = "10.2.0.77"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r04"
  }
}

host "fra-edge-068" {
  address = "10.2.0.78"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r04"
  }
}

host "fra-edge-069" {
  address = "10.2.0.79"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r04"
  }
}

host "fra-edge-070" {
  address = "10.2.0.80"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r04"
  }
}

host "fra-edge-071" {
  address = "10.2.0.81"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r04"
  }
}

host "fra-edge-072" {
  address = "10.2.0.82"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r04"
  }
}

host "fra-edge-073" {
  address = "10.2.0.83"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r04"
  }
}

host "fra-edge-074" {
  address = "10.2.0.84"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r04"
  }
}

host "fra-edge-075" {
  address = "10.2.0.85"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r04"
  }
}

host "fra-edge-076" {
  address = "10.2.0.86"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r04"
  }
}

host "fra-edge-077" {
  address = "10.2.0.87"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r04"
  }
}

host "fra-edge-078" {
  address = "10.2.0.88"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r04"
  }
}

host "fra-edge-079" {
  address = "10.2.0.89"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r04"
  }
}

host "fra-edge-080" {
  address = "10.2.0.90"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r04"
  }
}

host "fra-edge-081" {
  address = "10.2.0.91"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r05"
  }
}

host "fra-edge-082" {
  address = "10.2.0.92"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r05"
  }
}

host "fra-edge-083" {
  address = "10.2.0.93"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r05"
  }
}

host "fra-edge-084" {
  address = "10.2.0.94"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r05"
  }
}

host "fra-edge-085" {
  address = "10.2.0.95"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r05"
  }
}

host "fra-edge-086" {
  address = "10.2.0.96"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r05"
  }
}

host "fra-edge-087" {
  address = "10.2.0.97"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r05"
  }
}

host "fra-edge-088" {
  address = "10.2.0.98"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r05"
  }
}

host "fra-edge-089" {
  address = "10.2.0.99"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r05"
  }
}

host "fra-edge-090" {
  address = "10.2.0.100"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r05"
  }
}

host "fra-edge-091" {
  address = "10.2.0.101"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r05"
  }
}

host "fra-edge-092" {
  address = "10.2.0.102"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r05"
  }
}

host "fra-edge-093" {
  address = "10.2.0.103"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r05"
  }
}

host "fra-edge-094" {
  address = "10.2.0.104"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r05"
  }
}

host "fra-edge-095" {
  address = "10.2.0.105"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r05"
  }
}

host "fra-edge-096" {
  address = "10.2.0.106"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r05"
  }
}

host "fra-edge-097" {
  address = "10.2.0.107"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r05"
  }
}

host "fra-edge-098" {
  address = "10.2.0.108"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r05"
  }
}

host "fra-edge-099" {
  address = "10.2.0.109"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r05"
  }
}

host "fra-edge-100" {
  address = "10.2.0.110"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "fra"
    zone = "eu-central"
    rack = "r05"
  }
}

host "nyc-edge-001" {
  address = "10.3.0.11"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r01"
  }
}

host "nyc-edge-002" {
  address = "10.3.0.12"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r01"
  }
}

host "nyc-edge-003" {
  address = "10.3.0.13"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r01"
  }
}

host "nyc-edge-004" {
  address = "10.3.0.14"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r01"
  }
}

host "nyc-edge-005" {
  address = "10.3.0.15"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r01"
  }
}

host "nyc-edge-006" {
  address = "10.3.0.16"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r01"
  }
}

host "nyc-edge-007" {
  address = "10.3.0.17"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r01"
  }
}

host "nyc-edge-008" {
  address = "10.3.0.18"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r01"
  }
}

host "nyc-edge-009" {
  address = "10.3.0.19"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r01"
  }
}

host "nyc-edge-010" {
  address = "10.3.0.20"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r01"
  }
}

host "nyc-edge-011" {
  address = "10.3.0.21"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r01"
  }
}

host "nyc-edge-012" {
  address = "10.3.0.22"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r01"
  }
}

host "nyc-edge-013" {
  address = "10.3.0.23"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r01"
  }
}

host "nyc-edge-014" {
  address = "10.3.0.24"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r01"
  }
}

host "nyc-edge-015" {
  address = "10.3.0.25"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r01"
  }
}

host "nyc-edge-016" {
  address = "10.3.0.26"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r01"
  }
}

host "nyc-edge-017" {
  address = "10.3.0.27"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r01"
  }
}

host "nyc-edge-018" {
  address = "10.3.0.28"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r01"
  }
}

host "nyc-edge-019" {
  address = "10.3.0.29"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r01"
  }
}

host "nyc-edge-020" {
  address = "10.3.0.30"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r01"
  }
}

host "nyc-edge-021" {
  address = "10.3.0.31"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r02"
  }
}

host "nyc-edge-022" {
  address = "10.3.0.32"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r02"
  }
}

host "nyc-edge-023" {
  address = "10.3.0.33"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r02"
  }
}

host "nyc-edge-024" {
  address = "10.3.0.34"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r02"
  }
}

host "nyc-edge-025" {
  address = "10.3.0.35"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r02"
  }
}

host "nyc-edge-026" {
  address = "10.3.0.36"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r02"
  }
}

host "nyc-edge-027" {
  address = "10.3.0.37"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r02"
  }
}

host "nyc-edge-028" {
  address = "10.3.0.38"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r02"
  }
}

host "nyc-edge-029" {
  address = "10.3.0.39"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r02"
  }
}

host "nyc-edge-030" {
  address = "10.3.0.40"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r02"
  }
}

host "nyc-edge-031" {
  address = "10.3.0.41"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r02"
  }
}

host "nyc-edge-032" {
  address = "10.3.0.42"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r02"
  }
}

host "nyc-edge-033" {
  address = "10.3.0.43"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r02"
  }
}

host "nyc-edge-034" {
  address = "10.3.0.44"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r02"
  }
}

host "nyc-edge-035" {
  address = "10.3.0.45"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r02"
  }
}

host "nyc-edge-036" {
  address = "10.3.0.46"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r02"
  }
}

host "nyc-edge-037" {
  address = "10.3.0.47"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r02"
  }
}

host "nyc-edge-038" {
  address = "10.3.0.48"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r02"
  }
}

host "nyc-edge-039" {
  address = "10.3.0.49"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r02"
  }
}

host "nyc-edge-040" {
  address = "10.3.0.50"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r02"
  }
}

host "nyc-edge-041" {
  address = "10.3.0.51"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r03"
  }
}

host "nyc-edge-042" {
  address = "10.3.0.52"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r03"
  }
}

host "nyc-edge-043" {
  address = "10.3.0.53"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r03"
  }
}

host "nyc-edge-044" {
  address = "10.3.0.54"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r03"
  }
}

host "nyc-edge-045" {
  address = "10.3.0.55"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r03"
  }
}

host "nyc-edge-046" {
  address = "10.3.0.56"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r03"
  }
}

host "nyc-edge-047" {
  address = "10.3.0.57"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r03"
  }
}

host "nyc-edge-048" {
  address = "10.3.0.58"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r03"
  }
}

host "nyc-edge-049" {
  address = "10.3.0.59"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r03"
  }
}

host "nyc-edge-050" {
  address = "10.3.0.60"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r03"
  }
}

host "nyc-edge-051" {
  address = "10.3.0.61"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r03"
  }
}

host "nyc-edge-052" {
  address = "10.3.0.62"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r03"
  }
}

host "nyc-edge-053" {
  address = "10.3.0.63"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r03"
  }
}

host "nyc-edge-054" {
  address = "10.3.0.64"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r03"
  }
}

host "nyc-edge-055" {
  address = "10.3.0.65"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r03"
  }
}

host "nyc-edge-056" {
  address = "10.3.0.66"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r03"
  }
}

host "nyc-edge-057" {
  address = "10.3.0.67"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r03"
  }
}

host "nyc-edge-058" {
  address = "10.3.0.68"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r03"
  }
}

host "nyc-edge-059" {
  address = "10.3.0.69"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r03"
  }
}

host "nyc-edge-060" {
  address = "10.3.0.70"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r03"
  }
}

host "nyc-edge-061" {
  address = "10.3.0.71"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r04"
  }
}

host "nyc-edge-062" {
  address = "10.3.0.72"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r04"
  }
}

host "nyc-edge-063" {
  address = "10.3.0.73"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r04"
  }
}

host "nyc-edge-064" {
  address = "10.3.0.74"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r04"
  }
}

host "nyc-edge-065" {
  address = "10.3.0.75"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r04"
  }
}

host "nyc-edge-066" {
  address = "10.3.0.76"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r04"
  }
}

host "nyc-edge-067" {
  address = "10.3.0.77"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r04"
  }
}

host "nyc-edge-068" {
  address = "10.3.0.78"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r04"
  }
}

host "nyc-edge-069" {
  address = "10.3.0.79"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r04"
  }
}

host "nyc-edge-070" {
  address = "10.3.0.80"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r04"
  }
}

host "nyc-edge-071" {
  address = "10.3.0.81"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r04"
  }
}

host "nyc-edge-072" {
  address = "10.3.0.82"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r04"
  }
}

host "nyc-edge-073" {
  address = "10.3.0.83"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r04"
  }
}

host "nyc-edge-074" {
  address = "10.3.0.84"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r04"
  }
}

host "nyc-edge-075" {
  address = "10.3.0.85"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r04"
  }
}

host "nyc-edge-076" {
  address = "10.3.0.86"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r04"
  }
}

host "nyc-edge-077" {
  address = "10.3.0.87"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r04"
  }
}

host "nyc-edge-078" {
  address = "10.3.0.88"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r04"
  }
}

host "nyc-edge-079" {
  address = "10.3.0.89"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r04"
  }
}

host "nyc-edge-080" {
  address = "10.3.0.90"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r04"
  }
}

host "nyc-edge-081" {
  address = "10.3.0.91"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r05"
  }
}

host "nyc-edge-082" {
  address = "10.3.0.92"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r05"
  }
}

host "nyc-edge-083" {
  address = "10.3.0.93"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r05"
  }
}

host "nyc-edge-084" {
  address = "10.3.0.94"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r05"
  }
}

host "nyc-edge-085" {
  address = "10.3.0.95"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r05"
  }
}

host "nyc-edge-086" {
  address = "10.3.0.96"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r05"
  }
}

host "nyc-edge-087" {
  address = "10.3.0.97"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r05"
  }
}

host "nyc-edge-088" {
  address = "10.3.0.98"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r05"
  }
}

host "nyc-edge-089" {
  address = "10.3.0.99"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r05"
  }
}

host "nyc-edge-090" {
  address = "10.3.0.100"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r05"
  }
}

host "nyc-edge-091" {
  address = "10.3.0.101"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r05"
  }
}

host "nyc-edge-092" {
  address = "10.3.0.102"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r05"
  }
}

host "nyc-edge-093" {
  address = "10.3.0.103"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r05"
  }
}

host "nyc-edge-094" {
  address = "10.3.0.104"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r05"
  }
}

host "nyc-edge-095" {
  address = "10.3.0.105"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r05"
  }
}

host "nyc-edge-096" {
  address = "10.3.0.106"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r05"
  }
}

host "nyc-edge-097" {
  address = "10.3.0.107"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r05"
  }
}

host "nyc-edge-098" {
  address = "10.3.0.108"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r05"
  }
}

host "nyc-edge-099" {
  address = "10.3.0.109"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r05"
  }
}

host "nyc-edge-100" {
  address = "10.3.0.110"
  roles   = ["leaf", "wasmcloud"]
  labels = {
    site = "nyc"
    zone = "us-east"
    rack = "r05"
  }
}
