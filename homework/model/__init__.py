"""The shipped model: this folder is copied whole (but model_code.py) into every champion.

features.py builds the features from raw trips, files.py writes the forest and the
vectorizer as data (no pickle), trip_model.py is the pyfunc, model_code.py what MLflow runs
to load it. Imports nothing of the package outside this folder, and neither Click nor the
homework's command-line side: a champion loads wherever MLflow, scikit-learn and skops do.
"""
