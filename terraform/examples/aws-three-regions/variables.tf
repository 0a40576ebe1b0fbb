# The example's inputs; terraform.tfvars.example shows a complete set.

variable "zone_apex" {
  description = "The domain Meridian answers for, delegated to its nodes by the parent zone, e.g. \"gtm.example.com\"."
  type        = string
}

variable "parent_zone_id" {
  description = "Route 53 hosted zone ID of the parent zone (example.com): the NS and glue records are created there. null: add them at your registrar or DNS host by hand (output delegation_zone_file)."
  type        = string
  default     = null
}

variable "package_url" {
  description = "HTTPS URL of the Meridian Debian package (amd64) that every node installs at first boot. It must stay reachable: instances replaced later fetch it again."
  type        = string
}

variable "admin_token" {
  description = "Bearer token for the nodes' admin actions (reload, drains), at least 16 characters: openssl rand -hex 24."
  type        = string
  sensitive   = true
}

variable "cookie_key" {
  description = "Key that signs sticky-backend cookies, the same on every node, at least 32 characters: openssl rand -hex 32."
  type        = string
  sensitive   = true
}

variable "geoip_account_id" {
  description = "MaxMind account ID for GeoLite2-City updates (geoipupdate on a timer); null: the database shipped in the package."
  type        = string
  default     = null
  sensitive   = true
}

variable "geoip_license_key" {
  description = "MaxMind licence key, with geoip_account_id."
  type        = string
  default     = null
  sensitive   = true
}

variable "admin_cidrs" {
  description = "Networks allowed to SSH to the nodes (and so to tunnel to their dashboards), e.g. [\"203.0.113.7/32\"]. Empty: no SSH. Never 0.0.0.0/0 or ::/0."
  type        = list(string)
  default     = []
}

variable "key_name" {
  description = "Name of an EC2 key pair imported under this name in each of the three AWS regions, for SSH as `admin`; null: no SSH login."
  type        = string
  default     = null
}

variable "instance_profile" {
  description = "IAM instance profile (global) for every node, only for an s3:// package_url: its role needs s3:GetObject on the package and nothing else. null: no role."
  type        = string
  default     = null
}

variable "instance_type" {
  description = "EC2 instance type of every node (x86_64, matching the amd64 package)."
  type        = string
  default     = "t3.small"
}

variable "nodes_per_region" {
  description = "Nodes per Meridian region (each a name server with its own Elastic IP); a region not listed has one."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for region, count in var.nodes_per_region : contains(["us-east", "eu-west", "ap-southeast"], region) && count >= 1 && count <= 8 && floor(count) == count])
    error_message = "nodes_per_region keys are us-east, eu-west and ap-southeast, each with a whole number of nodes from 1 to 8."
  }
}

variable "backends" {
  description = "Each region's HTTP backends, keyed by Meridian region: the proxy on port 80 forwards to them. A region without backends spills its HTTP requests to the nearest healthy region."
  type = map(list(object({
    id      = string
    address = string
    weight  = optional(number, 1)
  })))
  default = {}
}

variable "services" {
  description = "Steered names under the zone apex, answered with the nearest healthy region's addresses."
  type = list(object({
    name = string
    ttl  = optional(number)
  }))
  default = [{ name = "www" }]
}

variable "ports" {
  description = "The nodes' ports. DNS stays 53: that is where resolvers send the queries."
  type = object({
    dns    = optional(number, 53)
    http   = optional(number, 80)
    status = optional(number, 8053)
  })
  default = {
    dns    = 53
    http   = 80
    status = 8053
  }
}

variable "tags" {
  description = "Tags on every AWS resource (the providers' default_tags)."
  type        = map(string)
  default     = { project = "meridian" }
}
