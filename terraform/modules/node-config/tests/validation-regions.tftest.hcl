# One run per validation rule of `regions`: each breaks one rule of a valid topology and
# expects exactly that variable to be refused. The first run shows the topology is valid.

variables {
  zone_apex = "gtm.example.com"
  regions = {
    eu-west = {
      latitude  = 53.35
      longitude = -6.26
      nodes     = [{ name = "eu-west-a", ipv4 = "198.51.100.10" }]
      backends  = [{ id = "web-0", address = "10.2.0.10:8080" }]
    }
  }
  services    = [{ name = "www" }]
  admin_token = "admin-0123456789abcdef"
  package_url = "https://downloads.example.com/meridian.deb"
}

run "valid_topology" {
  command = plan
}

run "at_least_one_region" {
  command = plan
  variables { regions = {} }
  expect_failures = [var.regions]
}

run "region_name_shape" {
  command = plan
  variables {
    regions = { EU_West = { latitude = 53.35, longitude = -6.26, nodes = [{ name = "eu-west-a", ipv4 = "198.51.100.10" }] } }
  }
  expect_failures = [var.regions]
}

run "latitude_range" {
  command = plan
  variables {
    regions = { eu-west = { latitude = 91, longitude = -6.26, nodes = [{ name = "eu-west-a", ipv4 = "198.51.100.10" }] } }
  }
  expect_failures = [var.regions]
}

run "longitude_range" {
  command = plan
  variables {
    regions = { eu-west = { latitude = 53.35, longitude = -180.5, nodes = [{ name = "eu-west-a", ipv4 = "198.51.100.10" }] } }
  }
  expect_failures = [var.regions]
}

run "capacity_range" {
  command = plan
  variables {
    regions = { eu-west = { latitude = 53.35, longitude = -6.26, capacity = 0, nodes = [{ name = "eu-west-a", ipv4 = "198.51.100.10" }] } }
  }
  expect_failures = [var.regions]
}

run "at_least_one_node_per_region" {
  command = plan
  variables {
    regions = {
      eu-west = { latitude = 53.35, longitude = -6.26, nodes = [{ name = "eu-west-a", ipv4 = "198.51.100.10" }] }
      us-east = { latitude = 39.04, longitude = -77.49, nodes = [] }
    }
  }
  expect_failures = [var.regions]
}

run "node_name_shape" {
  command = plan
  variables {
    regions = { eu-west = { latitude = 53.35, longitude = -6.26, nodes = [{ name = "eu west a", ipv4 = "198.51.100.10" }] } }
  }
  expect_failures = [var.regions]
}

run "node_names_unique_across_regions" {
  command = plan
  variables {
    regions = {
      eu-west = { latitude = 53.35, longitude = -6.26, nodes = [{ name = "node-a", ipv4 = "198.51.100.10" }] }
      us-east = { latitude = 39.04, longitude = -77.49, nodes = [{ name = "node-a", ipv4 = "192.0.2.10" }] }
    }
  }
  expect_failures = [var.regions]
}

run "ipv4_shape" {
  command = plan
  variables {
    # A leading zero: Terraform's own address functions take it, Rust's Ipv4Addr does not.
    regions = { eu-west = { latitude = 53.35, longitude = -6.26, nodes = [{ name = "eu-west-a", ipv4 = "198.51.100.010" }] } }
  }
  expect_failures = [var.regions]
}

run "ipv6_shape" {
  command = plan
  variables {
    regions = { eu-west = { latitude = 53.35, longitude = -6.26, nodes = [{ name = "eu-west-a", ipv4 = "198.51.100.10", ipv6 = "2001:db8::g" }] } }
  }
  expect_failures = [var.regions]
}

run "node_addresses_unique_across_regions" {
  command = plan
  variables {
    # The same IPv6 address spelled two ways.
    regions = {
      eu-west = { latitude = 53.35, longitude = -6.26, nodes = [{ name = "eu-west-a", ipv4 = "198.51.100.10", ipv6 = "2001:DB8::1" }] }
      us-east = { latitude = 39.04, longitude = -77.49, nodes = [{ name = "us-east-a", ipv4 = "192.0.2.10", ipv6 = "2001:db8:0::1" }] }
    }
  }
  expect_failures = [var.regions]
}

run "backend_id_shape" {
  command = plan
  variables {
    regions = { eu-west = { latitude = 53.35, longitude = -6.26, nodes = [{ name = "eu-west-a", ipv4 = "198.51.100.10" }], backends = [{ id = "web.0", address = "10.2.0.10:8080" }] } }
  }
  expect_failures = [var.regions]
}

run "backend_ids_unique_in_region" {
  command = plan
  variables {
    regions = { eu-west = { latitude = 53.35, longitude = -6.26, nodes = [{ name = "eu-west-a", ipv4 = "198.51.100.10" }], backends = [{ id = "web", address = "10.2.0.10:8080" }, { id = "web", address = "10.2.0.11:8080" }] } }
  }
  expect_failures = [var.regions]
}

run "backend_address_shape" {
  command = plan
  variables {
    regions = { eu-west = { latitude = 53.35, longitude = -6.26, nodes = [{ name = "eu-west-a", ipv4 = "198.51.100.10" }], backends = [{ id = "web-0", address = "10.2.0.10" }] } }
  }
  expect_failures = [var.regions]
}

run "backend_addresses_unique_in_region" {
  command = plan
  variables {
    regions = { eu-west = { latitude = 53.35, longitude = -6.26, nodes = [{ name = "eu-west-a", ipv4 = "198.51.100.10" }], backends = [{ id = "web-0", address = "10.2.0.10:8080" }, { id = "web-1", address = "10.2.0.10:8080" }] } }
  }
  expect_failures = [var.regions]
}

run "backend_weight_range" {
  command = plan
  variables {
    regions = { eu-west = { latitude = 53.35, longitude = -6.26, nodes = [{ name = "eu-west-a", ipv4 = "198.51.100.10" }], backends = [{ id = "web-0", address = "10.2.0.10:8080", weight = 1001 }] } }
  }
  expect_failures = [var.regions]
}

run "proxy_policy" {
  command = plan
  variables {
    regions = { eu-west = { latitude = 53.35, longitude = -6.26, nodes = [{ name = "eu-west-a", ipv4 = "198.51.100.10" }], backends = [{ id = "web-0", address = "10.2.0.10:8080" }], proxy = { policy = "random" } } }
  }
  expect_failures = [var.regions]
}

run "proxy_healthy_share" {
  command = plan
  variables {
    regions = { eu-west = { latitude = 53.35, longitude = -6.26, nodes = [{ name = "eu-west-a", ipv4 = "198.51.100.10" }], backends = [{ id = "web-0", address = "10.2.0.10:8080" }], proxy = { healthy_share = 1.5 } } }
  }
  expect_failures = [var.regions]
}

run "proxy_health_path" {
  command = plan
  variables {
    regions = { eu-west = { latitude = 53.35, longitude = -6.26, nodes = [{ name = "eu-west-a", ipv4 = "198.51.100.10" }], backends = [{ id = "web-0", address = "10.2.0.10:8080" }], proxy = { health_path = "healthz" } } }
  }
  expect_failures = [var.regions]
}

run "proxy_access_log" {
  command = plan
  variables {
    regions = { eu-west = { latitude = 53.35, longitude = -6.26, nodes = [{ name = "eu-west-a", ipv4 = "198.51.100.10" }], backends = [{ id = "web-0", address = "10.2.0.10:8080" }], proxy = { access_log = "verbose" } } }
  }
  expect_failures = [var.regions]
}

run "proxy_sticky_cookie_name" {
  command = plan
  variables {
    regions    = { eu-west = { latitude = 53.35, longitude = -6.26, nodes = [{ name = "eu-west-a", ipv4 = "198.51.100.10" }], backends = [{ id = "web-0", address = "10.2.0.10:8080" }], proxy = { sticky = { cookie = "my cookie" } } } }
    cookie_key = "cookie-0123456789abcdef0123456789abcdef"
  }
  expect_failures = [var.regions]
}

run "proxy_sticky_on_down" {
  command = plan
  variables {
    regions    = { eu-west = { latitude = 53.35, longitude = -6.26, nodes = [{ name = "eu-west-a", ipv4 = "198.51.100.10" }], backends = [{ id = "web-0", address = "10.2.0.10:8080" }], proxy = { sticky = { on_down = "wait" } } } }
    cookie_key = "cookie-0123456789abcdef0123456789abcdef"
  }
  expect_failures = [var.regions]
}

run "proxy_sticky_lifetime" {
  command = plan
  variables {
    regions    = { eu-west = { latitude = 53.35, longitude = -6.26, nodes = [{ name = "eu-west-a", ipv4 = "198.51.100.10" }], backends = [{ id = "web-0", address = "10.2.0.10:8080" }], proxy = { sticky = { lifetime_seconds = 34560001 } } } }
    cookie_key = "cookie-0123456789abcdef0123456789abcdef"
  }
  expect_failures = [var.regions]
}
