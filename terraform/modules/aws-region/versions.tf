# The AWS provider this module needs; the caller passes its configuration in
# (`providers = { aws = aws.<alias> }`), so one module block serves one AWS region.
terraform {
  # 1.9: a variable's validation may refer to other variables (subnet_id needs vpc_id).
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.x has the per-rule security group resources used here; 6.x keeps them.
      version = ">= 5.40, < 7.0"
    }
  }
}
