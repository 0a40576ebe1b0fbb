# One Meridian region on AWS: per node an Elastic IP, a Debian instance running the node's
# cloud-config, and the association between the two.
#
# The Elastic IPs do not depend on the instances, so a caller can allocate them, render
# every node's config from them (node-config), and pass that config back in as user_data:
# the addresses are in the graph before the instances, and nothing here refers back.
# All the logic (what the config says) lives in node-config, which is tested offline; this
# module only places it.

data "aws_ami" "debian" {
  # Debian's own account (the Debian cloud team's official images).
  owners      = ["136693071363"]
  most_recent = true

  filter {
    name = "name"
    # Debian 12 images are named debian-12-<arch>-<date>-<build>; listing both arches
    # keeps debian-12-backports-* out, and the architecture filter picks one.
    values = ["debian-12-amd64-*", "debian-12-arm64-*"]
  }

  filter {
    name   = "architecture"
    values = [var.architecture]
  }

  filter {
    name   = "virtualization-type"
    values = ["hvm"]
  }

  filter {
    name   = "root-device-type"
    values = ["ebs"]
  }
}

# A name server's address is what the parent zone's glue records point at: allocated on
# its own, so that it outlives any instance and is known before the config is rendered.
resource "aws_eip" "node" {
  for_each = toset(var.node_names)

  domain = "vpc"

  tags = merge(var.tags, {
    Name              = "meridian-${each.key}"
    "meridian:region" = var.region_name
    "meridian:node"   = each.key
  })
}

resource "aws_instance" "node" {
  for_each = toset(var.node_names)

  ami                    = data.aws_ami.debian.id
  instance_type          = var.instance_type
  subnet_id              = var.subnet_id
  vpc_security_group_ids = [aws_security_group.node.id]
  key_name               = var.key_name
  iam_instance_profile   = var.instance_profile
  monitoring             = var.detailed_monitoring
  ebs_optimized          = true

  # Gzipped: EC2 caps user data at 16 KiB, and the cloud-config carries every region's
  # file; cloud-init unzips it. cloud-init applies user data on an instance's first boot
  # only, so a changed config must mean a new instance, never a stopped and restarted one
  # still running the old config. The Elastic IP moves to the new instance.
  user_data_base64            = base64gzip(var.user_data[each.key])
  user_data_replace_on_change = true

  # IMDSv2 only (a session token, no hop beyond the instance): the metadata service is
  # not reachable through a request forged by a proxied client.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  root_block_device {
    encrypted             = true
    volume_type           = "gp3"
    delete_on_termination = true
  }

  tags = merge(var.tags, {
    Name              = "meridian-${each.key}"
    "meridian:region" = var.region_name
    "meridian:node"   = each.key
  })

  lifecycle {
    # A newer Debian image must not replace every name server at once at the next apply.
    # Terraform keeps an ignored attribute on replacement too, so an instance replaced for
    # a new config keeps its image; a node moves to the newest image when its instance is
    # destroyed and created anew (the example's README: one node at a time).
    ignore_changes = [ami]
  }
}

resource "aws_eip_association" "node" {
  for_each = toset(var.node_names)

  allocation_id = aws_eip.node[each.key].id
  instance_id   = aws_instance.node[each.key].id
}
