"""Import this first, before mlflow: it takes about 1.5 s off every script's start and exit.

Measured here (README, "Performance"), a script that uses MLflow, scikit-learn and hyperopt
spent about 2 s importing them and 0.7 s exiting, against seconds of real work. Three causes:

* `import mlflow` on 2.22 (not on 3.x) imports `databricks.sdk.errors.platform` through its
  Unity Catalog registry store. Python first runs the package's `databricks/sdk/__init__.py`,
  which imports every service module of the SDK: half of `import mlflow`, for an SDK we never
  use.
  `defer_package` registers such a package so that its submodules import as usual while its
  own `__init__` runs only when code first asks the package for an attribute (`from
  databricks.sdk import WorkspaceClient`): code that does use the SDK still gets all of it.
* Python's garbage collector runs after every 700 new objects and, every hundred runs or so,
  walks the whole heap: the 300,000 objects those libraries create on import, walked several
  times per process (0.5 s in pipeline.py) for almost no garbage, since arrays and models are
  freed by reference counting as soon as they are dropped. Collecting after every 50,000 new
  objects spends a third of that; peak memory stays the same (measured).
* At exit, the collector walks all those objects again, several times over. `gc.freeze()` as
  the last exit handler (after MLflow's own, which end the runs) moves them out of its reach;
  the operating system frees the memory anyway.

No result depends on any of this.
"""

from __future__ import annotations

import atexit
import gc
import importlib.util
import sys
from typing import Any

DEFERRED_PACKAGE = "databricks.sdk"
GC_THRESHOLD = 50_000  # new objects between two collections (Python's default: 700)


def defer_package(name: str) -> bool:
    """Put package `name` in `sys.modules` with its `__init__` not yet run; True if done."""
    if name in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec(name)
    except ImportError:
        return False
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return False
    module = importlib.util.module_from_spec(spec)  # has __path__: submodules import as usual

    def load_on_first_use(attribute: str) -> Any:  # PEP 562: only for attributes not yet set
        del module.__getattr__
        spec.loader.exec_module(module)
        return getattr(module, attribute)

    module.__getattr__ = load_on_first_use
    sys.modules[name] = module
    return True


defer_package(DEFERRED_PACKAGE)
gc.set_threshold(GC_THRESHOLD)  # the older generations keep their thresholds
atexit.register(gc.freeze)  # registered first, so it runs last
