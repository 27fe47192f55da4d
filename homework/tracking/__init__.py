"""The tracking server: the connection (connection.py), its errors told apart by cause
(failures.py), what a --tracking_uri must be (uri.py), the experiments (experiments.py), where
artifacts may be fetched from (sources.py), the readers' REST calls (rest.py) and the process
serving a URI on this machine (serving.py). Imports nothing of the package but config and
errors."""
