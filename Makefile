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

BENCH_SIZES ?= 3 10
BENCH_REPS ?= 3

.PHONY: help setup lint unit render-check lab-up lab-down lab-status molecule test cluster bench clean

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

render-check: setup ## render the sample apps without a cluster and validate the files strictly
	rm -rf .render/sample
	$(BIN)/ansible-playbook -i inventory/sample/hosts.yml playbooks/apps.yml -e apps_render_dir=$(CURDIR)/.render/sample
	$(BIN)/kubernetes-validate --strict --quiet -k 1.31.4 .render/sample/*.yaml

lab-up: setup ## start HOSTS lab hosts (1 control plane + HOSTS-1 workers)
	$(LAB) up --control-plane 1 --workers $$(( $(HOSTS) - 1 ))

lab-down: setup ## stop the lab hosts and remove everything they made
	$(LAB) down

lab-status: setup ## show the lab hosts
	$(LAB) status

molecule: setup ## run one Molecule scenario on lab hosts (SCENARIO=name)
	$(BIN)/molecule test -s $(SCENARIO)

test: lint unit render-check ## everything CI runs: lint, unit, render check, lab tests, every Molecule scenario
	$(BIN)/pytest -q tests/integration tests/lab
	for s in $(SCENARIOS); do $(BIN)/molecule test -s $$s; done

cluster: lab-up ## the main job: lab hosts up, then `kubesmith up` on them through the Terraform inventory plugin
	$(BIN)/kubesmith up -i inventory/lab.terraform.yml

bench: setup ## node tier on 3 and 10 lab hosts: median converge and no-op times (.bench/)
	$(PY) tools/bench.py --sizes $(BENCH_SIZES) --reps $(BENCH_REPS)

clean: ## lab down, then remove the venv and collections (caches in ~/.cache/kubesmith-lab stay)
	-[ -x $(PY) ] && $(LAB) down
	rm -rf $(VENV) .collections .cache
