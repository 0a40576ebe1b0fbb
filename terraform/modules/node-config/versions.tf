# No provider at all: everything here is plain Terraform, so the module initialises,
# validates, tests and applies (outputs only) offline.
terraform {
  required_version = ">= 1.6"
}
