"""The data: the raw TLC months (trips.py), the four pickles preprocess_data.py writes and the
data folder read once per command (pickles.py: Prepared), and the months each run used
(lineage.py). Imports the top modules and homework.model (the features)."""
