terraform {
  required_version = ">= 1.0"
  required_providers {
    # the 0.8 series: 0.9 rewrote the provider's schema
    libvirt = {
      source  = "dmacvicar/libvirt"
      version = "~> 0.8.1"
    }
  }
}

provider "libvirt" {
  uri = var.libvirt_uri
}
