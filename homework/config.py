"""Every name and default the homework uses, defined once.

The Makefile and the shell scripts repeat a few of them (months, model name, port, pid
file); tests/test_config.py checks that they agree with this file.
"""

from __future__ import annotations

# The homework's commands, in the order the course runs them, then the extras.
SCRIPTS = (
    "preprocess_data.py",
    "train.py",
    "hpo.py",
    "register_model.py",
    "pipeline.py",
    "answers.py",
    "predict.py",
    "verify_model.py",
    "serve_model.py",
    "rollback.py",
    "ui_check.py",
)

# The data: NYC TLC trip records, one parquet file per month.
DATASETS = ("green", "yellow")  # the TLC's green and yellow taxi trip records
DATASET = "green"
MONTHS = {"train": "2023-01", "val": "2023-02", "test": "2023-03"}
RAW_DATA_PATH = "data"
RAW_FOLDER_KEY = "raw_data_path"  # in dv.pkl's record: the folder preprocess_data.py read

# What preprocess_data.py writes (and the other scripts read) in DATA_PATH.
DATA_PATH = "output"
DATASET_FILES = ("dv.pkl", "train.pkl", "val.pkl", "test.pkl")

# The tracking server `make server` starts, and what the scripts log to it.
TRACKING_URI = "http://127.0.0.1:5000"
# The course's own: the store its train.py logs to before any server runs (Q3), and the server
# it then starts by hand on that store (Q4). train.py falls back to that store when no server
# answers at TRACKING_URI and none was named.
LOCAL_STORE_URI = "sqlite:///mlflow.db"
COURSE_SERVER = (
    f"mlflow server --backend-store-uri {LOCAL_STORE_URI} --default-artifact-root ./artifacts"
)
SERVER_PID_FILE = "mlflow-server.pid"
TRAIN_EXPERIMENT = "random-forest-train"
HPO_EXPERIMENT = "random-forest-hyperopt"
BEST_MODELS_EXPERIMENT = "random-forest-best-models"
# A search is one parent run tagged with the tuner's name (hyperopt), its trials nested runs
# of it; it is complete (a result register_model.py and Q5 may use) once the parent FINISHED.
SEARCH_TAG = "hpo.search"
PARENT_TAG = "mlflow.parentRunId"  # MLflow's own tag on a nested run
HPO_RUN_TAG = "hpo_run_id"  # on a best-models run: the trial its model comes from
MODEL_ARTIFACT = "model"  # the bare forest in every run (the course's runs:/<id>/model)
PYFUNC_ARTIFACT = "trip_duration_model"  # the self-contained champion (trip_model.py)
TRIALS_PLOT = "validation_rmse_per_trial.png"  # on the search's parent run (hpo.py)
CHAMPION_PLOTS = ("predicted_vs_actual.png", "residuals.png")  # on the champion's run

# The team setup (docs/team.md): the login's admin user, and the local S3 server's bucket and port.
AUTH_ADMIN = "admin"
S3_BUCKET = "mlflow"
S3_PORT = 8333

# The model registry.
MODEL_NAME = "nyc-green-taxi-duration-rf"
CHAMPION_ALIAS = "champion"  # the version in use: Q6, predict.py and serving load it
CHALLENGER_ALIAS = "challenger"  # the newest version the promotion gate kept out
GATE_STATUS_TAG = "validation.status"  # on a registered version: the gate's decision
GATE_REJECTED = "rejected"  # the decision that kept a version out (publish/gate.py)
# A rollback (publish/rollback.py) tags the version it puts back and the one it takes off
# with who, when and why, and the registered model with the version it holds @champion at:
# the gate gives new versions @challenger while @champion is there, unless --promote always.
ROLLBACK_BY_TAG = "rollback.by"
ROLLBACK_AT_TAG = "rollback.at"
ROLLBACK_REASON_TAG = "rollback.reason"
ROLLBACK_FROM_TAG = "rollback.from_version"  # on the version put back: the one it replaced
ROLLBACK_TO_TAG = "rollback.to_version"  # on the version taken off: the one put back
ROLLBACK_HOLD_TAG = "rollback.holds_champion"  # on the registered model

# The search.
NUM_TRIALS = 15
TOP_N = 5
SEED = 42
# The course's search space, the same for every tuner: inclusive ranges of whole numbers.
SEARCH_SPACE = {
    "max_depth": (1, 20),
    "n_estimators": (10, 50),
    "min_samples_split": (2, 10),
    "min_samples_leaf": (1, 4),
}
TRIAL_RANDOM_STATE = 42  # every trial's forest: the course's random_state
TRIAL_PARAMS = (*SEARCH_SPACE, "random_state")  # what a trial logs of its forest (RF_PARAMS)
TUNERS = ("hyperopt", "optuna")  # hyperopt's TPE is the course's (the default)
OPTUNA_STORAGE_FILE = "optuna.db"  # Optuna's SQLite database, beside mlflow.db (never in it)

# Model signing (homework/trust/): the user's key folder, and the file each signed model carries.
KEY_DIR_VARIABLE = "MLFLOW_HOMEWORK_KEY_DIR"  # overrides KEY_DIR (the tests use a temporary one)
KEY_DIR = "mlflow-homework"  # in $XDG_CONFIG_HOME, else ~/.config
PRIVATE_KEY_FILE = "signing-key.pem"  # readable by its owner only; never leaves the machine
PUBLIC_KEY_FILE = "signing-key.pub"  # what a team shares
TRUSTED_KEYS_DIR = "trusted-keys"  # other public keys (*.pub) this machine trusts
SIGNED_MANIFEST = "signed-manifest.json"  # in the model folder: every file's digest, signed
# What this machine keeps: the gate's evaluations of versions (homework/publish/evaluations.py).
CACHE_DIR_VARIABLE = "MLFLOW_HOMEWORK_CACHE_DIR"  # overrides CACHE_DIR (the tests use their own)
CACHE_DIR = "mlflow-homework"  # in $XDG_CACHE_HOME, else ~/.cache
