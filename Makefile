# The two commands a newcomer needs: `make demo` and `make test`.
PY := .venv/bin/python

.PHONY: setup demo test test-fast lint bench status

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) -m pipeline run
	$(PY) -m pipeline finetune
	$(PY) -m pipeline evaluate --task ner
	$(PY) -m pipeline evaluate --task cls
	$(PY) -m pipeline evaluate --task qa
	$(PY) -m pipeline report
	$(PY) -m pipeline status

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

lint: setup
	.venv/bin/ruff check pipeline components tests benchmarks scripts
	.venv/bin/ruff format --check pipeline components tests benchmarks scripts

bench: setup
	$(PY) benchmarks/bench_ingest_clean.py

status: setup
	$(PY) -m pipeline status
