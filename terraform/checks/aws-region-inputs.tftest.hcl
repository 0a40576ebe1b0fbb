# The aws-region module's input validations, run by aws.sh on a copy of the module's
# variables.tf alone: no resource, so no provider, so it runs offline. Every rule has a
# run that it must refuse, and one run passes everything that should pass.

variables {
  region_name = "eu-west"
  node_names  = ["eu-west-n1", "eu-west-n2"]
  user_data = {
    "eu-west-n1" = "#cloud-config\n"
    "eu-west-n2" = "#cloud-config\n"
    "us-east-n1" = "#cloud-config\n"
  }
  admin_cidrs    = ["203.0.113.7/32", "198.51.100.0/24", "2001:db8::/48"]
  peer_addresses = { "us-east-n1" = "192.0.2.10", "ap-southeast-n1" = "2001:db8::10" }
}

run "accepts_a_sound_region" {
  command = plan
}

run "refuses_ssh_from_the_ipv4_world" {
  command = plan
  variables {
    admin_cidrs = ["203.0.113.7/32", "0.0.0.0/0"]
  }
  expect_failures = [var.admin_cidrs]
}

run "refuses_ssh_from_the_ipv6_world" {
  command = plan
  variables {
    admin_cidrs = ["::/0"]
  }
  expect_failures = [var.admin_cidrs]
}

run "refuses_the_world_in_other_spellings" {
  command = plan
  variables {
    admin_cidrs = ["10.0.0.0/0"]
  }
  expect_failures = [var.admin_cidrs]
}

run "refuses_half_the_world" {
  command = plan
  variables {
    admin_cidrs = ["0.0.0.0/1", "128.0.0.0/1"]
  }
  expect_failures = [var.admin_cidrs]
}

run "refuses_a_wide_ipv6_network" {
  command = plan
  variables {
    admin_cidrs = ["2000::/3"]
  }
  expect_failures = [var.admin_cidrs]
}

run "refuses_an_address_without_prefix" {
  command = plan
  variables {
    admin_cidrs = ["203.0.113.7"]
  }
  expect_failures = [var.admin_cidrs]
}

run "refuses_a_peer_network" {
  command = plan
  variables {
    peer_addresses = { "us-east-n1" = "0.0.0.0/0" }
  }
  expect_failures = [var.peer_addresses]
}

run "refuses_a_bad_region_name" {
  command = plan
  variables {
    region_name = "EU_West"
  }
  expect_failures = [var.region_name]
}

run "refuses_no_nodes" {
  command = plan
  variables {
    node_names = []
  }
  expect_failures = [var.node_names]
}

run "refuses_a_node_twice" {
  command = plan
  variables {
    node_names = ["eu-west-n1", "eu-west-n1"]
  }
  expect_failures = [var.node_names]
}

run "refuses_a_node_without_user_data" {
  command = plan
  variables {
    node_names = ["eu-west-n1", "eu-west-n3"]
  }
  expect_failures = [var.user_data]
}

run "refuses_another_architecture" {
  command = plan
  variables {
    architecture = "amd64"
  }
  expect_failures = [var.architecture]
}

run "refuses_a_subnet_without_its_vpc" {
  command = plan
  variables {
    subnet_id = "subnet-0123456789abcdef0"
  }
  expect_failures = [var.subnet_id]
}
