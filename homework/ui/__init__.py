"""The MLflow UI checked in a real headless browser: the browser, and the walk through the UI."""
