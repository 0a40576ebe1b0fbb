# What the caller feeds into node-config (the addresses) and what operators look up.

output "eips" {
  description = "Public IPv4 address per node name: the name servers' glue, the steered answers, the peers' probe targets. Known before any instance exists."
  value       = { for name, eip in aws_eip.node : name => eip.public_ip }
}

output "instance_ids" {
  description = "EC2 instance ID per node name."
  value       = { for name, instance in aws_instance.node : name => instance.id }
}

output "private_ips" {
  description = "Private IPv4 address per node name: the address on the instance's interface, where the node's sockets bind (an Elastic IP is translated to it, never on the interface)."
  value       = { for name, instance in aws_instance.node : name => instance.private_ip }
}

output "security_group_id" {
  description = "The nodes' security group."
  value       = aws_security_group.node.id
}
