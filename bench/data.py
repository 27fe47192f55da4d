"""The benchmark's data: the real months replicated N times, each copy after the first noisy.

Exact copies of the real trips would add no split points: forests fitted on them barely
grow, and the benchmark would hide what more trips really cost. So copy 0 of each month is
the real file and every further copy moves each trip's `trip_distance` by up to
DISTANCE_NOISE (relative) and its drop-off time by up to DROPOFF_NOISE_S seconds, seeded:
the rows are distinct, as more real trips are, and the same on every run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from homework.config import DATASET, MONTHS, SEED
from homework.data.trips import timestamp_columns, tripdata_path
from homework.model.features import NUMERICAL

DISTANCE_NOISE = 0.01  # each copy's distances times 1 +- up to 1 %
DROPOFF_NOISE_S = 30  # each copy's drop-off times +- up to 30 seconds


def noisy_copy(table: pa.Table, rng: np.random.Generator) -> pa.Table:
    """`table` with small noise in trip_distance and the drop-off time (nulls stay null)."""
    n = table.num_rows
    _, dropoff = timestamp_columns(DATASET)
    factor = pa.array(1 + rng.uniform(-DISTANCE_NOISE, DISTANCE_NOISE, n))
    distance = pc.multiply(table.column(NUMERICAL), factor)
    seconds = rng.integers(-DROPOFF_NOISE_S, DROPOFF_NOISE_S + 1, n)
    shift = pa.array(seconds * 1_000_000, type=pa.duration("us"))
    moved = pc.add(table.column(dropoff), shift).cast(table.schema.field(dropoff).type)
    table = table.set_column(table.schema.get_field_index(NUMERICAL), NUMERICAL, distance)
    return table.set_column(table.schema.get_field_index(dropoff), dropoff, moved)


def replicate(raw_dir: Path, dest: Path, factor: int, seed: int = SEED) -> int:
    """Write each real month of `raw_dir` `factor` times over into `dest`; return the rows.

    Copy 0 is the real file's rows, unchanged; copies 1 to factor - 1 are noisy_copy's.
    """
    dest.mkdir(parents=True, exist_ok=True)
    rows = 0
    for index, month in enumerate(MONTHS.values()):
        source = tripdata_path(raw_dir, DATASET, month)
        table = pq.read_table(source)
        rng = np.random.default_rng([seed, index])
        copies = [table, *(noisy_copy(table, rng) for _ in range(factor - 1))]
        pq.write_table(pa.concat_tables(copies), dest / source.name)
        rows += table.num_rows * factor
    return rows
