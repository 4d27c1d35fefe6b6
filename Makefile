# The two commands of the README are `make app` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install install-dev browser app test style quality bench sweep offline ladder variants space-check

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# onnxruntime and onnxruntime-gpu own the same package folder: a venv made before the switch to
# onnxruntime-gpu drops both and gets a clean onnxruntime-gpu.
ORT_SWITCH = if $(BIN)/pip show -q onnxruntime >/dev/null 2>&1; then $(BIN)/pip uninstall -q -y onnxruntime onnxruntime-gpu; fi

install: $(BIN)/python
	@$(ORT_SWITCH)
	$(BIN)/pip install -q -r requirements.txt

install-dev: $(BIN)/python
	@$(ORT_SWITCH)
	$(BIN)/pip install -q -r requirements-dev.txt

# Debian's Chromium + a Devanagari font for the browser tests (Playwright never downloads a browser here).
browser:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi lohit; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium fonts-lohit-deva-marathi; \
		else echo "install chromium and fonts-lohit-deva-marathi (sudo apt-get install ...) for the browser tests"; fi; fi

app: install
	$(BIN)/python app.py

test: install-dev browser
	$(BIN)/python -m pytest -q

style: install-dev
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

quality: install-dev
	$(BIN)/ruff format --check . && $(BIN)/ruff check .

# Model forwards (assets/benchmark.*), then what a request costs in the app (assets/benchmark_app.*).
bench: install
	$(BIN)/python -m pruning.speed.report
	$(BIN)/python -m pruning.app.bench

offline: install
	$(BIN)/python -m models.build_offline

sweep: install
	$(BIN)/python -m pruning sweep --preset offline-shc

# Fine-tune every pretraining rung of the offline teacher against the scratch models (issue: fidelity).
ladder: install
	$(BIN)/python -m pruning ladder

# Rebuild the fine-tuned variants that ship in models/variants (strategies chosen on validation).
variants: install
	$(BIN)/python -m pruning bundle

# What a Hugging Face Space does: a fresh venv (in /tmp) from requirements.txt alone, `python app.py` on
# 0.0.0.0:7860, then fine-tune and classify through gradio_client. Standard library only on this side.
space-check:
	$(PY) -m scripts.space_check
