# kubesmith's inventory contract, in one place: machines in, the outputs the terraform_output
# inventory plugin reads out (hosts, groups, cluster). Needs no provider.

terraform {
  required_version = ">= 1.0"
}

variable "hosts" {
  description = <<-EOT
    The machines: host name -> object with
      address (required): IP address or DNS name Ansible connects to
      user    (optional): SSH user (ansible_user); root when left out
      groups  (optional): kubesmith groups: kube_control_plane, kube_node, etcd, loadbalancers, lab
      vars    (optional): host variables, e.g. { ansible_become = true }
  EOT
  type        = any

  validation {
    condition     = alltrue([for name, h in var.hosts : can(regex("^[A-Za-z0-9][A-Za-z0-9._-]*$", name))])
    error_message = "Host names must start with a letter or digit and hold only letters, digits, '.', '_' and '-'."
  }
  validation {
    condition     = alltrue([for h in values(var.hosts) : can(regex("^[^[:space:]]+$", h.address))])
    error_message = "Every host needs an address: the IP address or DNS name Ansible connects to."
  }
  validation {
    condition = alltrue(flatten([for h in values(var.hosts) : [
      for g in try(h.groups, []) : can(regex("^[a-z_][a-z0-9_]*$", g))
    ]]))
    error_message = "Group names are lower-case letters, digits and '_' (kubesmith's: kube_control_plane, kube_node, etcd, loadbalancers)."
  }
}

variable "cluster" {
  description = "Variables for every host (group all), e.g. { kubesmith_kubernetes_version = \"1.31.4\", kubesmith_api_vip = \"10.0.0.10\" }."
  type        = any
  default     = {}
}

locals {
  hosts = { for name, h in var.hosts : name => {
    address = h.address
    user    = try(h.user, null)
    groups  = try(tolist(h.groups), [])
    vars    = try(h.vars, {})
  } }
  group_names = distinct(flatten([for h in values(local.hosts) : h.groups]))
}

output "hosts" {
  description = "Host name -> { address, user, groups, vars }."
  value       = local.hosts
}

output "groups" {
  description = "Group -> host names (the same membership as hosts[*].groups, for reading)."
  value       = { for g in local.group_names : g => sort([for name, h in local.hosts : name if contains(h.groups, g)]) }
}

output "cluster" {
  description = "Variables for every host."
  value       = var.cluster
}
