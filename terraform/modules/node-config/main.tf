# From the variables to the files: the node list (with its name server names and the
# sockets each node advertises), the config files every node shares, and each node's own
# cloud-config. Pure: no provider, no resource, the same output for the same input.

locals {
  region_names = sort(keys(var.regions))

  # Every node once, regions by name and nodes in their listed order: this order numbers the
  # name servers (ns1, ns2, ...), so it must not depend on anything but the variables.
  node_list = flatten([for region in local.region_names : [for node in var.regions[region].nodes : {
    name   = node.name
    region = region
    ipv4   = node.ipv4
    # Canonical form (cidrhost prints it): what `ip` shows and what dig answers with.
    ipv6 = node.ipv6 == null ? null : try(cidrhost("${node.ipv6}/128", 0), node.ipv6)
  }]])

  name_servers = [for index, node in local.node_list : {
    name      = "ns${index + 1}.${var.zone_apex}"
    node      = node.name
    ipv4      = node.ipv4
    ipv6      = node.ipv6
    addresses = concat([node.ipv4], node.ipv6 == null ? [] : [node.ipv6])
  }]

  # Where each node can be reached, and so what the region files tell peers: its public
  # addresses on var.ports, or its listen_override.
  advertised = { for node in local.node_list : node.name => (
    contains(keys(var.listen_override), node.name) ? var.listen_override[node.name] : {
      dns    = concat(["${node.ipv4}:${var.ports.dns}"], node.ipv6 == null ? [] : ["[${node.ipv6}]:${var.ports.dns}"])
      http   = "${node.ipv4}:${var.ports.http}"
      status = "${node.ipv4}:${var.ports.status}"
    }
  ) }

  # A region file has one [listen] and one status_url for all its nodes: every node's DNS
  # address (so glue always matches a region's listen.dns), the first node's HTTP (where
  # other regions spill requests to) and status listener (where every node probes the
  # region). Each node binds its own sockets with flags (see node_env below).
  first_node = { for region in local.region_names : region => try(var.regions[region].nodes[0].name, null) }
  region_listen = { for region in local.region_names : region => {
    dns    = flatten([for node in var.regions[region].nodes : local.advertised[node.name].dns])
    http   = try(local.advertised[local.first_node[region]].http, null)
    status = try(local.advertised[local.first_node[region]].status, null)
  } }

  # Whether a licence key was given is no secret, and the config files depend on it.
  geoip        = nonsensitive(var.geoip_license_key != null)
  geo_database = coalesce(var.geo_database, local.geoip ? "/var/lib/GeoIP/GeoLite2-City.mmdb" : "/usr/share/meridian/dbip-city-lite-coarse.mmdb")

  files = merge(
    {
      "meridian.toml" = templatefile("${path.module}/templates/meridian.toml.tftpl", {
        apex         = var.zone_apex
        zone_ttl     = var.zone_ttl
        soa          = merge(var.soa, { rname = coalesce(var.soa.rname, "hostmaster.${var.zone_apex}") })
        name_servers = local.name_servers
        records      = var.records
        services     = var.services
        answer_ttl   = var.answer_ttl
        geo_database = local.geo_database
        health       = var.health
        steering     = var.steering
      })
    },
    { for region in local.region_names : "regions/${region}.toml" => templatefile("${path.module}/templates/region.toml.tftpl", {
      name         = region
      region       = var.regions[region]
      nodes        = [for node in local.node_list : node if node.region == region]
      name_servers = [for ns in local.name_servers : ns.name if contains(var.regions[region].nodes[*].name, ns.node)]
      listen       = local.region_listen[region]
    }) },
  )

  # The flags that make a node bind its own sockets; the systemd drop-in passes them.
  listen_flags = { for node, listen in var.listen_override : node => join(" ", concat(
    [for address in listen.dns : "--dns-listen ${address}"],
    ["--http-listen ${listen.http}", "--status-listen ${listen.status}"],
  )) }

  package_from_s3 = startswith(var.package_url, "s3://")

  # One cloud-config per node. Every entry has the same attributes so the lists concatenate.
  cloud_config = { for node in local.node_list : node.name => {
    write_files = concat(
      [for path in sort(keys(local.files)) : {
        path        = "/etc/meridian/${path}"
        permissions = "0644"
        content     = local.files[path]
      }],
      [
        {
          path        = "/etc/meridian/meridian.env"
          permissions = "0600"
          content = join("", [
            "# Read by systemd for meridian.service (as root): the region and the secrets.\n",
            "MERIDIAN_REGION=${node.region}\n",
            "MERIDIAN_ADMIN_TOKEN=${var.admin_token}\n",
            var.cookie_key == null ? "" : "MERIDIAN_COOKIE_KEY=${var.cookie_key}\n",
          ])
        },
        contains(keys(var.listen_override), node.name) ? {
          path        = "/etc/meridian/node.env"
          permissions = "0644"
          content = templatefile("${path.module}/templates/node.env.tftpl", {
            node   = node.name
            listen = local.listen_flags[node.name]
          })
          } : {
          path        = "/usr/local/sbin/meridian-node-env"
          permissions = "0755"
          content = templatefile("${path.module}/templates/meridian-node-env.sh.tftpl", {
            node        = node.name
            public_ipv4 = node.ipv4
            public_ipv6 = node.ipv6 == null ? "" : node.ipv6
            ports       = var.ports
          })
        },
        {
          path        = "/etc/systemd/system/meridian.service.d/node.conf"
          permissions = "0644"
          content     = file("${path.module}/templates/node.conf")
        },
        {
          path        = "/usr/local/sbin/meridian-install"
          permissions = "0700"
          content = templatefile("${path.module}/templates/meridian-install.sh.tftpl", {
            package_url     = var.package_url
            package_from_s3 = local.package_from_s3
            package_sha256  = var.package_sha256 == null ? "" : var.package_sha256
            geoip           = local.geoip
            discover_listen = !contains(keys(var.listen_override), node.name)
          })
        },
      ],
      local.geoip ? [
        {
          path        = "/etc/GeoIP.conf"
          permissions = "0600"
          content = join("", [
            "# geoipupdate's configuration (written by cloud-init for Meridian).\n",
            # Both are set, or a precondition of `files` fails; never null in a template.
            "AccountID ${coalesce(var.geoip_account_id, "-")}\n",
            "LicenseKey ${coalesce(var.geoip_license_key, "-")}\n",
            "EditionIDs GeoLite2-City\n",
            "DatabaseDirectory /var/lib/GeoIP\n",
          ])
        },
        {
          path        = "/etc/systemd/system/meridian-geoipupdate.service"
          permissions = "0644"
          content     = file("${path.module}/templates/meridian-geoipupdate.service")
        },
        {
          path        = "/etc/systemd/system/meridian-geoipupdate.timer"
          permissions = "0644"
          content     = file("${path.module}/templates/meridian-geoipupdate.timer")
        },
      ] : [],
    )
    runcmd = [["/usr/local/sbin/meridian-install"]]
  } }
}
