"""Serving the champion over HTTP while following its alias (serve_model.py, `make serve-model`).

- holder.py: the version that answers now, swapped in one step, and the versions refused;
- loader.py: a registered version loaded through trust.loading (the checks predict.py makes)
  and tried on one trip before it may answer;
- follower.py: learning that the alias moved (polling, woken early by a webhook) and loading
  the new version in the background;
- webhook.py: MLflow 3's registry webhook: created for the server, its HMAC-signed calls
  checked, removed when the server stops;
- app.py: the HTTP endpoints, MLflow's own scoring code behind `/invocations`;
- server.py: uvicorn on a socket bound first, stopped by Ctrl-C or SIGTERM.

It imports the top modules and the model, tracking, trust and publish wings, never search;
only serve_model.py and the benchmark import it.
"""
