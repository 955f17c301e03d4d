# Machines for a kubesmith cluster on one libvirt host: a NAT network, a disk per machine on a
# shared base image, cloud-init for the SSH user, and fixed addresses (DHCP reservations), so
# the outputs are known at plan time and stay the same across applies.

locals {
  prefixes = { kube_control_plane = "cp", kube_node = "worker", etcd = "etcd", loadbalancers = "lb" }
  machine_list = flatten([
    for group in ["kube_control_plane", "etcd", "loadbalancers", "kube_node"] : [
      for i in range(try(var.machines[group].count, 0)) : {
        name   = "${var.name_prefix}-${local.prefixes[group]}${i + 1}"
        group  = group
        vcpu   = var.machines[group].vcpu
        memory = var.machines[group].memory
        disk   = var.machines[group].disk
      }
    ]
  ])
  machines = { for idx, m in local.machine_list : m.name => merge(m, {
    address = cidrhost(var.network_cidr, 11 + idx)
  }) }
}

resource "libvirt_network" "cluster" {
  name      = var.name_prefix
  mode      = "nat"
  domain    = "${var.name_prefix}.internal"
  addresses = [var.network_cidr]
  autostart = true

  dhcp {
    enabled = true
  }

  dns {
    enabled    = true
    local_only = true
  }
}

resource "libvirt_volume" "base" {
  name   = "${var.name_prefix}-base.qcow2"
  pool   = var.pool
  source = var.base_image
  format = "qcow2"
}

resource "libvirt_volume" "disk" {
  for_each       = local.machines
  name           = "${each.key}.qcow2"
  pool           = var.pool
  base_volume_id = libvirt_volume.base.id
  size           = each.value.disk * 1024 * 1024 * 1024
  format         = "qcow2"
}

resource "libvirt_cloudinit_disk" "init" {
  for_each = local.machines
  name     = "${each.key}-init.iso"
  pool     = var.pool
  user_data = templatefile("${path.module}/cloud-init.yaml.tftpl", {
    hostname       = each.key
    user           = var.ssh_user
    ssh_public_key = var.ssh_public_key
  })
}

resource "libvirt_domain" "machine" {
  for_each  = local.machines
  name      = each.key
  vcpu      = each.value.vcpu
  memory    = each.value.memory
  autostart = true
  cloudinit = libvirt_cloudinit_disk.init[each.key].id

  cpu {
    mode = "host-passthrough"
  }

  disk {
    volume_id = libvirt_volume.disk[each.key].id
  }

  network_interface {
    network_id     = libvirt_network.cluster.id
    hostname       = each.key
    addresses      = [each.value.address]
    wait_for_lease = true
  }

  console {
    type        = "pty"
    target_type = "serial"
    target_port = "0"
  }
}

module "inventory" {
  source = "../modules/kubesmith_inventory"
  hosts = { for name, m in local.machines : name => {
    # the address the domain really got, once it exists
    address = try(libvirt_domain.machine[name].network_interface[0].addresses[0], m.address)
    user    = var.ssh_user
    groups  = [m.group]
    vars = merge(
      { ansible_become = true },
      var.ssh_private_key_file == null ? {} : { ansible_ssh_private_key_file = var.ssh_private_key_file },
    )
  } }
  # cluster-wide kubesmith_* variables (checked by playbooks/validate.yml); the API endpoint
  # itself is a fact of the api_endpoint role, not set here
  cluster = merge(
    var.kubesmith_kubernetes_version == null ? {} : { kubesmith_kubernetes_version = var.kubesmith_kubernetes_version },
    var.kubesmith_api_vip == null ? {} : { kubesmith_api_vip = var.kubesmith_api_vip },
  )
}
