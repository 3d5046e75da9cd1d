# speech_proactive: setup, tests and recipes.  `make` alone lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help setup test lint format recipe-st recipe-qa clean

PYTHON      := .venv/bin/python
PYTEST_ARGS ?=
TESTS       ?= tests

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(firstword $(MAKEFILE_LIST)) | \
	  awk 'BEGIN { FS = ":.*## " } { printf "  %-10s %s\n", $$1, $$2 }'
	@echo "  variables: PYTEST_ARGS='...' (extra pytest args), TESTS=path (default: tests)"

setup: ## install system packages and the .venv (fast when already done)
	bash scripts/setup.sh

test: setup ## run the test suite offline (CPU only)
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PYTHON) -m pytest -p no:flake8 -q $(PYTEST_ARGS) $(TESTS)

lint: setup ## ruff check and ruff format --check (what CI runs)
	$(PYTHON) -m ruff check speech_proactive tests scripts
	$(PYTHON) -m ruff format --check speech_proactive tests scripts

format: setup ## apply ruff's fixes and formatting
	$(PYTHON) -m ruff check --fix speech_proactive tests scripts
	$(PYTHON) -m ruff format speech_proactive tests scripts

recipe-st: setup ## run the simultaneous speech translation recipe (recipes/st/run.sh)
	bash recipes/st/run.sh

recipe-qa: setup ## run the spoken question-answering recipe (recipes/qa/run.sh)
	bash recipes/qa/run.sh

clean: ## remove .venv, egg-info and every __pycache__
	rm -rf .venv *.egg-info
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
