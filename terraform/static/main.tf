# Hosts that already exist (bare metal, or VMs made by something else), written in kubesmith's
# output contract. List them in terraform.tfvars (see terraform.tfvars.example) and
# `terraform apply`: no provider, no resource, only outputs.

terraform {
  required_version = ">= 1.0"
}

variable "hosts" {
  description = "Host name -> { address, user, groups, vars } (see ../modules/kubesmith_inventory)."
  type        = any
}

variable "cluster" {
  description = "Variables for every host, e.g. { kubesmith_kubernetes_version = \"1.31.4\" } (checked by playbooks/validate.yml)."
  type        = any
  default     = {}
}

module "inventory" {
  source  = "../modules/kubesmith_inventory"
  hosts   = var.hosts
  cluster = var.cluster
}

output "hosts" {
  value = module.inventory.hosts
}

output "groups" {
  value = module.inventory.groups
}

output "cluster" {
  value = module.inventory.cluster
}
