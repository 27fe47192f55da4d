"""`python -m services mlflow|s3 start|stop|status`: what make runs (see __init__.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from services import ACTIONS, SERVICES, USAGE, lifecycle, spark_cluster
from services.mlflow_server import SECRET_VARIABLES
from services.service import ServerError, mask


def main(arguments: Sequence[str]) -> int:
    """The command line of make: one server, one action; the exit code."""
    kinds = (*SERVICES, "spark")
    if len(arguments) != 2 or arguments[0] not in kinds or arguments[1] not in ACTIONS:
        print(USAGE, file=sys.stderr)
        return 2
    kind, action = arguments
    secrets = [os.environ[name] for name in SECRET_VARIABLES if os.environ.get(name)]
    try:
        if kind == "spark":  # a master and its workers
            return spark_cluster.run(action, os.environ)
        server = SERVICES[kind](os.environ)
        if action == "start":
            lifecycle.start(server)
        elif action == "stop":
            lifecycle.stop(server)
        else:
            return 0 if lifecycle.status(server) else 1
    except (ServerError, OSError) as exc:  # OSError: a pid file or log we may not write
        print(mask(f"Error: {exc}", secrets), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Aborted!", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
