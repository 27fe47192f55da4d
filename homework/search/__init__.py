"""hpo.py's search: one parent run with a nested run per trial (runs.py), the runs of others
in its experiment (stray_runs.py), what a search is made with (plan.py), its options
(options.py), the tuners (hyperopt_tuner.py, optuna_tuner.py with study_storage.py), the
trials on Spark (spark.py) and the one progress bar (progress.py). Imports the top modules
and the data, model, tracking and trust wings."""
