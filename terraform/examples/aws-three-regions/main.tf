# Meridian's demo topology on AWS: us-east in us-east-1, eu-west in eu-west-1 and
# ap-southeast in ap-southeast-1, each with its nodes, Elastic IPs and security group.
#
# The order of things, with no cycle: each region module allocates its Elastic IPs; the
# addresses go into node-config, which renders every node's config and cloud-config;
# the cloud-config goes back into the region modules' instances. Inside Terraform's graph
# the addresses depend on nothing but the node names, and the instances on the config.

locals {
  # Where each region is (degrees), as in regions/*.toml: the distance from a client's
  # location to these points picks its region.
  locations = {
    "us-east"      = { latitude = 39.04, longitude = -77.49 }
    "eu-west"      = { latitude = 53.35, longitude = -6.26 }
    "ap-southeast" = { latitude = 1.29, longitude = 103.85 }
  }

  # us-east-n1, us-east-n2, ...: node names are unique across regions and never look like
  # an AWS region's name.
  node_names = {
    for region in keys(local.locations) :
    region => [for index in range(lookup(var.nodes_per_region, region, 1)) : "${region}-n${index + 1}"]
  }

  eips = merge(module.us_east.eips, module.eu_west.eips, module.ap_southeast.eips)
}

module "config" {
  source = "../../modules/node-config"

  zone_apex = var.zone_apex
  regions = {
    for region, location in local.locations : region => {
      latitude  = location.latitude
      longitude = location.longitude
      nodes     = [for name in local.node_names[region] : { name = name, ipv4 = local.eips[name] }]
      backends  = lookup(var.backends, region, [])
    }
  }
  services          = var.services
  ports             = var.ports
  admin_token       = var.admin_token
  cookie_key        = var.cookie_key
  package_url       = var.package_url
  geoip_account_id  = var.geoip_account_id
  geoip_license_key = var.geoip_license_key
}

module "us_east" {
  source    = "../../modules/aws-region"
  providers = { aws = aws.us_east_1 }

  region_name      = "us-east"
  node_names       = local.node_names["us-east"]
  user_data        = module.config.cloud_init
  peer_addresses   = merge(module.eu_west.eips, module.ap_southeast.eips)
  admin_cidrs      = var.admin_cidrs
  key_name         = var.key_name
  instance_profile = var.instance_profile
  instance_type    = var.instance_type
  ports            = var.ports
}

module "eu_west" {
  source    = "../../modules/aws-region"
  providers = { aws = aws.eu_west_1 }

  region_name      = "eu-west"
  node_names       = local.node_names["eu-west"]
  user_data        = module.config.cloud_init
  peer_addresses   = merge(module.us_east.eips, module.ap_southeast.eips)
  admin_cidrs      = var.admin_cidrs
  key_name         = var.key_name
  instance_profile = var.instance_profile
  instance_type    = var.instance_type
  ports            = var.ports
}

module "ap_southeast" {
  source    = "../../modules/aws-region"
  providers = { aws = aws.ap_southeast_1 }

  region_name      = "ap-southeast"
  node_names       = local.node_names["ap-southeast"]
  user_data        = module.config.cloud_init
  peer_addresses   = merge(module.us_east.eips, module.eu_west.eips)
  admin_cidrs      = var.admin_cidrs
  key_name         = var.key_name
  instance_profile = var.instance_profile
  instance_type    = var.instance_type
  ports            = var.ports
}
