# Thin aliases; README has the real commands.
.PHONY: install train serve test lint bench public-data
install:
	python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[dev]"
train:
	tierroute train
serve:
	tierroute serve
test:
	python -m pytest -q
lint:
	ruff check src tests benchmarks && ruff format --check src tests benchmarks && mypy
bench:
	python benchmarks/classifier.py && python benchmarks/gateway_overhead.py
# Public data sets are read from ../shared/datasets at run time and never committed.
public-data:
	for n in clinc150 gsm8k gpteacher code_alpaca dolly_open_qa; do \
	  tierroute data import $$n ../shared/datasets/$$n --out data/processed/$$n.jsonl --limit 1500; done
