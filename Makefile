# kubesmith's single entry point. Every target installs what it needs first (make setup is cheap
# when nothing changed). `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV      := .venv
BIN       := $(CURDIR)/$(VENV)/bin
PY        := $(BIN)/python
HOSTS     ?= 3
SCENARIO  ?= base
SCENARIOS ?= base node etcd-ha api-endpoint
LAB       := $(PY) -m lab
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(BIN):$(PATH)

# Kubernetes release of `make bundle` / `make cluster`, and where the offline bundle goes
K8S_VERSION ?= 1.31.4
BUNDLE_DIR ?= $(HOME)/.cache/kubesmith/offline-bundle
# end-to-end scenarios on a real kubeadm cluster: they need KUBESMITH_BUNDLE_DIR (README)
E2E_SCENARIOS ?= cluster cluster-ha
# the end-to-end checks' test pods and the sample apps' images, rolling update included
# (molecule/cluster/tests); make bundle puts them in the bundle
E2E_TEST_IMAGES ?= registry.k8s.io/e2e-test-images/agnhost:2.52 docker.io/library/nginx:1.27.3-alpine \
                   docker.io/library/nginx:1.27.4-alpine docker.io/library/busybox:1.36.1

BENCH_SIZES ?= 3 10
BENCH_REPS ?= 3

.PHONY: help setup lint unit render-check lab-up lab-down lab-status molecule e2e test bundle cluster bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

setup: ## venv, Python packages, collections, the lab's Debian packages (idempotent)
	@tools/setup.sh

lint: setup ## ansible-lint (production profile, offline), yamllint, ruff
	$(BIN)/yamllint --strict .
	$(BIN)/ruff check .
	$(BIN)/ansible-lint --offline --profile production

unit: setup ## unit tests (pytest tests/unit)
	rc=0; $(BIN)/pytest -q tests/unit || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "unit: no tests collected"; rc=0; fi; exit $$rc

render-check: setup ## render the sample apps and every CNI variant without a cluster, validate them strictly
	rm -rf .render/sample
	$(BIN)/ansible-playbook -i inventory/sample/hosts.yml playbooks/apps.yml -e apps_render_dir=$(CURDIR)/.render/sample
	$(BIN)/kubernetes-validate --strict --quiet -k 1.31.4 .render/sample/*.yaml
	rm -rf .render/cni
	$(BIN)/ansible-playbook -i localhost, roles/cni/tests/render.yml -e render_base=$(CURDIR)/.render/cni
	$(BIN)/kubernetes-validate --strict --quiet -k 1.31.4 .render/cni/*/*.yaml

lab-up: setup ## start HOSTS lab hosts (1 control plane + HOSTS-1 workers)
	$(LAB) up --control-plane 1 --workers $$(( $(HOSTS) - 1 ))

lab-down: setup ## stop the lab hosts and remove everything they made
	$(LAB) down

lab-status: setup ## show the lab hosts
	$(LAB) status

molecule: setup ## run one Molecule scenario on lab hosts (SCENARIO=name)
	$(BIN)/molecule test -s $(SCENARIO)

e2e: setup ## the end-to-end cluster scenarios (cluster, cluster-ha) with KUBESMITH_BUNDLE_DIR; else SKIPPED
	@if [ -z "$${KUBESMITH_BUNDLE_DIR:-}" ]; then \
	  echo "SKIPPED molecule $(E2E_SCENARIOS): skipped: no Kubernetes artifacts, see README (End-to-end cluster test):"; \
	  echo "        set KUBESMITH_BUNDLE_DIR to an offline bundle made by 'make bundle' on a machine with internet."; \
	else for s in $(E2E_SCENARIOS); do $(BIN)/molecule test -s $$s; done; fi

test: lint unit render-check ## everything CI runs: lint, unit, render check, lab tests, every Molecule scenario
	$(BIN)/pytest -q tests/integration tests/lab
	for s in $(SCENARIOS); do $(BIN)/molecule test -s $$s; done
	$(MAKE) --no-print-directory e2e

bundle: setup ## offline bundle of K8S_VERSION into BUNDLE_DIR (binaries, images, packages, manifests; needs internet)
	$(BIN)/ansible-playbook -i inventory/lab.terraform.yml playbooks/bundle.yml \
	  -e kubesmith_kubernetes_version=$(K8S_VERSION) -e kubesmith_bundle_dir=$(BUNDLE_DIR) \
	  -e '{"bundle_extra_images": $(shell python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' $(E2E_TEST_IMAGES))}'

cluster: lab-up bundle ## the main job: lab hosts up, bundle built or reused, `kubesmith up` from it on the lab
	$(BIN)/kubesmith up -i inventory/lab.terraform.yml \
	  -e kubesmith_kubernetes_version=$(K8S_VERSION) -e kubesmith_bundle_dir=$(BUNDLE_DIR)

bench: setup ## node tier on 3 and 10 lab hosts: median converge and no-op times (.bench/)
	$(PY) tools/bench.py --sizes $(BENCH_SIZES) --reps $(BENCH_REPS)

clean: ## lab down, then remove the venv and collections (caches in ~/.cache/kubesmith-lab stay)
	-[ -x $(PY) ] && $(LAB) down
	rm -rf $(VENV) .collections .cache
