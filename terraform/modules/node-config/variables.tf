# The zone, the steered names and the deployment-wide settings of meridian.toml. The regions
# are in variables-regions.tf, the secrets and the package in variables-host.tf.

variable "zone_apex" {
  description = "The delegated domain Meridian is authoritative for, e.g. gtm.example.com (no trailing dot)."
  type        = string
  nullable    = false

  validation {
    condition     = length(var.zone_apex) <= 253 && can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.zone_apex))
    error_message = "zone_apex = ${jsonencode(var.zone_apex)}: must be a lower-case domain name of at least two labels, without a trailing dot (letters, digits and '-', 1-63 characters a label), e.g. \"gtm.example.com\"."
  }
}

variable "zone_ttl" {
  description = "TTL of the zone's NS records and static records, and of the delegation records at the parent (seconds)."
  type        = number
  default     = 3600
  nullable    = false

  validation {
    condition     = var.zone_ttl >= 0 && var.zone_ttl <= 2147483647 && floor(var.zone_ttl) == var.zone_ttl
    error_message = "zone_ttl = ${var.zone_ttl}: must be a whole number of seconds from 0 to 2147483647 (RFC 2181)."
  }
}

variable "answer_ttl" {
  description = "TTL of steered answers (seconds): short, so that failover reaches clients quickly."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.answer_ttl >= 0 && var.answer_ttl <= 2147483647 && floor(var.answer_ttl) == var.answer_ttl
    error_message = "answer_ttl = ${var.answer_ttl}: must be a whole number of seconds from 0 to 2147483647 (RFC 2181)."
  }
}

variable "soa" {
  description = "The zone's SOA. rname (the responsible mailbox in DNS form) defaults to hostmaster.<zone_apex>; the primary is the first name server."
  type = object({
    rname   = optional(string)
    serial  = optional(number, 1)
    refresh = optional(number, 3600)
    retry   = optional(number, 600)
    expire  = optional(number, 1209600)
    minimum = optional(number, 30)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.soa.rname == null ? true : can(regex("^([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.soa.rname))
    error_message = "soa.rname = ${jsonencode(var.soa.rname)}: must be a mailbox in DNS form, e.g. \"hostmaster.example.com\" for hostmaster@example.com."
  }

  validation {
    condition     = alltrue([for value in [var.soa.serial, var.soa.refresh, var.soa.retry, var.soa.expire] : value >= 0 && value <= 4294967295 && floor(value) == value]) && var.soa.minimum >= 0 && var.soa.minimum <= 2147483647 && floor(var.soa.minimum) == var.soa.minimum
    error_message = "soa: serial, refresh, retry and expire must be whole numbers from 0 to 4294967295, minimum (the negative-caching TTL) from 0 to 2147483647."
  }
}

variable "services" {
  description = "The steered names, relative to the apex (\"www\"; \"@\" is the apex): A queries are answered with the nearest healthy region's addresses. ttl overrides answer_ttl; all_down is what the name answers when every region is down (fail-open, fallback with the fallback addresses, nodata or servfail)."
  type = list(object({
    name     = string
    ttl      = optional(number)
    all_down = optional(string, "fail-open")
    fallback = optional(list(string), [])
  }))
  nullable = false

  validation {
    condition     = length(var.services) > 0
    error_message = "services: at least one steered name is needed, e.g. [{ name = \"www\" }]."
  }

  validation {
    condition     = alltrue([for service in var.services : can(regex("^(@|[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*)$", service.name))])
    error_message = "services: bad name ${join(", ", [for service in var.services : jsonencode(service.name) if !can(regex("^(@|[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*)$", service.name))])}: a name relative to the apex, lower case, without a trailing dot (\"www\", \"api.eu\"), or \"@\" for the apex itself."
  }

  validation {
    condition     = length(distinct(var.services[*].name)) == length(var.services)
    error_message = "services: each name may be listed once; listed more than once: ${join(", ", distinct([for service in var.services : service.name if length([for other in var.services : other if other.name == service.name]) > 1]))}."
  }

  validation {
    condition     = alltrue([for service in var.services : service.ttl == null ? true : (service.ttl >= 0 && service.ttl <= 2147483647 && floor(service.ttl) == service.ttl)])
    error_message = "services: ttl must be a whole number of seconds from 0 to 2147483647: ${join(", ", [for service in var.services : "${service.name} (${service.ttl})" if service.ttl != null && !try(service.ttl >= 0 && service.ttl <= 2147483647 && floor(service.ttl) == service.ttl, false)])}."
  }

  validation {
    condition     = alltrue([for service in var.services : contains(["fail-open", "fallback", "nodata", "servfail"], service.all_down)])
    error_message = "services: all_down must be fail-open, fallback, nodata or servfail: ${join(", ", [for service in var.services : "${service.name} (${jsonencode(service.all_down)})" if !contains(["fail-open", "fallback", "nodata", "servfail"], service.all_down)])}."
  }

  validation {
    condition     = alltrue([for service in var.services : (service.all_down == "fallback") == (length(service.fallback) > 0)])
    error_message = "services: all_down = \"fallback\" needs fallback addresses, and only it takes them: ${join(", ", [for service in var.services : service.name if(service.all_down == "fallback") != (length(service.fallback) > 0)])}."
  }

  validation {
    condition = alltrue(flatten([for service in var.services : [for address in service.fallback : try(
      can(regex("^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$", address)) ||
      (can(regex("^[0-9A-Fa-f:.]+$", address)) && strcontains(address, ":") && can(cidrhost("${address}/128", 0))),
    false)]]))
    error_message = "services: fallback addresses must be IPv4 or IPv6 addresses: ${join(", ", flatten([for service in var.services : [for address in service.fallback : "${service.name} (${jsonencode(address)})" if !try(can(regex("^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$", address)) || (can(regex("^[0-9A-Fa-f:.]+$", address)) && strcontains(address, ":") && can(cidrhost("${address}/128", 0))), false)]]))}."
  }
}

variable "records" {
  description = "Static records of the zone (A, AAAA, CNAME, TXT, MX, CAA); name relative to the apex (\"@\" is the apex), value as in meridian.toml's [[zone.record]], ttl defaults to zone_ttl. Value syntax is left to meridian check-config."
  type = list(object({
    name  = string
    type  = string
    value = string
    ttl   = optional(number)
  }))
  default  = []
  nullable = false

  validation {
    condition     = alltrue([for record in var.records : contains(["A", "AAAA", "CNAME", "TXT", "MX", "CAA"], record.type)])
    error_message = "records: type must be A, AAAA, CNAME, TXT, MX or CAA (upper case): ${join(", ", [for record in var.records : "${record.name} (${jsonencode(record.type)})" if !contains(["A", "AAAA", "CNAME", "TXT", "MX", "CAA"], record.type)])}."
  }

  validation {
    condition     = alltrue([for record in var.records : can(regex("^(@|[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*)$", record.name)) && (record.ttl == null ? true : (record.ttl >= 0 && record.ttl <= 2147483647 && floor(record.ttl) == record.ttl))])
    error_message = "records: a name must be relative to the apex, lower case, without a trailing dot (or \"@\"), and a ttl a whole number from 0 to 2147483647: ${join(", ", [for record in var.records : jsonencode(record.name) if !(can(regex("^(@|[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*)$", record.name)) && try(record.ttl >= 0 && record.ttl <= 2147483647 && floor(record.ttl) == record.ttl, record.ttl == null))])}."
  }
}

variable "steering" {
  description = "Region orders that win over distance: default (clients that cannot be located; default all regions by name), and overrides by country (ISO 3166-1 alpha-2), continent (AF AN AS EU NA OC SA) and cidr; the listed regions come first, the rest follow by distance."
  type = object({
    default   = optional(list(string))
    country   = optional(map(list(string)), {})
    continent = optional(map(list(string)), {})
    cidr      = optional(map(list(string)), {})
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for code in keys(var.steering.country) : can(regex("^[A-Z]{2}$", code))])
    error_message = "steering.country: keys must be ISO 3166-1 alpha-2 codes in upper case (GB, not UK or gb): ${join(", ", [for code in keys(var.steering.country) : jsonencode(code) if !can(regex("^[A-Z]{2}$", code))])}."
  }

  validation {
    condition     = alltrue([for code in keys(var.steering.continent) : contains(["AF", "AN", "AS", "EU", "NA", "OC", "SA"], code)])
    error_message = "steering.continent: keys must be AF, AN, AS, EU, NA, OC or SA: ${join(", ", [for code in keys(var.steering.continent) : jsonencode(code) if !contains(["AF", "AN", "AS", "EU", "NA", "OC", "SA"], code)])}."
  }

  validation {
    # A network with its host bits clear, as meridian refuses "10.1.2.3/8".
    condition     = alltrue([for network in keys(var.steering.cidr) : try(cidrsubnet(network, 0, 0) == network, false)])
    error_message = "steering.cidr: keys must be networks with their host bits clear, e.g. \"198.51.100.0/24\": ${join(", ", [for network in keys(var.steering.cidr) : jsonencode(network) if !try(cidrsubnet(network, 0, 0) == network, false)])}."
  }
}

variable "health" {
  description = "Cross-region health ([health] in meridian.toml): how every node probes every region. Defaults are Meridian's."
  type = object({
    interval_ms      = optional(number, 1000)
    fast_interval_ms = optional(number, 250)
    jitter           = optional(number, 0.2)
    timeout_ms       = optional(number, 1000)
    fall             = optional(number, 3)
    rise             = optional(number, 5)
    hold_down_ms     = optional(number, 10000)
    fresh_every      = optional(number, 5)
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for value in [var.health.interval_ms, var.health.fast_interval_ms, var.health.timeout_ms] : value >= 1 && value <= 60000 && floor(value) == value]) && var.health.fast_interval_ms <= var.health.interval_ms
    error_message = "health: interval_ms, fast_interval_ms and timeout_ms must be whole numbers from 1 to 60000, and fast_interval_ms at most interval_ms (it paces a failing region's probes, which should come sooner)."
  }

  validation {
    condition     = var.health.jitter >= 0 && var.health.jitter <= 0.5
    error_message = "health.jitter = ${var.health.jitter}: must be between 0.0 and 0.5 (a share of the interval)."
  }

  validation {
    condition     = alltrue([for value in [var.health.fall, var.health.rise, var.health.fresh_every] : value >= 1 && value <= 4294967295 && floor(value) == value])
    error_message = "health: fall, rise and fresh_every must be whole numbers, at least 1."
  }

  validation {
    condition     = var.health.hold_down_ms >= 0 && var.health.hold_down_ms <= 3600000 && floor(var.health.hold_down_ms) == var.health.hold_down_ms
    error_message = "health.hold_down_ms = ${var.health.hold_down_ms}: must be a whole number from 0 to 3600000 (an hour)."
  }
}

variable "ports" {
  description = "The ports every node serves on its addresses: DNS (UDP and TCP), the HTTP proxy, and the status listener (peers' probes, dashboard, API)."
  type = object({
    dns    = optional(number, 53)
    http   = optional(number, 80)
    status = optional(number, 8053)
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for port in values(var.ports) : port >= 1 && port <= 65535 && floor(port) == port]) && length(distinct(values(var.ports))) == 3
    error_message = "ports: dns, http and status must be three different ports from 1 to 65535 (DNS listens on TCP too)."
  }
}

variable "listen_override" {
  description = "Per node name: the exact sockets the node binds AND advertises to peers (region files), instead of its public addresses on var.ports. For tests on loopback, or hosts whose public address is on an interface and whose ports differ. A node without an entry finds the local address to bind at boot."
  type = map(object({
    dns    = list(string)
    http   = string
    status = string
  }))
  default  = {}
  nullable = false

  validation {
    condition = alltrue(flatten([for node, listen in var.listen_override : [for address in concat(listen.dns, [listen.http, listen.status]) : try(
      (can(regex("^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}:[0-9]{1,5}$", address)) && !startswith(address, "0.0.0.0:")) ||
      (can(regex("^\\[[0-9A-Fa-f:.]+\\]:[0-9]{1,5}$", address)) && !contains(["::", "0.0.0.0"], try(cidrhost("${regex("^\\[(.*)\\]:", address)[0]}/128", 0), "::"))),
      false
    ) && try(tonumber(regex(":([0-9]{1,5})$", address)[0]) >= 1 && tonumber(regex(":([0-9]{1,5})$", address)[0]) <= 65535, false)]]))
    error_message = "listen_override: every address must be IPv4:port or [IPv6]:port with a port from 1 to 65535, not a wildcard (peers are told these addresses): ${join(", ", flatten([for node, listen in var.listen_override : [for address in concat(listen.dns, [listen.http, listen.status]) : "${node} (${jsonencode(address)})" if !(try(
      (can(regex("^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}:[0-9]{1,5}$", address)) && !startswith(address, "0.0.0.0:")) ||
      (can(regex("^\\[[0-9A-Fa-f:.]+\\]:[0-9]{1,5}$", address)) && !contains(["::", "0.0.0.0"], try(cidrhost("${regex("^\\[(.*)\\]:", address)[0]}/128", 0), "::"))),
      false
    ) && try(tonumber(regex(":([0-9]{1,5})$", address)[0]) >= 1 && tonumber(regex(":([0-9]{1,5})$", address)[0]) <= 65535, false))]]))}."
  }

  validation {
    condition     = alltrue([for listen in values(var.listen_override) : length(listen.dns) > 0 && length(distinct(listen.dns)) == length(listen.dns)])
    error_message = "listen_override: every node needs at least one DNS address, each listed once: ${join(", ", [for node, listen in var.listen_override : node if !(length(listen.dns) > 0 && length(distinct(listen.dns)) == length(listen.dns))])}."
  }
}

variable "geo_database" {
  description = "Path of the MaxMind DB file the nodes read (relative to meridian.toml, or absolute). Default: /var/lib/GeoIP/GeoLite2-City.mmdb with a GeoIP licence key, else the DB-IP database the package installs."
  type        = string
  default     = null

  validation {
    condition     = var.geo_database == null ? true : length(trimspace(var.geo_database)) > 0
    error_message = "geo_database: must name a file (or be left unset)."
  }
}
