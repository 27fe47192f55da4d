"""A registered version loaded for serving: the checks predict.py makes, then one trip.

`load_version` loads through trust.loading.load_verified, as predict.py does (every file's
signature before anything of the model runs; one line for a model whose code fails), then
asks the model for one trip: a version that cannot answer it is refused before it answers
anyone. Errors that say the tracking server is down or refused us are not refusals of the
version (`transient`): the follower tries again.
"""

from __future__ import annotations

import math
import time
from typing import Any

from homework.errors import UserError, first_line
from homework.serving.holder import Served
from homework.tracking.failures import connection_lost, refused_status, server_failed
from homework.tracking.sources import ForeignSource
from homework.trust.loading import BrokenModel, MissingModel, UntrustedModel, load_verified

PROBE_TRIP = {"PULocationID": [74], "DOLocationID": [75], "trip_distance": [1.2]}


class NotServable(UserError):
    """A version that loaded but does not answer one trip with a number of minutes."""


REFUSED = (UntrustedModel, ForeignSource, MissingModel, BrokenModel, NotServable)


def load_version(model_uri: str, trust_unsigned: bool = False) -> Served:
    """Load a registered version (models:/<name>/<number>, or @<alias> resolved once) once it
    checks out; refuse (REFUSED) if it does not."""
    loaded = load_verified(model_uri, trust_unsigned)
    probe(loaded.model, loaded.verified.name)
    schema = loaded.model.metadata.get_input_schema()
    version = str(loaded.verified.version)
    return Served(loaded.model, version, loaded.verified.signer, time.time(), schema)


def probe(model: Any, name: str) -> float:
    """The model's minutes for one trip; NotServable if it raises or answers no number."""
    import numpy as np
    import pandas as pd

    from homework.model.features import with_model_types

    try:
        minutes = float(np.asarray(model.predict(with_model_types(pd.DataFrame(PROBE_TRIP))))[0])
    except Exception as exc:  # the model's own code: whatever it raises, it is not served
        raise NotServable(
            f"{name} does not answer one trip ({type(exc).__name__}: {first_line(exc)[:200]})"
        ) from None
    if not math.isfinite(minutes):
        raise NotServable(f"{name} answers one trip with {minutes}, not a number of minutes")
    return minutes


def transient(exc: BaseException) -> bool:
    """True if `exc` says the tracking server is down, failing or refusing us: not the model."""
    return connection_lost(exc) or server_failed(exc) or refused_status(exc) is not None
