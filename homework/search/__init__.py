"""hpo.py's search: one parent run with a nested run per trial (runs.py), the trials Q5 and
register_model.py use, of our searches or the course's hpo.py (results.py), the trials a
crash left running (stray_runs.py), what a search is made with (plan.py), its options
(options.py), the tuners (hyperopt_tuner.py, optuna_tuner.py with study_storage.py), the
trials on Spark (spark.py) and the one progress bar (progress.py). Imports the top modules
and the data, model, tracking and trust wings."""
