"""Model trust: the user's keys, signed manifests of model folders, verified downloads.

keys.py holds the keys, manifest.py signs and checks a folder of files, loading.py signs a
model just logged and loads a model only once its files check out.
"""
