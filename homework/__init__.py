"""The machinery beneath the homework scripts, in wings named for what they do.

At the top, what every wing needs: config (every name, once), errors, interrupts (Ctrl-C),
options (the shared Click options), reporting (a command's output), processes (who a process
is), forest (fitting and scoring), models (logging a signed forest) and plots. The wings:

- data/     the raw months and the four pickles preprocess_data.py writes, read once (Prepared)
- model/    the shipped model: the features, its files, the pyfunc (copied into every champion)
- tracking/ the tracking server: the connection, its errors, experiments, artifact sources,
            the readers' REST calls, the process serving it
- trust/    keys, signed manifests, loading a model only once its signature checks out
- search/   hpo.py's search: its runs, its plan, the hyperopt and Optuna tuners, Spark
- publish/  register_model.py's work: the candidates, the gate, the champion, the registry;
            rollback.py's move of @champion back
- serving/  serve_model.py's work: the champion over HTTP, following its alias

A wing imports the top modules and the wings listed above it, never one below: model imports
nothing of the package; data imports model; tracking nothing but config and errors; trust imports
tracking and model; search and publish import the rest; serving imports publish and those
below it, never search. Nothing here imports Click or MLflow
at import time but options and reporting (Click), so --help answers at once.
"""
