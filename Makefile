# The MLflow homework, one target per question. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

MLFLOW          ?= 2
ifeq ($(MLFLOW),3)
VENV            ?= .venv-mlflow3
REQUIREMENTS    ?= requirements-mlflow3.txt
else
VENV            ?= .venv
REQUIREMENTS    ?= requirements.txt
endif
unexport MLFLOW
# The lock files (`make lock` writes them from pyproject.toml): a base one, then one per extra.
# uv installs them (pinned in requirements-dev.txt, installed by pip; INSTALLER=pip: pip alone).
INSTALLER       ?= uv
UV_VERSION      := $(shell sed -n 's/^uv==\([^ ]*\).*/\1/p' requirements-dev.txt 2>/dev/null)
# A value as one shell word. Every value a recipe passes to the shell goes through it, so a
# name or path with spaces or quotes stays one word: such a value (or an empty one) goes in
# single quotes, each ' in it written '\''; a plain one (output, .venv/bin/python) stays as it
# is, so the commands make echoes read as typed.
SHELL_SPECIAL := ' " ` $$ \ ; & | < > ( ) * ? [ ] { } ~ ! \# ^
plain = $(and $(1),$(filter 1,$(words x$(1)x)),$(if $(strip $(foreach c,$(SHELL_SPECIAL),$(findstring $(c),$(1)))),,1))
q = $(if $(call plain,$(1)),$(1),'$(subst ','\'',$(1))')
PYTHON          := $(VENV)/bin/python
PY              := $(call q,$(PYTHON))
BIN             := $(call q,$(VENV)/bin)
PORT            ?= 5000
HOST            ?= 127.0.0.1
TRACKING_URI    ?= http://$(HOST):$(PORT)
DATA_DIR        ?= data
OUTPUT_DIR      ?= output
TAXI_DATA_URL   ?= https://d37ci6vzurychx.cloudfront.net/trip-data
MONTHS          ?= 2023-01 2023-02 2023-03
DATASET         := green
DATA_FILES      := $(foreach month,$(MONTHS),$(DATASET)_tripdata_$(month).parquet)
TAXI_DATA_DIR   ?= $(DATA_DIR)
MODEL_NAME      ?= nyc-green-taxi-duration-rf
MODEL_URI       ?= models:/$(MODEL_NAME)@champion
MODEL_PORT      ?=
# make serve-model: FOLLOW=0 serves the version loaded at the start; FOLLOW_S seconds between
# two looks at @champion (MLflow 3 adds a webhook)
FOLLOW          ?= 1
FOLLOW_S        ?= 5
FOLLOW_FLAGS    := $(if $(filter 0 no false,$(FOLLOW)),--pin)
# make rollback: VERSION=N puts back version N (default: the champion the current one replaced)
VERSION         ?=
REASON          ?=
TEST_MONTH_FILE := $(DATA_DIR)/$(DATASET)_tripdata_$(lastword $(MONTHS)).parquet
VERBOSE         ?=
# VERBOSE=1: MLflow's own log lines and run links too (passwords masked)
LOG_FLAGS       := $(if $(filter 1 yes true,$(VERBOSE)),--verbose)
TRUST_UNSIGNED  ?=
# TRUST_UNSIGNED=1: load (and serve) a model not signed by a key this machine trusts, with a warning
TRUST_FLAGS     := $(if $(filter 1 yes true,$(TRUST_UNSIGNED)),--trust_unsigned)

export MLFLOW_TRACKING_URI := $(TRACKING_URI)
# Team setup (docs/team.md): BACKEND_STORE_URI=postgresql://... ARTIFACTS_DESTINATION=DIR or
# s3://mlflow/artifacts, AUTH=1 (the login; needs MLFLOW_AUTH_ADMIN_PASSWORD in the environment)
export BACKEND_STORE_URI ?= sqlite:///mlflow.db
export ARTIFACTS_DESTINATION ?=
AUTH            ?=
SERVER_ENV := MLFLOW=$(call q,$(VENV)/bin/mlflow) HOST=$(call q,$(HOST)) PORT=$(call q,$(PORT)) AUTH=$(call q,$(AUTH))
# The local S3 server (make s3): its S3 port on 127.0.0.1 and its data folder
S3_PORT         ?= 8333
S3_DIR          ?= s3-data
S3_ENV := WEED=$(call q,$(VENV)/bin/weed) S3_PORT=$(call q,$(S3_PORT)) S3_DIR=$(call q,$(S3_DIR))
# The servers (services/): python -m services mlflow|s3 start|stop|status
SERVERS := $(PY) -m services
SPARK_PARALLELISM ?= 2
# make test: pytest processes (pytest-xdist), each test file whole in one; 0: no extra ones
TEST_WORKERS    ?= 2
# SPARK_MASTER=spark://host:port: where make q5-spark runs the trials (default: hpo.py's, local[*])
SPARK_MASTER    ?=
# The Spark standalone cluster of make spark-cluster (services/spark_cluster.py)
SPARK_DIR       ?= spark-cluster
SPARK_PORT      ?= 7077
SPARK_UI_PORT   ?= 8080
SPARK_WORKERS   ?= 2
SPARK_ENV := SPARK_DIR=$(call q,$(SPARK_DIR)) SPARK_PORT=$(call q,$(SPARK_PORT)) SPARK_UI_PORT=$(call q,$(SPARK_UI_PORT)) SPARK_WORKERS=$(call q,$(SPARK_WORKERS))
# RESUME=1: q5, q5-spark and q5-optuna go on with the newest unfinished search (hpo.py --resume)
RESUME          ?=
RESUME_FLAGS    := $(if $(filter 1 yes true,$(RESUME)),--resume)
# make q5-optuna: WORKERS hpo.py processes on one Optuna study (STUDY, default a new one)
WORKERS         ?= 1
STUDY           ?=
# make bench-scale: the real months replicated SCALE times (1, 5, 15)
SCALE           ?= 1
# The raw months: the folder preprocess_data.py recorded in dv.pkl, unless DATA_DIR is given.
RAW_FLAGS := $(if $(filter command line environment,$(origin DATA_DIR)),--raw_data_path $(call q,$(DATA_DIR)))
PATHS := $(strip --data_path $(call q,$(OUTPUT_DIR)) $(RAW_FLAGS))
ANSWER := $(PY) answers.py $(PATHS) $(LOG_FLAGS) $(TRUST_FLAGS) --question

.PHONY: help install install-optuna install-postgres lock data server server-stop q1 q2 q3 q4 q5 q6 answers all test test-fast e2e
.PHONY: bench bench-scale bench-tuners bench-install bench-serve lint format docs clean predict serve-model rollback
.PHONY: install-team s3 s3-stop user
.PHONY: install-browser ui-check screenshots

help: ## Show this help
	@echo "Usage: make TARGET [PORT=5000] [VERBOSE=1] [TAXI_DATA_URL=...] [MLFLOW=3 (MLflow 3.x in .venv-mlflow3)]"
	@grep -E '^[a-z0-9-]+:.*## ' $(foreach file,$(MAKEFILE_LIST),$(call q,$(file))) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

# Lock files into $(VENV), every hash checked: uv with byte code compiled (as pip would), or
# pip when uv is not there (INSTALLER=pip, or pip could not install it).
install_locks = if [ $(call q,$(INSTALLER)) != pip ] && [ -x $(BIN)/uv ]; then \
		$(BIN)/uv pip install --quiet --python $(PY) --require-hashes --compile-bytecode $(1); \
	else $(BIN)/pip install --quiet --require-hashes $(1); fi

$(VENV)/.installed: $(REQUIREMENTS) requirements-dev.txt
	python3 -m venv $(call q,$(VENV))
	@if [ $(call q,$(INSTALLER)) != pip ] && [ ! -x $(BIN)/uv ]; then \
		$(BIN)/pip install --quiet uv==$(UV_VERSION) || echo "No uv: pip installs the lock files." >&2; fi
	$(call install_locks,-r $(call q,$(REQUIREMENTS)) -r requirements-dev.txt)
	touch $(call q,$@)

install: $(VENV)/.installed ## Create .venv from the lock files requirements.txt + -dev (MLFLOW=3: .venv-mlflow3)

# An extra's lock file on top (requirements-optuna.txt, -postgres, -spark, -team, -ui).
$(VENV)/.installed-%: requirements-%.txt $(VENV)/.installed
	$(call install_locks,-r $(call q,$<))
	touch $(call q,$@)

lock: install ## Write the lock files requirements*.txt from pyproject.toml (LOCK_ARGS="--upgrade-package NAME")
	$(PY) scripts/lock.py $(LOCK_ARGS)

install-optuna: $(VENV)/.installed-optuna ## Add Optuna (requirements-optuna.txt) for `hpo.py --tuner optuna`

install-postgres: $(VENV)/.installed-postgres ## Add the PostgreSQL driver for a postgresql:// store (requirements-postgres.txt)

.PHONY: install-spark q5-spark q5-optuna spark-cluster spark-cluster-stop
install-spark: $(VENV)/.installed-spark ## Add pyspark (requirements-spark.txt) for `hpo.py --spark_parallelism`

install-browser: $(VENV)/.installed-ui ## Chromium (apt-get; macOS: a local Chrome) and Playwright for ui-check
	@scripts/install_browser.sh

install-team: $(VENV)/.installed-team ## Add the team setup: S3 server, boto3, Flask-WTF, PostgreSQL driver (requirements-team.txt)

# Always runs the script: it skips the files already there and says when one is a folder.
data: ## Download the Jan-Mar 2023 green taxi files into data/ (TAXI_DATA_URL=file://... works offline)
	@TAXI_DATA_URL=$(call q,$(TAXI_DATA_URL)) scripts/download_data.sh $(call q,$(DATA_DIR)) \
		$(foreach file,$(DATA_FILES),$(call q,$(file)))

server: install ## Start the MLflow server on $(HOST):$(PORT) in the background (SQLite, ./artifacts)
	@$(SERVER_ENV) $(SERVERS) mlflow start

# Without the environment nothing of ours can run, and nothing could check the pid file.
server-stop: ## Stop the MLflow server started by `make server`
	@if [ -x $(PY) ]; then $(SERVER_ENV) $(SERVERS) mlflow stop; \
	else echo "No MLflow server of this folder can run without "$(BIN)" (make install)." >&2; fi

s3: install-team ## Start a local S3 server on 127.0.0.1:$(S3_PORT) (bucket mlflow); prints the server's settings
	@$(S3_ENV) $(SERVERS) s3 start

s3-stop: ## Stop the S3 server started by `make s3`
	@if [ -x $(PY) ]; then $(S3_ENV) $(SERVERS) s3 stop; \
	else echo "No S3 server of this folder can run without "$(BIN)" (make install-team)." >&2; fi

# NAME only from make's command line: a NAME of the shell's (WSL sets one) never makes a user.
user: install ## Add a read-only user to the AUTH=1 server: make user NAME=... (asks for the password)
	@$(if $(filter command line,$(origin NAME)),,echo "Error: pass the user's name: make user NAME=<name>." >&2; exit 1;) \
		$(PY) scripts/add_user.py --name $(call q,$(NAME))

q1: install ## Q1: the installed MLflow version
	@$(ANSWER) 1

q2: install data ## Q2: preprocess the data; number of files written
	$(PY) preprocess_data.py --raw_data_path $(call q,$(DATA_DIR)) --dest_path $(call q,$(OUTPUT_DIR))
	@$(ANSWER) 2

q3: install server ## Q3: train with autolog; min_samples_split read back from the server
	$(PY) train.py --data_path $(call q,$(OUTPUT_DIR)) $(LOG_FLAGS)
	@$(ANSWER) 3

q4: server ## Q4: the flag the server needs beside the backend store, from its command line
	@$(ANSWER) 4

q5: install server ## Q5: hyperopt search; best validation RMSE read back from the server (RESUME=1 goes on with a stopped one)
	$(PY) hpo.py --data_path $(call q,$(OUTPUT_DIR)) $(RESUME_FLAGS) $(LOG_FLAGS)
	@$(ANSWER) 5

q5-spark: install-spark server ## Q5 with the trials spread over Spark (SPARK_PARALLELISM, SPARK_MASTER=spark://127.0.0.1:7077)
	$(PY) hpo.py --data_path $(call q,$(OUTPUT_DIR)) --spark_parallelism $(call q,$(SPARK_PARALLELISM)) \
		$(if $(SPARK_MASTER),--spark_master $(call q,$(SPARK_MASTER))) $(RESUME_FLAGS) $(LOG_FLAGS)
	@$(ANSWER) 5

q5-optuna: install-optuna server ## Q5 with Optuna: WORKERS=N processes share one study (STUDY=name), optuna.db beside mlflow.db
	@scripts/hpo_workers.sh $(call q,$(WORKERS)) $(call q,$(STUDY)) $(PY) hpo.py --tuner optuna \
		--data_path $(call q,$(OUTPUT_DIR)) $(RESUME_FLAGS) $(LOG_FLAGS)
	@$(ANSWER) 5

spark-cluster: install-spark ## Start a Spark standalone master and SPARK_WORKERS workers on 127.0.0.1 (logs in SPARK_DIR)
	@$(SPARK_ENV) $(SERVERS) spark start

spark-cluster-stop: ## Stop exactly the Spark master and workers `make spark-cluster` started
	@if [ -x $(PY) ]; then $(SPARK_ENV) $(SERVERS) spark stop; \
	else echo "No Spark cluster of this folder can run without "$(BIN)" (make install-spark)." >&2; fi

q6: install server ## Q6: register the best model; test RMSE of models:/...@champion
	$(PY) register_model.py $(PATHS) $(LOG_FLAGS) $(TRUST_FLAGS)
	@$(ANSWER) 6

answers: install ## Print the six answers as a table, read back from files, server and registry
	@$(PY) answers.py $(PATHS) $(LOG_FLAGS) $(TRUST_FLAGS)

all: install data server ## Run the whole homework in one process (pipeline.py), print the six answers
	@$(PY) pipeline.py --raw_data_path $(call q,$(DATA_DIR)) --dest_path $(call q,$(OUTPUT_DIR)) $(LOG_FLAGS)
	@$(PY) answers.py $(PATHS) $(LOG_FLAGS) $(TRUST_FLAGS)

ui-check: $(VENV)/.installed-ui ## After `make all`: headless Chromium checks the MLflow UI shows Q3, Q5, Q6
	$(PY) ui_check.py

screenshots: $(VENV)/.installed-ui ## The UI check, writing the pictures of docs/ui.md (docs/ui-*.png)
	$(PY) ui_check.py --screenshots_dir docs

predict: install ## Predict the test month with the champion: predictions.parquet and its RMSE
	$(PY) predict.py --model_uri $(call q,$(MODEL_URI)) $(RAW_FLAGS) --output predictions.parquet $(TRUST_FLAGS)

serve-model: install ## Serve the champion on http://127.0.0.1:<free port>/invocations, following @champion (MODEL_PORT, FOLLOW=0, FOLLOW_S)
	@$(PY) serve_model.py --model_uri $(call q,$(MODEL_URI)) --host $(call q,$(HOST)) \
		--port $(call q,$(or $(MODEL_PORT),0)) --follow_s $(call q,$(FOLLOW_S)) $(FOLLOW_FLAGS) \
		$(TRUST_FLAGS) $(LOG_FLAGS)

rollback: install ## Move @champion back to the previous champion (VERSION=N: to version N), REASON="why"
	$(PY) rollback.py --model_name $(call q,$(MODEL_NAME)) $(if $(VERSION),--version $(call q,$(VERSION))) \
		--reason $(call q,$(REASON)) $(LOG_FLAGS)

test: install ## Lint and run every test (the end-to-end ones use TAXI_DATA_DIR, default data/)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	TAXI_DATA_DIR=$(call q,$(TAXI_DATA_DIR)) $(BIN)/pytest -n $(call q,$(TEST_WORKERS)) --dist loadfile --no-loadscope-reorder

test-fast: install ## The tests that need neither a server, the real data nor the package index (under a minute)
	$(BIN)/pytest -m "not server and not real_data and not index"

# PYTEST_ARGS and BENCH_ARGS are lists of arguments: the shell splits them on purpose.
e2e: install ## Only the end-to-end tests on the real data (TAXI_DATA_DIR; PYTEST_ARGS="-k ...")
	TAXI_DATA_DIR=$(call q,$(TAXI_DATA_DIR)) $(BIN)/pytest tests/test_end_to_end.py $(PYTEST_ARGS)

bench: install ## The homework vs scikit-learn alone, A B A B, 3 pairs; preprocessing 1x-50x (bench/results.json)
	$(PY) -m bench.bench --raw_data_path $(call q,$(TAXI_DATA_DIR)) $(BENCH_ARGS)

bench-scale: install ## The whole homework on the real months x SCALE (1, 5, 15) vs scikit-learn alone
	$(PY) -m bench.scale --raw_data_path $(call q,$(TAXI_DATA_DIR)) --scale $(call q,$(SCALE)) $(BENCH_ARGS)

bench-install: install ## make install with pip, then uv, on fresh clones with empty caches, A B A B; a first make all (bench/results.json)
	$(PY) -m bench.install --raw_data_path $(call q,$(TAXI_DATA_DIR)) $(BENCH_ARGS)

bench-serve: install ## serve_model.py against `mlflow models serve` on the real champion, and alias moves under load (bench/results.json)
	$(PY) -m bench.serve --raw_data_path $(call q,$(TAXI_DATA_DIR)) $(BENCH_ARGS)

bench-tuners: install-optuna ## hyperopt and Optuna side by side on the real data, and resumed searches (bench/tuners.json)
	$(PY) -m bench.tuners --raw_data_path $(call q,$(TAXI_DATA_DIR))

lint: install ## Lint only
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install ## Format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

docs: install ## Write the generated docs: docs/cli.md (--help), docs/performance.md (bench/results.json)
	$(PY) scripts/make_docs.py

clean: server-stop ## Remove outputs, runs, database and artifacts (keeps data/, .venv and the logins)
	@if [ -f s3-server.pid ]; then $(MAKE) --no-print-directory s3-stop; fi
	@if [ -f $(call q,$(SPARK_DIR))/master.pid ]; then $(MAKE) --no-print-directory spark-cluster-stop; fi
	rm -rf $(call q,$(OUTPUT_DIR))/*.pkl $(call q,$(OUTPUT_DIR))/.tmp-* artifacts mlruns mlflow.db mlflow-server.log mlflow-webhook.key predictions.parquet
	rm -rf s3-data s3-server.log optuna.db hpo-worker-*.log $(call q,$(SPARK_DIR))
