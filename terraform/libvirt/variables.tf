variable "libvirt_uri" {
  description = "libvirt connection, e.g. qemu:///system or qemu+ssh://root@kvm1/system."
  type        = string
  default     = "qemu:///system"
}

variable "name_prefix" {
  description = "Prefix of every machine, volume and network name (one cluster per prefix)."
  type        = string
  default     = "ks"
}

variable "pool" {
  description = "libvirt storage pool for the disks and cloud-init images."
  type        = string
  default     = "default"
}

variable "base_image" {
  description = "Debian 12 or Ubuntu 22.04/24.04 cloud image (qcow2): a URL or a path on the libvirt host."
  type        = string
  default     = "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2"
}

variable "network_cidr" {
  description = "Subnet of the cluster's NAT network. Machines get .11 upwards; keep .2-.10 for virtual IPs. Must not overlap the pod or service CIDR."
  type        = string
  default     = "172.31.90.0/24"
}

variable "machines" {
  description = "How many machines of each kubesmith group, and their size (disk in GiB)."
  type = map(object({
    count  = number
    vcpu   = number
    memory = number
    disk   = number
  }))
  default = {
    kube_control_plane = { count = 1, vcpu = 2, memory = 2048, disk = 20 }
    kube_node          = { count = 2, vcpu = 2, memory = 2048, disk = 20 }
    etcd               = { count = 0, vcpu = 1, memory = 1024, disk = 10 }
    loadbalancers      = { count = 0, vcpu = 1, memory = 512, disk = 10 }
  }

  validation {
    condition     = alltrue([for g in keys(var.machines) : contains(["kube_control_plane", "kube_node", "etcd", "loadbalancers"], g)])
    error_message = "Keys of machines are kubesmith groups: kube_control_plane, kube_node, etcd, loadbalancers."
  }
}

variable "ssh_user" {
  description = "User cloud-init creates with passwordless sudo; Ansible connects as this user and becomes root."
  type        = string
  default     = "kubesmith"
}

variable "ssh_public_key" {
  description = "Public key (one line) authorised for ssh_user."
  type        = string
}

variable "ssh_private_key_file" {
  description = "Private key file on the Ansible controller (ansible_ssh_private_key_file); null to use the SSH agent."
  type        = string
  default     = null
}

variable "kubesmith_kubernetes_version" {
  description = "Kubernetes version kubesmith installs (cluster-wide variable kubesmith_kubernetes_version); null to leave it to the inventory."
  type        = string
  default     = null
}

variable "kubesmith_api_vip" {
  description = "Virtual IP of the Kubernetes API (cluster-wide variable kubesmith_api_vip), e.g. an unused address in .2-.10 of network_cidr; null for none."
  type        = string
  default     = null
}
