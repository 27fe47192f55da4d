"""The data: the raw TLC months (trips.py), the four pickles preprocess_data.py writes
(pickles.py), the months each run used (lineage.py), and the data folder read once per
command (prepared.py). Imports the top modules and homework.model (the features)."""
