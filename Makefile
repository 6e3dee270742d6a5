# The few commands a newcomer needs. Each installs what it needs first (a venv in .venv: tonghop
# editable, with the test tools, the dask extra whose tests are part of the suite, and bench).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test lint format sample reliability bench bench-unseen

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dask,bench]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/tonghop demo

# The whole suite, as CI runs it (.ci/run): one pytest-xdist worker per core, a module's tests
# on one worker (`--dist loadscope`: what its tests share, a workspace, a demo, a server, is
# built once), the long modules (tests/e2e, and those with a `slow` or `real_server` test)
# handed out first (tests/conftest.py orders them; `--no-loadscope-reorder` keeps that order),
# so that no long module starts last on one worker while the other idles. Each worker has its
# own temporary Prefect server and home. It lists its slowest tests.
test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadscope --no-loadscope-reorder --durations=20

# The fast lane, before each commit (under 90 s on 2 cores): lint, then the unit, SQL and
# contract tests and the doctests, without those marked slow (end-to-end runs, a whole demo, a
# fresh interpreter, a changed copy of the dbt project). It lists its slowest tests: one that
# grows past a few seconds is marked `slow` and runs in `make test` only. One pytest-xdist
# worker per core, a module's tests in the same worker, so that a module's shared workspace
# (consolidated once) is built once.
.PHONY: check
check: lint
	$(BIN)/python -m pytest -q -m "not slow and not real_server" --durations=5 \
		-n auto --dist loadscope tests/unit tests/sql tests/contracts src/tonghop

lint: $(STAMP)
	$(BIN)/ruff check src flows tests data/sample templates benchmarks
	$(BIN)/ruff format --check src flows tests data/sample templates benchmarks

format: $(STAMP)
	$(BIN)/ruff format src flows tests data/sample templates benchmarks

sample: $(STAMP)
	$(BIN)/python data/sample/make_sample.py

reliability: $(STAMP)
	$(BIN)/python -m pytest -q tests/e2e/test_bad_inputs.py tests/e2e/test_faults.py

# Stage times against their floors; writes benchmarks/RESULTS.md. Quick: make bench UNITS=1000
UNITS ?= 1000 6000
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --units $(UNITS) --repeat 3

# The unseen blocs (benchmarks/unseen_bloc.py: both years new, 5 % of units with findings):
# every stage of a run against its floor, clean and with findings, in one table per N.
# WORK: the folder of the blocs (made there when missing); SCRATCH: the runs' workspaces;
# BUDGET: seconds the runs may take (a run that would not fit is left out and named).
bench-unseen: $(STAMP)
	$(BIN)/python benchmarks/run.py --unseen --units $(UNITS) --repeat 3 --naive-max $(UNITS) \
		$(if $(WORK),--work $(WORK)) $(if $(SCRATCH),--scratch $(SCRATCH)) \
		$(if $(BUDGET),--budget $(BUDGET))
