# What the module renders, output by output, for a topology with a two-node region (one node
# with IPv6), weighted and sticky backends, and a service with a fallback. Plan only: the
# module has no resource, so a plan computes every output.

variables {
  zone_apex = "gtm.example.com"
  regions = {
    us-east = {
      latitude  = 39.04
      longitude = -77.49
      capacity  = 200
      nodes     = [{ name = "us-east-a", ipv4 = "192.0.2.10" }]
      backends  = [{ id = "web-0", address = "10.1.0.10:8080" }]
    }
    eu-west = {
      latitude  = 53.35
      longitude = -6.26
      nodes = [
        { name = "eu-west-a", ipv4 = "198.51.100.10", ipv6 = "2001:DB8:2:0::10" },
        { name = "eu-west-b", ipv4 = "198.51.100.11" },
      ]
      backends = [
        { id = "web-0", address = "10.2.0.10:8080" },
        { id = "web-1", address = "[2001:db8:2::20]:8080", weight = 3 },
      ]
      proxy = {
        policy      = "weighted-round-robin"
        health_path = "/healthz?deep=1"
        sticky      = { lifetime_seconds = 3600 }
      }
    }
  }
  services = [
    { name = "www" },
    { name = "api", ttl = 10, all_down = "fallback", fallback = ["192.0.2.99"] },
  ]
  admin_token = "admin-0123456789abcdef"
  cookie_key  = "cookie-0123456789abcdef0123456789abcdef"
  package_url = "https://downloads.example.com/meridian_0.1.0-1_amd64.deb"
}

run "files_hold_the_whole_config" {
  command = plan

  assert {
    condition     = keys(output.files) == ["meridian.toml", "regions/eu-west.toml", "regions/us-east.toml"]
    error_message = "files: expected meridian.toml and one file per region, got ${join(", ", keys(output.files))}."
  }

  assert {
    condition = alltrue([for text in [
      "apex = \"gtm.example.com\"",
      "rname = \"hostmaster.gtm.example.com\"",
      "[[zone.ns]]\nname = \"ns1.gtm.example.com\"\naddresses = [\"198.51.100.10\",\"2001:db8:2::10\"]\n",
      "[[zone.ns]]\nname = \"ns2.gtm.example.com\"\naddresses = [\"198.51.100.11\"]\n",
      "[[zone.ns]]\nname = \"ns3.gtm.example.com\"\naddresses = [\"192.0.2.10\"]\n",
      "[[service]]\nname = \"www\"\nall_down = \"fail-open\"\n",
      "[[service]]\nname = \"api\"\nttl = 10\nall_down = \"fallback\"\nfallback = [\"192.0.2.99\"]\n",
      "[answer]\nttl = 30\n",
      "database = \"/usr/share/meridian/dbip-city-lite-coarse.mmdb\"",
      "interval_ms = 1000\n",
    ] : strcontains(output.files["meridian.toml"], text)])
    error_message = "meridian.toml lacks the zone, name servers, services, answer TTL or packaged database:\n${output.files["meridian.toml"]}"
  }

  assert {
    # No [steering] orders were given: Meridian's default (all regions by name) applies.
    condition     = !strcontains(output.files["meridian.toml"], "default =") && !strcontains(output.files["meridian.toml"], "[steering.")
    error_message = "meridian.toml: steering orders that were not asked for."
  }

  assert {
    condition = alltrue([for text in [
      "name = \"eu-west\"\n",
      "location = { latitude = 53.35, longitude = -6.26 }\n",
      "capacity = 100\n",
      "ipv4 = [\"198.51.100.10\",\"198.51.100.11\"]\n",
      "status_url = \"http://198.51.100.10:8053/healthz\"\n",
      "dns = [\"198.51.100.10:53\",\"[2001:db8:2::10]:53\",\"198.51.100.11:53\"]\n",
      "http = \"198.51.100.10:80\"\n",
      "status = \"198.51.100.10:8053\"\n",
      "policy = \"weighted-round-robin\"\n",
      "id = \"web-1\"\naddress = \"[2001:db8:2::20]:8080\"\nweight = 3\n",
      "[proxy.health]\npath = \"/healthz?deep=1\"\n",
      "[proxy.sticky]\ncookie = \"meridian_backend\"\nlifetime_seconds = 3600\non_down = \"repick\"\n",
    ] : strcontains(output.files["regions/eu-west.toml"], text)])
    error_message = "regions/eu-west.toml lacks its location, answers, listen addresses or proxy:\n${output.files["regions/eu-west.toml"]}"
  }

  assert {
    # The proxy listens on one address per node, its IPv4 one: no AAAA answers.
    condition     = !strcontains(output.files["regions/eu-west.toml"], "ipv6 =")
    error_message = "regions/eu-west.toml hands out IPv6 answers that no HTTP listener serves."
  }

  assert {
    condition     = strcontains(output.files["regions/us-east.toml"], "capacity = 200\n") && strcontains(output.files["regions/us-east.toml"], "policy = \"round-robin\"\n") && !strcontains(output.files["regions/us-east.toml"], "[proxy.sticky]")
    error_message = "regions/us-east.toml: capacity, default policy or an unasked-for sticky table:\n${output.files["regions/us-east.toml"]}"
  }

  assert {
    condition     = !anytrue([for text in values(output.files) : strcontains(text, var.admin_token) || strcontains(text, var.cookie_key)])
    error_message = "files: a secret is in a config file; secrets belong in meridian.env."
  }
}

run "delegation_records_match_the_name_servers" {
  command = plan

  assert {
    condition = output.delegation_records == [
      { name = "gtm.example.com", type = "NS", ttl = 3600, value = "ns1.gtm.example.com" },
      { name = "gtm.example.com", type = "NS", ttl = 3600, value = "ns2.gtm.example.com" },
      { name = "gtm.example.com", type = "NS", ttl = 3600, value = "ns3.gtm.example.com" },
      { name = "ns1.gtm.example.com", type = "A", ttl = 3600, value = "198.51.100.10" },
      { name = "ns1.gtm.example.com", type = "AAAA", ttl = 3600, value = "2001:db8:2::10" },
      { name = "ns2.gtm.example.com", type = "A", ttl = 3600, value = "198.51.100.11" },
      { name = "ns3.gtm.example.com", type = "A", ttl = 3600, value = "192.0.2.10" },
    ]
    error_message = "delegation_records: ${jsonencode(output.delegation_records)}"
  }
}

run "nodes_for_the_firewall" {
  command = plan

  assert {
    # Compared as JSON: a literal with null attributes has no type of its own to compare with.
    condition = jsonencode(output.nodes) == jsonencode({
      "eu-west-a" = { region = "eu-west", ipv4 = "198.51.100.10", ipv6 = "2001:db8:2::10", status_address = "198.51.100.10:8053" }
      "eu-west-b" = { region = "eu-west", ipv4 = "198.51.100.11", ipv6 = null, status_address = "198.51.100.11:8053" }
      "us-east-a" = { region = "us-east", ipv4 = "192.0.2.10", ipv6 = null, status_address = "192.0.2.10:8053" }
    })
    error_message = "nodes: ${jsonencode(output.nodes)}"
  }
}

run "cloud_init_installs_configures_and_starts" {
  command = plan

  assert {
    condition     = keys(output.cloud_init) == ["eu-west-a", "eu-west-b", "us-east-a"]
    error_message = "cloud_init: one user data per node expected."
  }

  assert {
    condition     = alltrue([for text in values(output.cloud_init) : startswith(text, "#cloud-config\n")])
    error_message = "cloud_init: user data must start with #cloud-config."
  }

  assert {
    # Every file of `files` is written to /etc/meridian, byte for byte, readable by the
    # service's dynamic user.
    condition = alltrue(flatten([for node, text in output.cloud_init : [for path, content in output.files : anytrue([
      for entry in yamldecode(text).write_files : entry.path == "/etc/meridian/${path}" && entry.content == content && entry.permissions == "0644"
    ])]]))
    error_message = "cloud_init: the config files are not all written to /etc/meridian as rendered."
  }

  assert {
    condition = alltrue([for node, region in { "eu-west-a" = "eu-west", "eu-west-b" = "eu-west", "us-east-a" = "us-east" } : anytrue([
      for entry in yamldecode(output.cloud_init[node]).write_files : entry.path == "/etc/meridian/meridian.env" && entry.permissions == "0600" && entry.content == "# Read by systemd for meridian.service (as root): the region and the secrets.\nMERIDIAN_REGION=${region}\nMERIDIAN_ADMIN_TOKEN=${var.admin_token}\nMERIDIAN_COOKIE_KEY=${var.cookie_key}\n"
    ])])
    error_message = "cloud_init: meridian.env (mode 0600) must hold the node's region, the admin token and the cookie key."
  }

  assert {
    # No listen_override: the node finds the address its public one is NATed to at boot.
    condition     = alltrue([for entry in yamldecode(output.cloud_init["eu-west-a"]).write_files : entry.permissions == "0755" && strcontains(entry.content, "public_ipv4='198.51.100.10'") && strcontains(entry.content, "public_ipv6='2001:db8:2::10'") && strcontains(entry.content, "ip -o -4 route get") && strcontains(entry.content, "MERIDIAN_NODE_NAME=eu-west-a") && strcontains(entry.content, "--http-listen $local_ipv4:80 --status-listen $local_ipv4:8053") if entry.path == "/usr/local/sbin/meridian-node-env"]) && length([for entry in yamldecode(output.cloud_init["eu-west-a"]).write_files : entry if entry.path == "/usr/local/sbin/meridian-node-env"]) == 1
    error_message = "cloud_init: eu-west-a needs the script that finds its local address and writes node.env."
  }

  assert {
    condition = alltrue([for text in values(output.cloud_init) : anytrue([
      for entry in yamldecode(text).write_files : entry.path == "/etc/systemd/system/meridian.service.d/node.conf" && strcontains(entry.content, "EnvironmentFile=/etc/meridian/node.env\nExecStart=\nExecStart=/usr/bin/meridian run --config /etc/meridian/meridian.toml --region $${MERIDIAN_REGION} --state-dir $${STATE_DIRECTORY} --node-name $${MERIDIAN_NODE_NAME} $MERIDIAN_LISTEN\n")
    ])])
    error_message = "cloud_init: the systemd drop-in must pass the node's name and listen flags."
  }

  assert {
    condition = alltrue([for text in values(output.cloud_init) : yamldecode(text).runcmd == [["/usr/local/sbin/meridian-install"]] && anytrue([
      for entry in yamldecode(text).write_files : entry.path == "/usr/local/sbin/meridian-install" && entry.permissions == "0700" && alltrue([for step in [
        "--output \"$package\" 'https://downloads.example.com/meridian_0.1.0-1_amd64.deb'",
        "apt_get install \"$package\"",
        "/usr/local/sbin/meridian-node-env\n",
        "meridian check-config /etc/meridian/meridian.toml",
        "systemctl enable meridian.service\nsystemctl restart meridian.service\n",
      ] : strcontains(entry.content, step)])
    ])])
    error_message = "cloud_init: runcmd must run the installer, which downloads and installs the package, writes node.env, checks the config and starts meridian.service."
  }

  assert {
    # The service starts once, when all it reads is there: node.env before the package, whose
    # own start policy-rc.d holds back, and the check before the start.
    condition     = alltrue([for text in values(output.cloud_init) : can(regex("(?s)\n/usr/local/sbin/meridian-node-env\n.*exit 101.*apt_get install \"\\$package\"\nrm -f /usr/sbin/policy-rc.d\n.*meridian check-config.*systemctl restart meridian.service", yamldecode(text).write_files[index(yamldecode(text).write_files[*].path, "/usr/local/sbin/meridian-install")].content))])
    error_message = "cloud_init: the installer must write node.env, install the package without starting it, check the config, then start the service, in that order."
  }

  assert {
    condition     = !anytrue([for text in values(output.cloud_init) : strcontains(text, "geoipupdate") || strcontains(text, "GeoIP.conf") || strcontains(text, "sha256sum") || strcontains(text, "aws s3")])
    error_message = "cloud_init: geoipupdate, a checksum or the aws CLI without being asked for."
  }
}

run "geoip_licence_key_brings_geoipupdate" {
  command = plan

  variables {
    geoip_account_id  = "123456"
    geoip_license_key = "abcDEF_0123456789"
  }

  assert {
    condition     = strcontains(output.files["meridian.toml"], "database = \"/var/lib/GeoIP/GeoLite2-City.mmdb\"")
    error_message = "meridian.toml must read GeoLite2-City from /var/lib/GeoIP."
  }

  assert {
    condition     = !anytrue([for text in values(output.files) : strcontains(text, var.geoip_license_key)])
    error_message = "files: the MaxMind licence key is in a config file."
  }

  assert {
    condition = alltrue([for text in values(output.cloud_init) : anytrue([
      for entry in yamldecode(text).write_files : entry.path == "/etc/GeoIP.conf" && entry.permissions == "0600" && strcontains(entry.content, "AccountID 123456\nLicenseKey abcDEF_0123456789\nEditionIDs GeoLite2-City\n")
    ])])
    error_message = "cloud_init: /etc/GeoIP.conf (mode 0600) must hold the account, the key and GeoLite2-City."
  }

  assert {
    condition = alltrue([for text in values(output.cloud_init) : length([
      for entry in yamldecode(text).write_files : entry if contains(["/etc/systemd/system/meridian-geoipupdate.service", "/etc/systemd/system/meridian-geoipupdate.timer"], entry.path)
    ]) == 2])
    error_message = "cloud_init: the geoipupdate service and timer must be written."
  }

  assert {
    condition = alltrue([for text in values(output.cloud_init) : anytrue([
      for entry in yamldecode(text).write_files : entry.path == "/usr/local/sbin/meridian-install" && alltrue([for step in [
        "Components: contrib",
        "apt_get install geoipupdate",
        "geoipupdate -v -f /etc/GeoIP.conf -d /var/lib/GeoIP",
        "systemctl enable --now meridian-geoipupdate.timer",
      ] : strcontains(entry.content, step)])
    ])])
    error_message = "cloud_init: the installer must install geoipupdate from contrib, run it and enable its timer."
  }
}

run "s3_package_with_checksum" {
  command = plan

  variables {
    package_url    = "s3://meridian-releases/meridian_0.1.0-1_amd64.deb"
    package_sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  }

  assert {
    condition = alltrue([for text in values(output.cloud_init) : anytrue([
      for entry in yamldecode(text).write_files : entry.path == "/usr/local/sbin/meridian-install" && strcontains(entry.content, "aws s3 cp 's3://meridian-releases/meridian_0.1.0-1_amd64.deb' \"$package\"") && strcontains(entry.content, "echo '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  '\"$package\" | sha256sum -c -") && !strcontains(entry.content, "curl --fail")
    ])])
    error_message = "cloud_init: an s3:// package is fetched with the aws CLI and checked against its SHA-256."
  }
}

run "listen_override_is_bound_and_advertised" {
  command = plan

  variables {
    ports = { dns = 5353, http = 8080, status = 9053 }
    listen_override = {
      "us-east-a" = { dns = ["127.0.1.1:35353"], http = "127.0.1.1:38080", status = "127.0.1.1:38053" }
    }
  }

  assert {
    condition     = strcontains(output.files["regions/us-east.toml"], "status_url = \"http://127.0.1.1:38053/healthz\"\n\n[listen]\ndns = [\"127.0.1.1:35353\"]\nhttp = \"127.0.1.1:38080\"\nstatus = \"127.0.1.1:38053\"\n")
    error_message = "regions/us-east.toml must advertise the overridden sockets:\n${output.files["regions/us-east.toml"]}"
  }

  assert {
    # The other region keeps its public addresses, on the ports asked for.
    condition     = strcontains(output.files["regions/eu-west.toml"], "dns = [\"198.51.100.10:5353\",\"[2001:db8:2::10]:5353\",\"198.51.100.11:5353\"]\nhttp = \"198.51.100.10:8080\"\nstatus = \"198.51.100.10:9053\"\n")
    error_message = "regions/eu-west.toml must use var.ports:\n${output.files["regions/eu-west.toml"]}"
  }

  assert {
    condition     = output.nodes["us-east-a"].status_address == "127.0.1.1:38053" && output.nodes["eu-west-b"].status_address == "198.51.100.11:9053"
    error_message = "nodes: status_address must follow the override and the ports."
  }

  assert {
    condition = anytrue([
      for entry in yamldecode(output.cloud_init["us-east-a"]).write_files : entry.path == "/etc/meridian/node.env" && entry.content == "# This node's name and the sockets it binds, for meridian.service (written by cloud-init).\nMERIDIAN_NODE_NAME=us-east-a\nMERIDIAN_LISTEN=--dns-listen 127.0.1.1:35353 --http-listen 127.0.1.1:38080 --status-listen 127.0.1.1:38053\n"
    ]) && !strcontains(output.cloud_init["us-east-a"], "meridian-node-env")
    error_message = "cloud_init: an overridden node gets node.env as given, and no address-finding script."
  }

  assert {
    condition     = output.delegation_records[6] == { name = "ns3.gtm.example.com", type = "A", ttl = 3600, value = "192.0.2.10" }
    error_message = "delegation_records: the glue is the public address, whatever the node binds."
  }
}

run "steering_records_soa_health" {
  command = plan

  variables {
    steering = {
      default   = ["us-east", "eu-west"]
      country   = { IN = ["eu-west"] }
      continent = { SA = ["us-east", "eu-west"] }
      cidr      = { "198.51.100.0/24" = ["eu-west"] }
    }
    records = [
      { name = "@", type = "TXT", value = "v=spf1 -all" },
      { name = "@", type = "CAA", value = "0 issue \"letsencrypt.org\"", ttl = 300 },
    ]
    soa        = { rname = "dns.example.com", serial = 2026120101 }
    health     = { interval_ms = 2000, fall = 4 }
    answer_ttl = 20
    zone_ttl   = 7200
  }

  assert {
    condition = alltrue([for text in [
      "[steering]\ndefault = [\"us-east\",\"eu-west\"]\n",
      "[steering.cidr]\n\"198.51.100.0/24\" = [\"eu-west\"]\n",
      "[steering.country]\n\"IN\" = [\"eu-west\"]\n",
      "[steering.continent]\n\"SA\" = [\"us-east\",\"eu-west\"]\n",
      "[[zone.record]]\nname = \"@\"\ntype = \"TXT\"\nvalue = \"v=spf1 -all\"\n\n",
      "[[zone.record]]\nname = \"@\"\ntype = \"CAA\"\nvalue = \"0 issue \\\"letsencrypt.org\\\"\"\nttl = 300\n",
      "rname = \"dns.example.com\"\nserial = 2026120101\n",
      "[zone]\napex = \"gtm.example.com\"\nttl = 7200\n",
      "[answer]\nttl = 20\n",
      "interval_ms = 2000\nfast_interval_ms = 250\n",
      "fall = 4\n",
    ] : strcontains(output.files["meridian.toml"], text)])
    error_message = "meridian.toml lacks the steering orders, records, SOA, TTLs or health settings:\n${output.files["meridian.toml"]}"
  }

  assert {
    condition     = alltrue([for record in output.delegation_records : record.ttl == 7200])
    error_message = "delegation_records: the TTL is zone_ttl."
  }
}

run "geo_database_given" {
  command = plan

  variables {
    geo_database = "../geo-data/dbip-city-lite-coarse.mmdb"
  }

  assert {
    condition     = strcontains(output.files["meridian.toml"], "[geo]\ndatabase = \"../geo-data/dbip-city-lite-coarse.mmdb\"\n")
    error_message = "meridian.toml must name the geo database given."
  }
}
