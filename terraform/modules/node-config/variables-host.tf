# What each host needs beyond the config files: the secrets (which go to the environment
# file, never to the config), the package to install, and the optional MaxMind account.
#
# Secrets are restricted to characters that need no quoting in a systemd environment file
# (systemd expands "$" and strips quotes and backslashes there): `openssl rand -hex 24` or
# `openssl rand -base64 33` output fits.

variable "admin_token" {
  description = "Bearer token of the admin API and dashboard (MERIDIAN_ADMIN_TOKEN); required because every node's status listener is reachable by its peers. At least 16 characters: letters, digits and . _ ~ + / = -"
  type        = string
  sensitive   = true
  nullable    = false

  validation {
    condition     = length(var.admin_token) >= 16 && can(regex("^[A-Za-z0-9._~+/=-]+$", var.admin_token))
    error_message = "admin_token: needs at least 16 characters (meridian refuses shorter ones), only letters, digits and . _ ~ + / = - (so the environment file needs no quoting); e.g. openssl rand -hex 24."
  }
}

variable "cookie_key" {
  description = "Key that signs sticky-backend cookies (MERIDIAN_COOKIE_KEY), the same on every node; required when a region's proxy is sticky. At least 32 characters: letters, digits and . _ ~ + / = -"
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.cookie_key == null ? true : (length(var.cookie_key) >= 32 && can(regex("^[A-Za-z0-9._~+/=-]+$", var.cookie_key)))
    error_message = "cookie_key: needs at least 32 characters (meridian refuses shorter ones), only letters, digits and . _ ~ + / = - (so the environment file needs no quoting); e.g. openssl rand -hex 32."
  }
}

variable "package_url" {
  description = "Where cloud-init fetches Meridian's .deb: an https:// URL (curl), or an s3://bucket/key object (the aws CLI, with the instance's role)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^(https://[^[:space:]'\"\\\\]+|s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[^[:space:]'\"\\\\]+)$", var.package_url))
    error_message = "package_url = ${jsonencode(var.package_url)}: must be an https:// URL or an s3://bucket/key object, without spaces, quotes or backslashes."
  }
}

variable "package_sha256" {
  description = "SHA-256 of the .deb (lower-case hex); when set, cloud-init refuses a download that does not match."
  type        = string
  default     = null

  validation {
    condition     = var.package_sha256 == null ? true : can(regex("^[0-9a-f]{64}$", var.package_sha256))
    error_message = "package_sha256: must be 64 lower-case hex digits (sha256sum's output)."
  }
}

variable "geoip_account_id" {
  description = "MaxMind account ID, with geoip_license_key: the nodes then fetch GeoLite2-City with geoipupdate on a timer instead of using the packaged DB-IP database."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.geoip_account_id == null ? true : can(regex("^[0-9]{1,12}$", var.geoip_account_id))
    error_message = "geoip_account_id: must be the numeric MaxMind account ID."
  }
}

variable "geoip_license_key" {
  description = "MaxMind licence key, with geoip_account_id."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.geoip_license_key == null ? true : can(regex("^[A-Za-z0-9_]{8,128}$", var.geoip_license_key))
    error_message = "geoip_license_key: must be a MaxMind licence key (letters, digits and '_')."
  }
}
