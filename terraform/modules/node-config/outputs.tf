# The module's outputs. Rules that look at two variables at once are preconditions of
# `files` (a validation block may only see its own variable before Terraform 1.9); every
# output is evaluated on every plan, so they hold whichever outputs a caller uses.

output "files" {
  description = "The config every node shares, by path relative to /etc/meridian: meridian.toml and regions/<name>.toml. No secret is in them."
  value       = local.files

  precondition {
    condition     = length(setsubtract(keys(var.listen_override), local.node_list[*].name)) == 0
    error_message = "listen_override: no such node: ${join(", ", setsubtract(keys(var.listen_override), local.node_list[*].name))} (nodes: ${join(", ", local.node_list[*].name)})."
  }

  precondition {
    condition     = nonsensitive((var.geoip_license_key == null) == (var.geoip_account_id == null))
    error_message = "geoip_license_key and geoip_account_id go together: give both (GeoLite2-City through geoipupdate) or neither (the packaged DB-IP database)."
  }

  precondition {
    condition     = !(local.geoip && var.geo_database != null)
    error_message = "geo_database and geoip_license_key exclude each other: with a licence key the nodes read /var/lib/GeoIP/GeoLite2-City.mmdb."
  }

  precondition {
    condition     = length(setsubtract(distinct(concat(coalesce(var.steering.default, []), flatten(values(var.steering.country)), flatten(values(var.steering.continent)), flatten(values(var.steering.cidr)))), local.region_names)) == 0
    error_message = "steering: no such region: ${join(", ", setsubtract(distinct(concat(coalesce(var.steering.default, []), flatten(values(var.steering.country)), flatten(values(var.steering.continent)), flatten(values(var.steering.cidr)))), local.region_names))} (regions: ${join(", ", local.region_names)})."
  }

  precondition {
    condition     = alltrue([for order in concat([coalesce(var.steering.default, ["-"])], values(var.steering.country), values(var.steering.continent), values(var.steering.cidr)) : length(order) > 0 && length(distinct(order)) == length(order)])
    error_message = "steering: every order must list at least one region, each once."
  }

  precondition {
    # The name servers are ns1..nsN under the apex: a steered name or a static A, AAAA or
    # CNAME record there would hide a name server's glue (meridian refuses both).
    condition     = length(setintersection(concat(var.services[*].name, [for record in var.records : record.name if contains(["A", "AAAA", "CNAME"], record.type)]), [for index in range(length(local.node_list)) : "ns${index + 1}"])) == 0
    error_message = "services and records: ${join(", ", setintersection(concat(var.services[*].name, [for record in var.records : record.name if contains(["A", "AAAA", "CNAME"], record.type)]), [for index in range(length(local.node_list)) : "ns${index + 1}"]))} is a name server's name (ns1..ns${length(local.node_list)}, one per node)."
  }

  precondition {
    condition     = length(setintersection(var.services[*].name, [for record in var.records : record.name if contains(["A", "AAAA", "CNAME"], record.type)])) == 0
    error_message = "records: a steered name cannot also have a static A, AAAA or CNAME record: ${join(", ", setintersection(var.services[*].name, [for record in var.records : record.name if contains(["A", "AAAA", "CNAME"], record.type)]))}."
  }

  precondition {
    # Meridian only warns, but with several nodes a region's cookies must be signed with one
    # key, or a client moving between nodes loses its backend.
    condition     = nonsensitive(var.cookie_key != null) || alltrue([for region in values(var.regions) : region.proxy.sticky == null || length(region.backends) == 0])
    error_message = "cookie_key: required when a region's proxy is sticky (${join(", ", [for name, region in var.regions : name if region.proxy.sticky != null && length(region.backends) > 0])}): every node must sign cookies with the same key."
  }
}

output "delegation_records" {
  description = "What the parent zone needs: one NS record per node (ns1..nsN under the apex, as in meridian.toml's [[zone.ns]]) and the name servers' glue (A, and AAAA for nodes with ipv6). Names and values without a trailing dot."
  value = concat(
    [for ns in local.name_servers : {
      name  = var.zone_apex
      type  = "NS"
      ttl   = var.zone_ttl
      value = ns.name
    }],
    # The type comes from which address it is, never from its text: an Elastic IP is unknown
    # until apply, and the caller keys its glue record sets by name and type at plan time.
    flatten([for ns in local.name_servers : concat(
      [{ name = ns.name, type = "A", ttl = var.zone_ttl, value = ns.ipv4 }],
      ns.ipv6 == null ? [] : [{ name = ns.name, type = "AAAA", ttl = var.zone_ttl, value = ns.ipv6 }],
    )]),
  )
}

output "cloud_init" {
  description = "Per node name: its user data, a #cloud-config that writes /etc/meridian (the shared files, meridian.env with the secrets at mode 0600, the node's own name and sockets), installs the package and starts meridian.service."
  sensitive   = true
  value       = { for node, config in local.cloud_config : node => "#cloud-config\n${yamlencode(config)}" }
}

output "nodes" {
  description = "Per node name: its region, public addresses (ipv6 null when it has none) and the address:port of its status listener, which every other node must be allowed to reach."
  value = tomap({ for node in local.node_list : node.name => {
    region         = node.region
    ipv4           = node.ipv4
    ipv6           = node.ipv6 == null ? tostring(null) : node.ipv6
    status_address = local.advertised[node.name].status
  } })
}
