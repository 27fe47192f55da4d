"""Model trust: the user's keys, signed manifests of model folders, verified downloads.

keys.py holds the keys, manifest.py signs and checks a folder of files (additions.py: what
plain MLflow and Python add to one), loading.py signs a model just logged and loads a model
only once its files check out, formats.py says what a verified folder holds. Imports the
top modules, homework.tracking and homework.model.
"""
