"""ui_check.py's own code: the MLflow UI checked in a real headless browser (browser.py), the
walk through it (walk.py) and what differs between MLflow 2.x's UI and 3.x's (profiles.py)."""
