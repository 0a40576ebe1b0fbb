# One run per validation rule of the other variables, and one per precondition (the rules
# that look at two variables, checked on the `files` output). Each breaks one rule of a
# valid configuration and expects exactly that variable (or output) to be refused.

variables {
  zone_apex = "gtm.example.com"
  regions = {
    eu-west = {
      latitude  = 53.35
      longitude = -6.26
      nodes     = [{ name = "eu-west-a", ipv4 = "198.51.100.10" }]
      backends  = [{ id = "web-0", address = "10.2.0.10:8080" }]
    }
    us-east = {
      latitude  = 39.04
      longitude = -77.49
      nodes     = [{ name = "us-east-a", ipv4 = "192.0.2.10" }]
    }
  }
  services    = [{ name = "www" }]
  admin_token = "admin-0123456789abcdef"
  package_url = "https://downloads.example.com/meridian.deb"
}

run "valid_configuration" {
  command = plan
}

# The zone and its names.

run "zone_apex_shape" {
  command = plan
  variables { zone_apex = "GTM.example.com." }
  expect_failures = [var.zone_apex]
}

run "zone_ttl_range" {
  command = plan
  variables { zone_ttl = -1 }
  expect_failures = [var.zone_ttl]
}

run "answer_ttl_whole_seconds" {
  command = plan
  variables { answer_ttl = 1.5 }
  expect_failures = [var.answer_ttl]
}

run "soa_rname_shape" {
  command = plan
  variables { soa = { rname = "hostmaster@example.com" } }
  expect_failures = [var.soa]
}

run "soa_numbers_range" {
  command = plan
  variables { soa = { serial = 4294967296 } }
  expect_failures = [var.soa]
}

run "at_least_one_service" {
  command = plan
  variables { services = [] }
  expect_failures = [var.services]
}

run "service_name_shape" {
  command = plan
  variables { services = [{ name = "www.gtm.example.com." }] }
  expect_failures = [var.services]
}

run "service_names_unique" {
  command = plan
  variables { services = [{ name = "www" }, { name = "www", ttl = 60 }] }
  expect_failures = [var.services]
}

run "service_ttl_range" {
  command = plan
  variables { services = [{ name = "www", ttl = -5 }] }
  expect_failures = [var.services]
}

run "service_all_down_policy" {
  command = plan
  variables { services = [{ name = "www", all_down = "panic" }] }
  expect_failures = [var.services]
}

run "service_fallback_needs_addresses" {
  command = plan
  variables { services = [{ name = "www", all_down = "fallback" }] }
  expect_failures = [var.services]
}

run "service_fallback_addresses_shape" {
  command = plan
  variables { services = [{ name = "www", all_down = "fallback", fallback = ["192.0.2.300"] }] }
  expect_failures = [var.services]
}

run "record_type" {
  command = plan
  variables { records = [{ name = "_sip._udp", type = "SRV", value = "0 5 5060 sip.example.com" }] }
  expect_failures = [var.records]
}

run "record_name_shape" {
  command = plan
  variables { records = [{ name = "Mail", type = "A", value = "192.0.2.25" }] }
  expect_failures = [var.records]
}

# Steering, health, ports, listening, the geo database.

run "steering_country_code" {
  command = plan
  variables { steering = { country = { gb = ["eu-west"] } } }
  expect_failures = [var.steering]
}

run "steering_continent_code" {
  command = plan
  variables { steering = { continent = { EA = ["eu-west"] } } }
  expect_failures = [var.steering]
}

run "steering_cidr_network" {
  command = plan
  variables { steering = { cidr = { "10.1.2.3/8" = ["eu-west"] } } }
  expect_failures = [var.steering]
}

run "health_intervals" {
  command = plan
  variables { health = { fast_interval_ms = 2000 } }
  expect_failures = [var.health]
}

run "health_jitter" {
  command = plan
  variables { health = { jitter = 0.6 } }
  expect_failures = [var.health]
}

run "health_counts" {
  command = plan
  variables { health = { fall = 0 } }
  expect_failures = [var.health]
}

run "health_hold_down" {
  command = plan
  variables { health = { hold_down_ms = 3600001 } }
  expect_failures = [var.health]
}

run "ports_distinct_and_in_range" {
  command = plan
  variables { ports = { dns = 80 } }
  expect_failures = [var.ports]
}

run "listen_override_addresses" {
  command = plan
  variables {
    listen_override = { "eu-west-a" = { dns = ["localhost:53"], http = "127.0.0.1:80", status = "127.0.0.1:8053" } }
  }
  expect_failures = [var.listen_override]
}

run "listen_override_needs_dns" {
  command = plan
  variables {
    listen_override = { "eu-west-a" = { dns = [], http = "127.0.0.1:80", status = "127.0.0.1:8053" } }
  }
  expect_failures = [var.listen_override]
}

run "geo_database_names_a_file" {
  command = plan
  variables { geo_database = " " }
  expect_failures = [var.geo_database]
}

# Secrets and the package.

run "admin_token_length" {
  command = plan
  variables { admin_token = "too-short" }
  expect_failures = [var.admin_token]
}

run "cookie_key_length" {
  command = plan
  variables { cookie_key = "0123456789abcdef0123456789abcde" }
  expect_failures = [var.cookie_key]
}

run "package_url_scheme" {
  command = plan
  variables { package_url = "http://downloads.example.com/meridian.deb" }
  expect_failures = [var.package_url]
}

run "package_sha256_shape" {
  command = plan
  variables { package_sha256 = "ABC" }
  expect_failures = [var.package_sha256]
}

run "geoip_account_id_shape" {
  command = plan
  variables {
    geoip_account_id  = "account"
    geoip_license_key = "abcDEF_0123456789"
  }
  expect_failures = [var.geoip_account_id]
}

run "geoip_license_key_shape" {
  command = plan
  variables {
    geoip_account_id  = "123456"
    geoip_license_key = "not a key"
  }
  expect_failures = [var.geoip_license_key]
}

# Preconditions: rules across variables.

run "listen_override_names_a_node" {
  command = plan
  variables {
    listen_override = { "eu-west-z" = { dns = ["127.0.0.1:53"], http = "127.0.0.1:80", status = "127.0.0.1:8053" } }
  }
  expect_failures = [output.files]
}

run "geoip_account_and_key_together" {
  command = plan
  variables { geoip_license_key = "abcDEF_0123456789" }
  expect_failures = [output.files]
}

run "geoip_excludes_geo_database" {
  command = plan
  variables {
    geoip_account_id  = "123456"
    geoip_license_key = "abcDEF_0123456789"
    geo_database      = "/srv/geo.mmdb"
  }
  expect_failures = [output.files]
}

run "steering_names_known_regions" {
  command = plan
  variables { steering = { country = { IN = ["ap-southeast"] } } }
  expect_failures = [output.files]
}

run "steering_orders_list_each_region_once" {
  command = plan
  variables { steering = { default = ["eu-west", "eu-west"] } }
  expect_failures = [output.files]
}

run "services_avoid_name_server_names" {
  command = plan
  variables { services = [{ name = "ns2" }] }
  expect_failures = [output.files]
}

run "records_avoid_steered_names" {
  command = plan
  variables { records = [{ name = "www", type = "CNAME", value = "elsewhere.example.com" }] }
  expect_failures = [output.files]
}

run "sticky_needs_cookie_key" {
  command = plan
  variables {
    regions = {
      eu-west = {
        latitude  = 53.35
        longitude = -6.26
        nodes     = [{ name = "eu-west-a", ipv4 = "198.51.100.10" }]
        backends  = [{ id = "web-0", address = "10.2.0.10:8080" }]
        proxy     = { sticky = {} }
      }
    }
  }
  expect_failures = [output.files]
}
