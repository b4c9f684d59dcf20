# Two entry points: `make demo` (the tour) and `make test` (lint, tests, docs).
# Both bootstrap a local virtual environment on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.jaxspec-installed

.PHONY: demo test lint docs bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m jaxspec tour

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -n auto -q
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -q -d .site

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -d .site

bench: $(STAMP)
	$(PY) -m pip install -q -r benchmarks/requirements.txt -r benchmarks/requirements-torch.txt
	$(PY) -m pip install -q --no-deps pyhessian==0.1 hessian-eigenthings==1.0.0a5
	$(PY) benchmarks/linalg.py
	$(PY) benchmarks/hessian.py
	$(PY) benchmarks/physics.py
	$(PY) benchmarks/fno.py
	$(PY) benchmarks/pinn.py
	$(PY) benchmarks/ssm.py

clean:
	rm -rf .site runs
