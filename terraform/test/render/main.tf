# The test topology: the demo's three regions (meridian.toml and regions/ at the repository
# root), one node each on loopback, rendered by the node-config module. terraform/test.sh
# applies it in a scratch copy (outputs only: there is no resource) and compares the result
# with terraform/test/golden/, where the binary checks read it.
terraform {
  required_version = ">= 1.6"
}

variable "geo_database" {
  description = "The geo database as the rendered meridian.toml names it: relative to terraform/test/golden/, the repository's embedded database."
  type        = string
  default     = "../../../geo-data/dbip-city-lite-coarse.mmdb"
}

locals {
  # Ports no other test uses, so this runs beside tests/e2e.sh and the demo; and below
  # Linux's ephemeral range (32768-60999), where any client socket of the machine may hold
  # one for a moment (a CI run once found 35353 taken when a node started).
  ports = { dns = 26353, http = 26080, status = 26053 }
  # Each node on its region's loopback address, as in the demo.
  octets = { "us-east-1" = 1, "eu-west-1" = 2, "ap-southeast-1" = 3 }
  # The demo's backends, on ports of their own for the same reason; terraform/test.sh
  # serves them.
  backends = {
    for octet, region in { 1 = "us-east", 2 = "eu-west", 3 = "ap-southeast" } : region => [
      for index in range(3) : { id = "${region}-${index}", address = "127.0.${octet}.1:${27000 + index}" }
    ]
  }
}

module "config" {
  source = "../../modules/node-config"

  zone_apex = "gtm.test"
  regions = {
    us-east = {
      latitude  = 39.04
      longitude = -77.49
      nodes     = [{ name = "us-east-1", ipv4 = "127.0.1.1" }]
      backends  = local.backends["us-east"]
      proxy     = { policy = "least-request" }
    }
    eu-west = {
      latitude  = 53.35
      longitude = -6.26
      nodes     = [{ name = "eu-west-1", ipv4 = "127.0.2.1" }]
      backends  = local.backends["eu-west"]
      proxy     = { policy = "least-request" }
    }
    ap-southeast = {
      latitude  = 1.29
      longitude = 103.85
      nodes     = [{ name = "ap-southeast-1", ipv4 = "127.0.3.1" }]
      backends  = local.backends["ap-southeast"]
      proxy     = { sticky = { on_down = "repick" } }
    }
  }
  services = [{ name = "www" }]
  steering = {
    default   = ["us-east", "eu-west", "ap-southeast"]
    country   = { IN = ["ap-southeast", "eu-west"] }
    continent = { SA = ["us-east", "eu-west"] }
  }
  listen_override = { for name, octet in local.octets : name => {
    dns    = ["127.0.${octet}.1:${local.ports.dns}"]
    http   = "127.0.${octet}.1:${local.ports.http}"
    status = "127.0.${octet}.1:${local.ports.status}"
  } }
  geo_database = var.geo_database

  # Test secrets: they only ever guard loopback listeners of a test run.
  admin_token = "test-admin-token-0123456789"
  cookie_key  = "test-cookie-key-0123456789abcdef0123456789"
  package_url = "https://packages.example.com/meridian_0.1.0-1_amd64.deb"
}

output "files" {
  value = module.config.files
}

output "delegation_records" {
  value = module.config.delegation_records
}

output "nodes" {
  value = module.config.nodes
}

# The user data as written and as cloud-init reads it: decoding it here proves it is YAML and
# gives the checks its files without a YAML parser. Sensitive, as the module says; `terraform
# output -json` prints it all the same, and a test topology's secrets are no secret.
output "cloud_init" {
  value     = module.config.cloud_init
  sensitive = true
}

output "cloud_config" {
  value     = { for node, text in module.config.cloud_init : node => yamldecode(text) }
  sensitive = true
}
