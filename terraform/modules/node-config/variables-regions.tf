# The regions and their nodes: the one variable that describes the topology. Each
# validation refuses what `meridian check-config` would refuse (src/config/validate/), or
# what the rendered files could not express, and names the region, node or backend at fault.
#
# Validation conditions may only refer to the variable itself (before Terraform 1.9), so the
# address patterns are spelled out in each rule rather than shared through locals.

variable "regions" {
  description = "Regions by name: where each one is, its nodes (public addresses), its backends and proxy settings."
  nullable    = false
  type = map(object({
    latitude  = number
    longitude = number
    capacity  = optional(number, 100)
    nodes = list(object({
      name = string
      ipv4 = string
      ipv6 = optional(string)
    }))
    backends = optional(list(object({
      id      = string
      address = string
      weight  = optional(number, 1)
    })), [])
    proxy = optional(object({
      policy        = optional(string, "round-robin")
      healthy_share = optional(number, 0.5)
      spillover     = optional(bool, true)
      health_path   = optional(string, "/")
      access_log    = optional(string, "off")
      sticky = optional(object({
        cookie           = optional(string, "meridian_backend")
        lifetime_seconds = optional(number)
        on_down          = optional(string, "repick")
      }))
    }), {})
  }))

  validation {
    condition     = length(var.regions) > 0
    error_message = "regions: at least one region is needed."
  }

  validation {
    # src/config/validate/regions.rs, is_region_name.
    condition     = alltrue([for name in keys(var.regions) : can(regex("^[a-z0-9][a-z0-9-]{0,62}$", name))])
    error_message = "regions: bad region name ${join(", ", [for name in keys(var.regions) : jsonencode(name) if !can(regex("^[a-z0-9][a-z0-9-]{0,62}$", name))])}: use lower-case letters, digits and '-' (1-63 characters, not starting with '-')."
  }

  validation {
    condition     = alltrue([for region in values(var.regions) : region.latitude >= -90 && region.latitude <= 90])
    error_message = "regions: latitude must be between -90 and 90: ${join(", ", [for name, region in var.regions : "${name} (${region.latitude})" if !(region.latitude >= -90 && region.latitude <= 90)])}."
  }

  validation {
    condition     = alltrue([for region in values(var.regions) : region.longitude >= -180 && region.longitude <= 180])
    error_message = "regions: longitude must be between -180 and 180: ${join(", ", [for name, region in var.regions : "${name} (${region.longitude})" if !(region.longitude >= -180 && region.longitude <= 180)])}."
  }

  validation {
    condition     = alltrue([for region in values(var.regions) : region.capacity >= 1 && region.capacity <= 4294967295 && floor(region.capacity) == region.capacity])
    error_message = "regions: capacity must be a whole number from 1 to 4294967295: ${join(", ", [for name, region in var.regions : "${name} (${region.capacity})" if !(region.capacity >= 1 && region.capacity <= 4294967295 && floor(region.capacity) == region.capacity)])}."
  }

  validation {
    condition     = alltrue([for region in values(var.regions) : length(region.nodes) > 0])
    error_message = "regions: every region needs at least one node: ${join(", ", [for name, region in var.regions : name if length(region.nodes) == 0])} has none."
  }

  validation {
    # Node names end up in file names, an environment file and --node-name: keep them plain.
    condition     = alltrue(flatten([for region in values(var.regions) : [for node in region.nodes : can(regex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", node.name))]]))
    error_message = "regions: bad node name ${join(", ", flatten([for name, region in var.regions : [for node in region.nodes : "${jsonencode(node.name)} (region ${name})" if !can(regex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", node.name))]]))}: use letters, digits, '.', '_' and '-' (1-63 characters, starting with a letter or digit)."
  }

  validation {
    condition     = length(distinct(flatten([for region in values(var.regions) : region.nodes[*].name]))) == length(flatten([for region in values(var.regions) : region.nodes[*].name]))
    error_message = "regions: node names must be unique across all regions; listed more than once: ${join(", ", distinct([for name in flatten([for region in values(var.regions) : region.nodes[*].name]) : name if length([for other in flatten([for region in values(var.regions) : region.nodes[*].name]) : other if other == name]) > 1]))}."
  }

  validation {
    # Dotted quad without leading zeros (Rust's Ipv4Addr refuses them; Terraform's own
    # address functions would accept them), and not the wildcard 0.0.0.0.
    condition     = alltrue(flatten([for region in values(var.regions) : [for node in region.nodes : can(regex("^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$", node.ipv4)) && node.ipv4 != "0.0.0.0"]]))
    error_message = "regions: a node's ipv4 must be an IPv4 address such as 192.0.2.10 (not 0.0.0.0): ${join(", ", flatten([for region in values(var.regions) : [for node in region.nodes : "${node.name} (${jsonencode(node.ipv4)})" if !(can(regex("^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$", node.ipv4)) && node.ipv4 != "0.0.0.0")]]))}."
  }

  validation {
    condition     = alltrue(flatten([for region in values(var.regions) : [for node in region.nodes : node.ipv6 == null ? true : try(can(regex("^[0-9A-Fa-f:.]+$", node.ipv6)) && strcontains(node.ipv6, ":") && cidrhost("${node.ipv6}/128", 0) != "::", false)]]))
    error_message = "regions: a node's ipv6 must be an IPv6 address such as 2001:db8::10 (not ::): ${join(", ", flatten([for region in values(var.regions) : [for node in region.nodes : "${node.name} (${jsonencode(node.ipv6)})" if !(node.ipv6 == null ? true : try(can(regex("^[0-9A-Fa-f:.]+$", node.ipv6)) && strcontains(node.ipv6, ":") && cidrhost("${node.ipv6}/128", 0) != "::", false))]]))}."
  }

  validation {
    # Compared in canonical form (cidrhost prints it), so 2001:DB8::1 equals 2001:db8:0::1.
    condition     = length(distinct(flatten([for region in values(var.regions) : [for node in region.nodes : concat([node.ipv4], node.ipv6 == null ? [] : [try(cidrhost("${node.ipv6}/128", 0), node.ipv6)])]]))) == length(flatten([for region in values(var.regions) : [for node in region.nodes : concat([node.ipv4], node.ipv6 == null ? [] : [try(cidrhost("${node.ipv6}/128", 0), node.ipv6)])]]))
    error_message = "regions: every node needs addresses of its own (each is a name server's glue and a region's answer); used more than once: ${join(", ", distinct([for address in flatten([for region in values(var.regions) : [for node in region.nodes : concat([node.ipv4], node.ipv6 == null ? [] : [try(cidrhost("${node.ipv6}/128", 0), node.ipv6)])]]) : address if length([for other in flatten([for region in values(var.regions) : [for node in region.nodes : concat([node.ipv4], node.ipv6 == null ? [] : [try(cidrhost("${node.ipv6}/128", 0), node.ipv6)])]]) : other if other == address]) > 1]))}."
  }

  validation {
    # src/config/validate/proxy.rs, is_backend_id.
    condition     = alltrue(flatten([for region in values(var.regions) : [for backend in region.backends : can(regex("^[A-Za-z0-9_-]{1,64}$", backend.id))]]))
    error_message = "regions: bad backend id ${join(", ", flatten([for name, region in var.regions : [for backend in region.backends : "${jsonencode(backend.id)} (region ${name})" if !can(regex("^[A-Za-z0-9_-]{1,64}$", backend.id))]]))}: use letters, digits, '-' and '_' (1-64 characters)."
  }

  validation {
    condition     = alltrue([for region in values(var.regions) : length(distinct(region.backends[*].id)) == length(region.backends)])
    error_message = "regions: backend ids must be unique in their region (sticky cookies name them): ${join(", ", [for name, region in var.regions : name if length(distinct(region.backends[*].id)) != length(region.backends)])}."
  }

  validation {
    # IPv4:port or [IPv6]:port, a port from 1 to 65535, not a wildcard (a backend is a host).
    condition = alltrue(flatten([for region in values(var.regions) : [for backend in region.backends : try(
      (can(regex("^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}:[0-9]{1,5}$", backend.address)) && !startswith(backend.address, "0.0.0.0:")) ||
      (can(regex("^\\[[0-9A-Fa-f:.]+\\]:[0-9]{1,5}$", backend.address)) && !contains(["::", "0.0.0.0"], try(cidrhost("${regex("^\\[(.*)\\]:", backend.address)[0]}/128", 0), "::"))),
      false
    ) && try(tonumber(regex(":([0-9]{1,5})$", backend.address)[0]) >= 1 && tonumber(regex(":([0-9]{1,5})$", backend.address)[0]) <= 65535, false)]]))
    error_message = "regions: a backend address must be IPv4:port or [IPv6]:port with a port from 1 to 65535, not a wildcard: ${join(", ", flatten([for name, region in var.regions : [for backend in region.backends : "${backend.id} (region ${name}): ${jsonencode(backend.address)}" if !(try(
      (can(regex("^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}:[0-9]{1,5}$", backend.address)) && !startswith(backend.address, "0.0.0.0:")) ||
      (can(regex("^\\[[0-9A-Fa-f:.]+\\]:[0-9]{1,5}$", backend.address)) && !contains(["::", "0.0.0.0"], try(cidrhost("${regex("^\\[(.*)\\]:", backend.address)[0]}/128", 0), "::"))),
      false
    ) && try(tonumber(regex(":([0-9]{1,5})$", backend.address)[0]) >= 1 && tonumber(regex(":([0-9]{1,5})$", backend.address)[0]) <= 65535, false))]]))}."
  }

  validation {
    condition     = alltrue([for region in values(var.regions) : length(distinct(region.backends[*].address)) == length(region.backends)])
    error_message = "regions: two backends of one region share an address: ${join(", ", [for name, region in var.regions : name if length(distinct(region.backends[*].address)) != length(region.backends)])}."
  }

  validation {
    condition     = alltrue(flatten([for region in values(var.regions) : [for backend in region.backends : backend.weight >= 1 && backend.weight <= 1000 && floor(backend.weight) == backend.weight]]))
    error_message = "regions: a backend weight must be a whole number from 1 to 1000: ${join(", ", flatten([for name, region in var.regions : [for backend in region.backends : "${backend.id} (region ${name}): ${backend.weight}" if !(backend.weight >= 1 && backend.weight <= 1000 && floor(backend.weight) == backend.weight)]]))}."
  }

  validation {
    condition     = alltrue([for region in values(var.regions) : contains(["round-robin", "weighted-round-robin", "least-request", "consistent-hash"], region.proxy.policy)])
    error_message = "regions: proxy.policy must be round-robin, weighted-round-robin, least-request or consistent-hash: ${join(", ", [for name, region in var.regions : "${name} (${jsonencode(region.proxy.policy)})" if !contains(["round-robin", "weighted-round-robin", "least-request", "consistent-hash"], region.proxy.policy)])}."
  }

  validation {
    condition     = alltrue([for region in values(var.regions) : region.proxy.healthy_share >= 0 && region.proxy.healthy_share <= 1])
    error_message = "regions: proxy.healthy_share must be between 0.0 and 1.0: ${join(", ", [for name, region in var.regions : "${name} (${region.proxy.healthy_share})" if !(region.proxy.healthy_share >= 0 && region.proxy.healthy_share <= 1)])}."
  }

  validation {
    condition     = alltrue([for region in values(var.regions) : can(regex("^/[!-~]*$", region.proxy.health_path))])
    error_message = "regions: proxy.health_path must be an absolute path starting with '/', printable ASCII without spaces: ${join(", ", [for name, region in var.regions : "${name} (${jsonencode(region.proxy.health_path)})" if !can(regex("^/[!-~]*$", region.proxy.health_path))])}."
  }

  validation {
    condition     = alltrue([for region in values(var.regions) : contains(["off", "common", "combined", "json"], region.proxy.access_log)])
    error_message = "regions: proxy.access_log must be off, common, combined or json (lines go to the journal): ${join(", ", [for name, region in var.regions : "${name} (${jsonencode(region.proxy.access_log)})" if !contains(["off", "common", "combined", "json"], region.proxy.access_log)])}."
  }

  validation {
    # An RFC 6265 token, as src/config/validate/proxy.rs is_token.
    condition     = alltrue([for region in values(var.regions) : region.proxy.sticky == null ? true : can(regex("^[A-Za-z0-9!#$%&'*+.^_`|~-]+$", region.proxy.sticky.cookie))])
    error_message = "regions: proxy.sticky.cookie must be a cookie name (letters, digits and !#$%&'*+-.^_`|~): ${join(", ", [for name, region in var.regions : "${name} (${jsonencode(region.proxy.sticky.cookie)})" if region.proxy.sticky != null && !can(regex("^[A-Za-z0-9!#$%&'*+.^_`|~-]+$", try(region.proxy.sticky.cookie, "")))])}."
  }

  validation {
    condition     = alltrue([for region in values(var.regions) : region.proxy.sticky == null ? true : contains(["repick", "strict"], region.proxy.sticky.on_down)])
    error_message = "regions: proxy.sticky.on_down must be repick (another backend) or strict (503): ${join(", ", [for name, region in var.regions : "${name} (${jsonencode(try(region.proxy.sticky.on_down, ""))})" if region.proxy.sticky != null && !contains(["repick", "strict"], try(region.proxy.sticky.on_down, ""))])}."
  }

  validation {
    # Browsers keep a cookie at most 400 days (RFC 6265bis); null makes a session cookie.
    condition     = alltrue([for region in values(var.regions) : try(region.proxy.sticky.lifetime_seconds, null) == null ? true : (region.proxy.sticky.lifetime_seconds >= 1 && region.proxy.sticky.lifetime_seconds <= 34560000 && floor(region.proxy.sticky.lifetime_seconds) == region.proxy.sticky.lifetime_seconds)])
    error_message = "regions: proxy.sticky.lifetime_seconds must be a whole number from 1 to 34560000 (400 days), or null for a session cookie: ${join(", ", [for name, region in var.regions : "${name} (${try(region.proxy.sticky.lifetime_seconds, "")})" if try(region.proxy.sticky.lifetime_seconds, null) != null && !try(region.proxy.sticky.lifetime_seconds >= 1 && region.proxy.sticky.lifetime_seconds <= 34560000 && floor(region.proxy.sticky.lifetime_seconds) == region.proxy.sticky.lifetime_seconds, false)])}."
  }
}
