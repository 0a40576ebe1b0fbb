# The example's wiring, planned and applied against mocked AWS providers: no account and no
# network, but the real provider schema (so `terraform init` needs the hashicorp/aws
# provider; terraform/checks/aws.sh runs this file only where a local copy of it exists)
# and the real node-config module. It holds the graph to having no cycle, the Route 53
# record sets to one NS set per zone and one glue set per name server, and every output to
# one entry per node.

mock_provider "aws" {
  alias = "us_east_1"
}

mock_provider "aws" {
  alias = "eu_west_1"
}

mock_provider "aws" {
  alias = "ap_southeast_1"
}

# Mocked Elastic IPs get addresses from the documentation ranges (a mock's random string
# is no address), one per region: the applied runs keep one node per region.
override_resource {
  target = module.us_east.aws_eip.node
  values = { public_ip = "192.0.2.10" }
}

override_resource {
  target = module.eu_west.aws_eip.node
  values = { public_ip = "198.51.100.10" }
}

override_resource {
  target = module.ap_southeast.aws_eip.node
  values = { public_ip = "203.0.113.10" }
}

variables {
  zone_apex   = "gtm.example.com"
  package_url = "https://downloads.example.com/meridian_0.1.0_amd64.deb"
  admin_token = "test-admin-token-0123456789"
  cookie_key  = "test-cookie-key-0123456789abcdef0123"
  admin_cidrs = ["203.0.113.7/32", "2001:db8::/48"]
}

run "plans_without_a_parent_zone" {
  command = plan

  assert {
    condition     = length(aws_route53_record.delegation_ns) == 0 && length(aws_route53_record.glue_a) == 0 && length(aws_route53_record.glue_aaaa) == 0
    error_message = "Without parent_zone_id no Route 53 record is made."
  }

  assert {
    condition     = length(module.us_east.instance_ids) == 1 && length(module.eu_west.instance_ids) == 1 && length(module.ap_southeast.instance_ids) == 1
    error_message = "One node per region by default."
  }
}

# With more nodes the addresses are unknown at plan time: the record sets must still be
# keyed by names alone.
run "plans_more_nodes_and_the_delegation" {
  command = plan

  variables {
    parent_zone_id   = "Z0123456789EXAMPLE"
    nodes_per_region = { "eu-west" = 2 }
  }

  assert {
    condition     = length(aws_route53_record.delegation_ns) == 1 && length(aws_route53_record.delegation_ns[0].records) == 4
    error_message = "One NS record set at the apex, listing all four name servers."
  }

  assert {
    condition     = length(aws_route53_record.glue_a) == 4
    error_message = "One A glue record set per name server."
  }

  assert {
    condition     = toset(keys(module.eu_west.instance_ids)) == toset(["eu-west-n1", "eu-west-n2"])
    error_message = "eu-west has nodes eu-west-n1 and eu-west-n2."
  }
}

run "applies_with_mocks" {
  variables {
    parent_zone_id = "Z0123456789EXAMPLE"
  }

  assert {
    condition     = output.nodes["eu-west-n1"].ipv4 == "198.51.100.10" && output.nodes["eu-west-n1"].region == "eu-west"
    error_message = "The nodes output carries each node's Elastic IP and region."
  }

  assert {
    condition     = toset(aws_route53_record.delegation_ns[0].records) == toset([for record in output.delegation_records : record.value if record.type == "NS"])
    error_message = "The NS record set holds exactly node-config's NS records."
  }

  assert {
    condition     = length(split("\n", output.delegation_zone_file)) == length(output.delegation_records)
    error_message = "One zone-file line per delegation record."
  }

  assert {
    condition     = output.dashboard_tunnels["us-east-n1"] == "ssh -N -L 8053:192.0.2.10:8053 admin@192.0.2.10"
    error_message = "The tunnel reaches the node's status port through SSH to its Elastic IP."
  }

  assert {
    condition     = toset(keys(module.us_east.eips)) == toset(["us-east-n1"]) && module.us_east.eips["us-east-n1"] == "192.0.2.10"
    error_message = "The region module reports its Elastic IPs by node name."
  }
}
