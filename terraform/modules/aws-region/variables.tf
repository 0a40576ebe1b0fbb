# Inputs of one Meridian region on AWS. The validations here are tested offline by
# terraform/checks/aws.sh (this file alone, without the provider).

variable "region_name" {
  description = "The Meridian region these nodes serve (a key of node-config's `regions`), e.g. \"eu-west\"."
  type        = string

  validation {
    # The shape `meridian check-config` accepts for a region name.
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,62}$", var.region_name))
    error_message = "region_name must be 1-63 characters of a-z, 0-9 and '-', not starting with '-'."
  }
}

variable "node_names" {
  description = "The region's nodes, as named in node-config's `regions[*].nodes[*].name`: one instance and one Elastic IP each."
  type        = list(string)

  validation {
    condition     = length(var.node_names) > 0 && length(distinct(var.node_names)) == length(var.node_names)
    error_message = "node_names must list at least one node, each name once."
  }
}

variable "user_data" {
  description = "Cloud-config per node name (node-config's `cloud_init`; it may hold other regions' nodes too, only node_names are read)."
  type        = map(string)
  sensitive   = true

  validation {
    condition     = alltrue([for name in var.node_names : contains(keys(var.user_data), name)])
    error_message = "user_data must have an entry for every name in node_names."
  }
}

variable "instance_type" {
  description = "EC2 instance type of every node. It must match `architecture` (x86_64: t3, m6i, c6i...; arm64: t4g, m7g...)."
  type        = string
  # 2 vCPUs at a 20 % baseline (twice t3.micro's) and 2 GiB, room for a GeoLite2-City
  # database and many proxied connections, at about 15-19 USD a month. x86_64, because
  # the Debian package that CI builds is amd64.
  default = "t3.small"
}

variable "architecture" {
  description = "CPU architecture of the Debian AMI, which must match the package at package_url: \"x86_64\" (amd64) or \"arm64\"."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be \"x86_64\" or \"arm64\"."
  }
}

variable "admin_cidrs" {
  description = "Networks allowed to reach SSH (port 22), e.g. [\"203.0.113.7/32\"]. Empty: no SSH at all."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for cidr in var.admin_cidrs : can(cidrhost(cidr, 0))])
    error_message = "Every admin_cidrs entry must be an address with a prefix length, e.g. \"203.0.113.7/32\" or \"2001:db8::/48\"."
  }

  validation {
    # Not just the two spellings 0.0.0.0/0 and ::/0: any prefix this short is the world,
    # or most of it, and SSH must never be open to it.
    condition = alltrue([
      for cidr in var.admin_cidrs :
      try(tonumber(split("/", cidr)[1]), -1) >= (strcontains(cidr, ":") ? 32 : 8)
    ])
    error_message = "admin_cidrs must never open SSH to the world: 0.0.0.0/0 and ::/0 are refused, and so is any prefix shorter than /8 (IPv4) or /32 (IPv6)."
  }
}

variable "peer_addresses" {
  description = "The other regions' nodes that probe this region's status port: node name -> public IPv4 or IPv6 address (no prefix). This region's own nodes are added by the module. Keyed by name so that addresses not yet allocated still plan."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for address in values(var.peer_addresses) : !strcontains(address, "/")])
    error_message = "peer_addresses are single addresses without a prefix length; the module adds /32 or /128."
  }
}

variable "vpc_id" {
  description = "VPC of the security group; null: the region's default VPC. Give subnet_id with it."
  type        = string
  default     = null
}

variable "subnet_id" {
  description = "Subnet of the instances (a public one: the nodes need a route to an internet gateway); null: a default subnet of the default VPC."
  type        = string
  default     = null

  validation {
    condition     = (var.vpc_id == null) == (var.subnet_id == null)
    error_message = "Give vpc_id and subnet_id together (a subnet of that VPC), or neither for the default VPC."
  }
}

variable "key_name" {
  description = "EC2 key pair for SSH as user `admin` (Debian's AMI user); null: no key, no SSH login."
  type        = string
  default     = null
}

variable "instance_profile" {
  description = "IAM instance profile for the nodes, only needed when node-config's package_url is an s3:// object (the role needs s3:GetObject on it and nothing else); null: no role, the nodes call no AWS API."
  type        = string
  default     = null
}

variable "detailed_monitoring" {
  description = "1-minute CloudWatch metrics per instance (about 2 USD a month each); the nodes export their own Prometheus metrics either way."
  type        = bool
  default     = false
}

variable "ports" {
  description = "The nodes' ports, as given to node-config: DNS (the parent's NS records reach port 53 only), the HTTP proxy, the status listener."
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
  description = "Tags on every resource of the module (the provider's default_tags are added by AWS)."
  type        = map(string)
  default     = {}
}
