# The nodes' firewall: DNS and the HTTP proxy from anywhere (that is what they serve), the
# status port from the other nodes only (their health probes), SSH from admin_cidrs only,
# and every outbound connection (the package, geo updates, peers, backends on any port).
# terraform/checks/policy.py holds these rules to that, and checkov checks the rest.

resource "aws_security_group" "node" {
  name_prefix = "meridian-${var.region_name}-"
  description = "Meridian nodes of region ${var.region_name}: DNS and HTTP from anywhere, status from peers, SSH from admins"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, {
    Name              = "meridian-${var.region_name}"
    "meridian:region" = var.region_name
  })

  lifecycle {
    # A replacement (new VPC, say) is attached before the old group is let go.
    create_before_destroy = true
  }
}

# DNS: the parent zone's NS records send every resolver in the world here, over UDP and,
# for truncated answers and zone-size responses, TCP.

resource "aws_vpc_security_group_ingress_rule" "dns_udp_v4" {
  security_group_id = aws_security_group.node.id
  description       = "DNS over UDP from anywhere (authoritative name server)"
  ip_protocol       = "udp"
  from_port         = var.ports.dns
  to_port           = var.ports.dns
  cidr_ipv4         = "0.0.0.0/0"
  tags              = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "dns_udp_v6" {
  security_group_id = aws_security_group.node.id
  description       = "DNS over UDP from anywhere (authoritative name server)"
  ip_protocol       = "udp"
  from_port         = var.ports.dns
  to_port           = var.ports.dns
  cidr_ipv6         = "::/0"
  tags              = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "dns_tcp_v4" {
  security_group_id = aws_security_group.node.id
  description       = "DNS over TCP from anywhere (truncated answers)"
  ip_protocol       = "tcp"
  from_port         = var.ports.dns
  to_port           = var.ports.dns
  cidr_ipv4         = "0.0.0.0/0"
  tags              = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "dns_tcp_v6" {
  security_group_id = aws_security_group.node.id
  description       = "DNS over TCP from anywhere (truncated answers)"
  ip_protocol       = "tcp"
  from_port         = var.ports.dns
  to_port           = var.ports.dns
  cidr_ipv6         = "::/0"
  tags              = var.tags
}

# The region's HTTP proxy: the steered names point clients here.

resource "aws_vpc_security_group_ingress_rule" "http_v4" {
  security_group_id = aws_security_group.node.id
  description       = "HTTP proxy from anywhere (steered clients)"
  ip_protocol       = "tcp"
  from_port         = var.ports.http
  to_port           = var.ports.http
  cidr_ipv4         = "0.0.0.0/0"
  tags              = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "http_v6" {
  security_group_id = aws_security_group.node.id
  description       = "HTTP proxy from anywhere (steered clients)"
  ip_protocol       = "tcp"
  from_port         = var.ports.http
  to_port           = var.ports.http
  cidr_ipv6         = "::/0"
  tags              = var.tags
}

# Path MTU discovery: without "fragmentation needed" (IPv4) and "packet too big" (IPv6)
# from anywhere, a client behind a smaller MTU stalls on large responses. ICMP rules take
# the type in from_port and the code in to_port.

resource "aws_vpc_security_group_ingress_rule" "pmtu_v4" {
  security_group_id = aws_security_group.node.id
  description       = "ICMP fragmentation needed (path MTU discovery)"
  ip_protocol       = "icmp"
  from_port         = 3
  to_port           = 4
  cidr_ipv4         = "0.0.0.0/0"
  tags              = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "pmtu_v6" {
  security_group_id = aws_security_group.node.id
  description       = "ICMPv6 packet too big (path MTU discovery)"
  ip_protocol       = "icmpv6"
  from_port         = 2
  to_port           = 0
  cidr_ipv6         = "::/0"
  tags              = var.tags
}

# The status port (/healthz, the API, the dashboard, admin actions): every node probes
# every region, its own included, at the nodes' public addresses, so the sources are the
# other regions' nodes and this region's Elastic IPs (traffic to an Elastic IP from inside
# AWS arrives from the sender's public address). Each is a single host: /32 or /128.

resource "aws_vpc_security_group_ingress_rule" "status_peer" {
  for_each = var.peer_addresses

  security_group_id = aws_security_group.node.id
  description       = "Meridian status port from peer node ${each.key} (health probes)"
  ip_protocol       = "tcp"
  from_port         = var.ports.status
  to_port           = var.ports.status
  cidr_ipv4         = strcontains(each.value, ":") ? null : "${each.value}/32"
  cidr_ipv6         = strcontains(each.value, ":") ? "${each.value}/128" : null
  tags              = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "status_region" {
  for_each = aws_eip.node

  security_group_id = aws_security_group.node.id
  description       = "Meridian status port from node ${each.key} of this region (health probes)"
  ip_protocol       = "tcp"
  from_port         = var.ports.status
  to_port           = var.ports.status
  cidr_ipv4         = "${each.value.public_ip}/32"
  tags              = var.tags
}

# SSH from the operators' networks only (validated: never the world). The dashboard is
# reached through it, as a tunnel to the status port.

resource "aws_vpc_security_group_ingress_rule" "ssh_v4" {
  for_each = toset([for cidr in var.admin_cidrs : cidr if !strcontains(cidr, ":")])

  security_group_id = aws_security_group.node.id
  description       = "SSH from admin network ${each.value}"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = each.value
  tags              = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "ssh_v6" {
  for_each = toset([for cidr in var.admin_cidrs : cidr if strcontains(cidr, ":")])

  security_group_id = aws_security_group.node.id
  description       = "SSH from admin network ${each.value}"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv6         = each.value
  tags              = var.tags
}

# Outbound: the package and apt, geoipupdate, the peers' status ports, and the region's
# backends, which may listen on any port anywhere.

resource "aws_vpc_security_group_egress_rule" "all_v4" {
  security_group_id = aws_security_group.node.id
  description       = "All outbound: package, geo updates, peers, backends"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
  tags              = var.tags
}

resource "aws_vpc_security_group_egress_rule" "all_v6" {
  security_group_id = aws_security_group.node.id
  description       = "All outbound: package, geo updates, peers, backends"
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
  tags              = var.tags
}
