# carps-like: every target installs the pinned environment first (once; again only when the lock changes).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_BOOT ?= $(shell command -v python3.11 || command -v python3)
VENV        := .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed

OPT      ?= randomsearch
TASK     ?= subset_bb
SEEDS    ?= 5
JOBS     ?=
LAUNCHER ?=
OUT      ?= runs
STUDY    ?= default
N_TRIALS ?=
TIME_LIMIT ?=
MAX_MINUTES ?=
BATCH    ?=
REDO     ?= 0
ARGS     ?=
FILTER   ?=
TEST_JOBS ?= auto
RUNS     ?= $(OUT)
REPORT   ?= report
TABLES   ?= tables
TASKSET  ?=
FORMAT   ?= ioh
EXPORT   ?= export/$(FORMAT)
TYPES    ?=
BASELINES ?=
FAIL_IF_WORSE_THAN ?=
COMPARE  ?= compare
BASE     ?= origin/main
QUEUE    ?=
WORKERS  ?= 1
# make compare takes SEEDS only from the command line or the environment (not `make run`'s default 5);
# otherwise the optimizer YAML's compare.seeds, else 3 (workflows/compare.py)
COMPARE_SEEDS = $(if $(filter command line environment,$(origin SEEDS)),--seeds '$(SEEDS)')

# GNU make exits 2 whenever a command fails, whatever the command's own status. With
# EXIT_STATUS=<file>, `run` and `compare` write that status (0, 1, 2, 130, ...) to <file>; a stale
# file is removed first, so no file means make stopped before the command (README: exit status).
EXIT_STATUS ?=
ifneq ($(EXIT_STATUS),)
$(shell rm -f '$(EXIT_STATUS)')
endif
keep_status = $(if $(EXIT_STATUS),; status=$$?; echo $$status > '$(EXIT_STATUS)'; exit $$status)

export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export PYTHONHASHSEED ?= 0

.PHONY: lint docs cost-model queue worker queue-status queue-retry perf-queue perf-compare subsets subset-data baselines compare changed-optimizers report tables export help install run test test-all check-optimizer perf perf-optimizers tasks optimizers task-configs lock clean-venv lm-data lm-surrogate lm-report

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.lock requirements-nodeps.txt pyproject.toml
	@$(PYTHON_BOOT) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "carps-like needs Python 3.11 (found %d.%d); set PYTHON_BOOT=/path/to/python3.11" % sys.version_info[:2])'
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	@echo "Installing the pinned environment into $(VENV) (first use or lock changed) ..."
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP)  ## create .venv from requirements.lock (idempotent)

run: $(STAMP)  ## run OPT on TASK (a task id or taskset) for SEEDS seeds: make run OPT=smac TASK=subset_bb [BATCH=4]
	$(PY) -m carps_like.study --optimizer '$(OPT)' --task '$(TASK)' --seeds '$(SEEDS)' --out '$(OUT)' --study '$(STUDY)' \
	  $(if $(JOBS),--jobs $(JOBS)) $(if $(N_TRIALS),--n-trials $(N_TRIALS)) $(if $(TIME_LIMIT),--time-limit $(TIME_LIMIT)) \
	  $(if $(filter 1 yes true,$(REDO)),--redo) $(if $(LAUNCHER),--launcher '$(LAUNCHER)') $(if $(BATCH),--batch-size $(BATCH)) \
	  $(if $(MAX_MINUTES),--max-minutes $(MAX_MINUTES)) $(ARGS)$(keep_status)

report: $(STAMP)  ## analyse runs into REPORT/index.html + README.md (REPORT=report): make report RUNS=runs [TASKSET=subset_bb] [ARGS="--log"]
	$(PY) -m analysis.report $(RUNS) --out '$(REPORT)' $(if $(TASKSET),--taskset '$(TASKSET)') $(ARGS)

tables: $(STAMP)  ## LaTeX (booktabs) tables + macros into TABLES/ (=tables), compiled with pdflatex (else structurally checked): make tables RUNS=runs
	$(PY) -m analysis.tables $(RUNS) --out '$(TABLES)' --data '$(REPORT)/data' $(if $(TASKSET),--taskset '$(TASKSET)') $(ARGS)

subsets: $(STAMP)  ## representative dev/test task subsets per type from the shipped full-set results; keeps the current ones unless ARGS=--refresh (configs/subsets.yaml)
	$(PY) -m analysis.subsets select $(ARGS)

subset-data: $(STAMP)  ## run the reference optimizers over every task (hours; resumable) and collect analysis/data/<version>.parquet
	$(PY) -m workflows.subsets tasksets
	$(PY) -m workflows.subsets run $(if $(JOBS),--jobs $(JOBS))
	$(PY) -m workflows.subsets collect

baselines: $(STAMP)  ## reference optimizers on every dev/test subset, 5 seeds (reuses the full-set runs) -> baselines/<version>/
	$(PY) -m workflows.baselines run $(if $(JOBS),--jobs $(JOBS))
	$(PY) -m workflows.baselines collect

compare: $(STAMP)  ## conformance + dev-subset runs + report vs the shipped baselines: make compare OPT=myopt [TYPES=bb,mf] [SEEDS=3] [MAX_MINUTES=60] [BATCH=4] [FAIL_IF_WORSE_THAN=randomsearch]
	$(PY) -m workflows.compare '$(OPT)' $(COMPARE_SEEDS) --out '$(COMPARE)' --runs '$(OUT)' $(if $(MAX_MINUTES),--max-minutes $(MAX_MINUTES)) \
	  $(if $(TYPES),--types '$(TYPES)') $(if $(BASELINES),--baselines '$(BASELINES)') \
	  $(if $(FAIL_IF_WORSE_THAN),--fail-if-worse-than '$(FAIL_IF_WORSE_THAN)') $(if $(JOBS),--jobs $(JOBS)) \
	  $(if $(filter 1 yes true,$(REDO)),--redo) $(if $(BATCH),--batch-size $(BATCH)) $(ARGS)$(keep_status)

changed-optimizers: $(STAMP)  ## optimizer configs changed since BASE (=origin/main), for the CI compare job
	@$(PY) -m workflows.changed_optimizers '$(BASE)'

export: $(STAMP)  ## runs in IOHprofiler or COCO format into export/<FORMAT>/: make export RUNS=runs FORMAT=ioh|coco [EXPORT=dir]
	$(PY) -m analysis.export $(RUNS) --format '$(FORMAT)' --out '$(EXPORT)'

lint: $(STAMP)  ## ruff over the repository (rules in pyproject.toml [tool.ruff]); `make test` runs it first
	$(VENV)/bin/ruff check .

test: $(STAMP) lint  ## lint, then the fast test suite (TEST_JOBS=auto: one worker per core; the 20 slowest listed)
	@scripts/ensure-postgres.sh
	@scripts/ensure-tex.sh
	$(PY) -m pytest -q -n $(TEST_JOBS) --dist worksteal -m "not slow and not gpu" --durations=20 tests

test-all: $(STAMP)  ## run every test, slow ones included (GPU tests skip without a GPU)
	$(PY) -m pytest -q -n $(TEST_JOBS) --dist worksteal tests

check-optimizer: $(STAMP)  ## conformance suite for one optimizer: make check-optimizer OPT=optuna (a name or a YAML path)
	$(PY) -m carps_like.optenv conformance '$(OPT)' -q -p no:cacheprovider

perf: $(STAMP)  ## harness overhead vs the bare loop, per-evaluation cost per task collection, analysis speed
	$(PY) perf/overhead.py
	$(PY) perf/task_cost.py
	$(PY) perf/analysis_speed.py
	$(PY) perf/lm_surrogate_setup.py
	$(PY) perf/study_overhead.py

perf-optimizers: $(STAMP)  ## each optimizer's own ask+tell cost at 50 and 200 trials on 5-d tasks (long: about an hour)
	$(PY) perf/optimizer_cost.py $(ARGS)

LM_DATA_ARGS ?= --out benchmarks/lm/data/runs-cpu-v1.jsonl --profile cpu --n-configs 256 --seeds-subset 16 --n-seeds 3 --tokens 262144
lm-data: $(STAMP)  ## generate or resume the tiny-LM run dataset (GPU: LM_DATA_ARGS="--profile gpu --out benchmarks/lm/data/runs-gpu-v1.jsonl")
	$(PY) -m benchmarks.lm.sweep $(LM_DATA_ARGS) --device auto $(if $(JOBS),--jobs $(JOBS))

lm-surrogate: $(STAMP)  ## after new LM data: search the gp kernel hyperparameters of new or stale datasets and ship them (<data>.gp-kernel.json; current ones are kept)
	$(PY) -m benchmarks.lm.fitted_kernel $(ARGS)

lm-report: $(STAMP)  ## held-out fidelity of the LM surrogates + lmscaling optimum check per dataset and quantile (ARGS=--markdown for docs/tasks.md)
	$(PY) -m benchmarks.lm.report $(ARGS)

tasks: $(STAMP)  ## list tasks: make tasks FILTER="type=mf dim<=3"
	$(PY) -m carps_like.cli_list tasks $(foreach t,$(FILTER),'$(t)')

optimizers: $(STAMP)  ## list optimizers and the task types they support
	$(PY) -m carps_like.cli_list optimizers

task-configs: $(STAMP)  ## regenerate configs/task/ from the task collections in benchmarks/
	$(PY) -m carps_like.catalog

lock:  ## re-resolve requirements.in into requirements.lock (maintainers)
	rm -rf /tmp/carps-like-lock && $(PYTHON_BOOT) -m venv /tmp/carps-like-lock
	/tmp/carps-like-lock/bin/pip install --quiet -r requirements.in
	{ echo "# Pinned environment for carps-like (Python 3.11). Generated by 'make lock' from requirements.in;"; \
	  echo "# HEBO is installed separately with --no-deps from requirements-nodeps.txt (see README)."; \
	  /tmp/carps-like-lock/bin/pip freeze | sed -E 's/^torch==([0-9.]+)\+cpu/torch==\1/'; } > requirements.lock

clean-venv:  ## remove .venv
	rm -rf $(VENV)

# -- experiment queue (docs/queue.md): QUEUE=sqlite:///runs/queue.db (default) or postgresql://user@host:port/db
QUEUE_ARG = $(if $(QUEUE),--queue '$(QUEUE)')

queue: $(STAMP)  ## register a study's cells in the queue database: make queue STUDY=s1 OPT=smac TASK=subset_bb [SEEDS=5] [QUEUE=...]
	$(PY) -m carps_like.queue $(QUEUE_ARG) register --study '$(STUDY)' --optimizer '$(OPT)' --task '$(TASK)' --seeds '$(SEEDS)' \
	  $(if $(N_TRIALS),--n-trials $(N_TRIALS)) $(if $(TIME_LIMIT),--time-limit $(TIME_LIMIT)) $(if $(BATCH),--batch-size $(BATCH))

worker: $(STAMP)  ## claim and run queued cells until none is left: make worker [WORKERS=2] [QUEUE=...] [ARGS="--study s1 --wait"]
	$(PY) -m carps_like.queue $(QUEUE_ARG) worker --workers $(WORKERS) $(ARGS)

queue-status: $(STAMP)  ## cells per study and status (pending, running, stale, complete, failed)
	$(PY) -m carps_like.queue $(QUEUE_ARG) status $(ARGS)

queue-retry: $(STAMP)  ## put failed cells back to pending: make queue-retry [ARGS="--study s1"]
	$(PY) -m carps_like.queue $(QUEUE_ARG) retry-failed $(ARGS)

perf-queue: $(STAMP)  ## scaling: 200 cheap runs with 1 and 2 workers (joblib and queue), queue overhead per cell
	$(PY) perf/queue_scaling.py $(ARGS)

perf-compare: $(STAMP)  ## wall time of make compare OPT (=randomsearch) against the time its runs took
	$(PY) perf/compare_cost.py '$(OPT)' $(if $(JOBS),--jobs $(JOBS)) $(if $(TYPES),--types '$(TYPES)')

docs: $(STAMP)  ## regenerate the reference tables in docs/ (optimizer capabilities, task counts) from the code
	$(PY) -m carps_like.reference_docs

cost-model: $(STAMP)  ## measure and ship the costs behind `make run`'s estimate (carps_like/data/cost_model.json; about an hour)
	$(PY) perf/task_cost.py --write-data
	$(PY) perf/optimizer_cost.py --trials 50,100 --max-seconds 150 --write-data
	$(PY) perf/optimizer_cost.py --trials 100 --max-seconds 150 --high-dim --write-data
