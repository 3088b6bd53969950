# Every user-facing target builds .venv first, so a fresh clone needs only `make eval MODEL=...` / `make test`.
# Variables: MODEL, SCALE, SEED, STEPS, NPROC, SUITES, LIMIT, SEEDS, TABLE, K, PROMPTS, OUT, ACT,
# FROM_HF, RECIPE, NAME; TORCH_SPEC for a GPU build of torch.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
TORCH_SPEC ?= torch==2.13.0
EVALPLUS_SPEC ?= evalplus==0.3.1

MODEL ?= stocha-p0.7-a0.05
SCALE ?= small
SEED ?= 0
SEEDS ?= 3
NPROC ?= 1
STEPS ?=
SUITES ?=
LIMIT ?=

# Offline by default: never reach the Hub at run time.
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1

.PHONY: setup test test-all lint ls eval train profile diversity export finetune bench selfcheck paper plots data clean-venv

# bubblewrap builds the namespaces around generated code (harness/sandbox/isolation.py); it is installed only where
# that works unattended (root with apt-get), and setup never fails over it: unshare (util-linux) or the in-process
# guard alone take over, and `python -m harness selfcheck` says which runs.
$(VENV)/.installed: pyproject.toml
	@command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -q bubblewrap >/dev/null 2>&1 && \
		echo "installed bubblewrap (apt-get)"; } || echo "bubblewrap not installed: unshare or the guard alone will isolate generated code"
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e '.[dev]'
	@# evalplus without its declared dependencies: they are API clients its evaluation never imports.
	$(BIN)/pip install -q --no-deps "$(EVALPLUS_SPEC)"
	touch $@

setup: $(VENV)/.installed

test: $(VENV)/.installed
	OMP_NUM_THREADS=1 $(PYTHON) -m pytest -q

test-all: $(VENV)/.installed
	OMP_NUM_THREADS=1 $(PYTHON) -m pytest -q -m "slow or not slow"

lint: $(VENV)/.installed
	$(BIN)/ruff check harness models suites reports tests

ls: $(VENV)/.installed
	$(PYTHON) -m harness ls

# Optional flags are passed only when set, so the CLI's own defaults apply otherwise.
_STEPS := $(if $(STEPS),--steps $(STEPS))
_SUITES := $(if $(SUITES),--suites $(SUITES))
_LIMIT := $(if $(LIMIT),--limit $(LIMIT))

# The one target that goes online: benchmark data no package ships (evalplus, lm-eval's gsm8k).
data: $(VENV)/.installed
	HF_HUB_OFFLINE=0 HF_DATASETS_OFFLINE=0 $(PYTHON) -m harness data --fetch --stats

train: $(VENV)/.installed
ifeq ($(NPROC),1)
	$(PYTHON) -m harness train --model $(MODEL) --scale $(SCALE) --seed $(SEED) $(_STEPS) --resume
else
	$(BIN)/torchrun --standalone --nproc_per_node=$(NPROC) -m harness train --model $(MODEL) \
		--scale $(SCALE) --seed $(SEED) $(_STEPS) --resume
endif

eval: $(VENV)/.installed
	$(PYTHON) -m harness eval --model $(MODEL) --scale $(SCALE) --seed $(SEED) $(_SUITES) $(_LIMIT)

profile: $(VENV)/.installed
	$(PYTHON) -m harness profile --model $(MODEL) --scale $(SCALE) --seed $(SEED)

# Generation diversity: stochastic activation at inference vs temperature / top-p (trains first if needed).
diversity: $(VENV)/.installed
	$(PYTHON) -m harness diversity --model $(MODEL) --scale $(SCALE) --seed $(SEED) $(_SUITES) \
		$(if $(K),--k $(K)) $(if $(PROMPTS),--prompts $(PROMPTS))
	$(PYTHON) -m reports all

# Hugging Face interop. `make export MODEL=relu SCALE=tiny OUT=/tmp/relu-hf [ACT=silu]` writes a transformers
# checkpoint; `make finetune FROM_HF=~/models/SmolLM2-135M [RECIPE=stocha-p0.7] [STEPS=500] [NAME=...]` relufies
# a local Llama checkpoint into the run hf-NAME (then `make eval SCALE=hf-NAME MODEL=<the variant it prints>`).
RECIPE ?= stocha-p0.7
export: $(VENV)/.installed
	$(if $(OUT),,$(error OUT=DIR is required: make export MODEL=M SCALE=S OUT=DIR))
	$(PYTHON) -m harness export --model $(MODEL) --scale $(SCALE) --seed $(SEED) --format hf \
		$(if $(ACT),--act $(ACT)) $(OUT)

finetune: $(VENV)/.installed
	$(if $(FROM_HF),,$(error FROM_HF=PATH is required: make finetune FROM_HF=DIR [RECIPE=R] [STEPS=K]))
	$(PYTHON) -m harness finetune --from-hf $(FROM_HF) --recipe $(RECIPE) --seed $(SEED) $(_STEPS) \
		$(if $(NAME),--name $(NAME)) --resume

bench: $(VENV)/.installed
	$(PYTHON) -m harness bench all --json

# Hostile generated code, kill-and-resume and bad input, in a scratch folder (QUICK=1: fewer crash points).
selfcheck: $(VENV)/.installed
	$(PYTHON) -m harness selfcheck $(if $(QUICK),--quick)

paper: $(VENV)/.installed
	$(PYTHON) -m harness reproduce --scale $(SCALE) --seeds $(SEEDS) $(if $(TABLE),--table $(TABLE))

plots: $(VENV)/.installed
	$(PYTHON) -m reports plots

clean-venv:
	rm -rf $(VENV)
