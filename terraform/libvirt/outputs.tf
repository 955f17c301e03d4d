# kubesmith's output contract (../README.md): read by inventory_plugins/terraform_output.py.

output "hosts" {
  description = "Host name -> { address, user, groups, vars }."
  value       = module.inventory.hosts
}

output "groups" {
  description = "kubesmith group -> host names."
  value       = module.inventory.groups
}

output "cluster" {
  description = "Variables for every host: kubesmith_kubernetes_version and kubesmith_api_vip when set."
  value       = module.inventory.cluster
}
