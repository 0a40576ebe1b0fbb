# The delegation in the parent zone, when that zone is in Route 53 (parent_zone_id): one NS
# record set at the zone apex listing every node's name server, and the glue, one A (and
# AAAA) record set per name server. Elsewhere, copy output delegation_zone_file by hand.
#
# Route 53 holds one record set per name and type, so the NS records node-config lists
# one per node are gathered into a single set here: a resource per record would collide.

locals {
  ns_records = [for record in module.config.delegation_records : record if record.type == "NS"]
  # Name server name => its records (one per address), keyed by names that are known
  # before the addresses are.
  glue_a    = { for record in module.config.delegation_records : record.name => record... if record.type == "A" }
  glue_aaaa = { for record in module.config.delegation_records : record.name => record... if record.type == "AAAA" }
}

resource "aws_route53_record" "delegation_ns" {
  # Route 53 is global; any of the providers reaches it.
  provider = aws.us_east_1
  count    = var.parent_zone_id == null ? 0 : 1

  zone_id = var.parent_zone_id
  name    = var.zone_apex
  type    = "NS"
  ttl     = local.ns_records[0].ttl
  records = [for record in local.ns_records : record.value]
}

resource "aws_route53_record" "glue_a" {
  provider = aws.us_east_1
  for_each = { for name, records in local.glue_a : name => records if var.parent_zone_id != null }

  zone_id = var.parent_zone_id
  name    = each.key
  type    = "A"
  ttl     = each.value[0].ttl
  records = [for record in each.value : record.value]
}

resource "aws_route53_record" "glue_aaaa" {
  provider = aws.us_east_1
  for_each = { for name, records in local.glue_aaaa : name => records if var.parent_zone_id != null }

  zone_id = var.parent_zone_id
  name    = each.key
  type    = "AAAA"
  ttl     = each.value[0].ttl
  records = [for record in each.value : record.value]
}
