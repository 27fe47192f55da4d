"""The tracking server: the connection (connection.py), its errors told apart by cause
(failures.py), what a --tracking_uri must be (uri.py), the experiments (experiments.py), and
where artifacts may be fetched from (sources.py). Imports nothing of the package but errors."""
