# What to give the parent zone, where the nodes are, and how to reach their dashboards.

output "delegation_records" {
  description = "The NS and glue records for the parent zone, as {name, type, ttl, value}."
  value       = module.config.delegation_records
}

output "delegation_zone_file" {
  description = "The same records as zone-file lines, for a registrar or DNS host outside Route 53 (terraform output -raw delegation_zone_file)."
  value = join("\n", [
    for record in module.config.delegation_records : format(
      "%s %d IN %s %s",
      "${trimsuffix(record.name, ".")}.",
      record.ttl,
      record.type,
      record.type == "NS" ? "${trimsuffix(record.value, ".")}." : record.value,
    )
  ])
}

output "nodes" {
  description = "Every node: its region, addresses, status address and EC2 instance."
  value = {
    for name, node in module.config.nodes : name => merge(node, {
      instance_id = merge(module.us_east.instance_ids, module.eu_west.instance_ids, module.ap_southeast.instance_ids)[name]
    })
  }
}

output "dashboard_tunnels" {
  description = "The status port (dashboard, API, /healthz) admits only the other nodes. From a host in admin_cidrs, run one of these and open http://127.0.0.1:<status port>/ (any node's dashboard shows every region)."
  value = {
    for name, address in local.eips :
    name => "ssh -N -L ${var.ports.status}:${address}:${var.ports.status} admin@${address}"
  }
}

output "status_urls" {
  description = "Where the nodes probe each other (http://<Elastic IP>:<status port>/healthz); reachable only from the nodes themselves, so use dashboard_tunnels from elsewhere."
  value       = { for name, address in local.eips : name => "http://${address}:${var.ports.status}/healthz" }
}
