"""The commands a person waits on, against their floors: predict.py for one trip and answers.py.

Run by bench.py on its server once the homework has registered a champion. Each command is
run once to warm up (caches, bytecode), then `pairs` times alternated with its floor
(reader_floors.py), whole processes, A B A B; the medians and the median ratio are reported.
Targets: predict.py within 1.5 x its floor, answers.py within 2 x.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import click

from bench.measure import homework_env, measure, median
from homework.config import CHAMPION_ALIAS, DATASET, MODEL_NAME, MONTHS
from homework.data.trips import tripdata_path

ONE_TRIP = ("--pu", "74", "--do", "75", "--distance", "1.2")


def floor_model(uri: str, path: Path) -> None:
    """Pickle the verified champion's vectorizer and forest for the floors (our own file)."""
    import os

    from homework.trust.direct import load_direct

    os.environ["MLFLOW_TRACKING_URI"] = uri
    folder = path.parent / "floor-model"
    folder.mkdir()
    found = load_direct(f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}", uri, folder)
    if found is None:
        raise click.ClickException("the champion could not be read for the floors")
    model = found[0]
    path.write_bytes(pickle.dumps((model.dv, model.forest)))


def pairs_of(command: list[str], floor: list[str], env: dict, pairs: int) -> dict[str, Any]:
    """`command` and `floor` alternated after a warm-up of each: medians and the ratio."""
    measure(command, env), measure(floor, env)
    rounds = [(measure(command, env), measure(floor, env)) for _ in range(pairs)]
    return {
        "wall_s": median([run["wall_s"] for run, _ in rounds]),
        "cpu_s": median([run["cpu_s"] for run, _ in rounds]),
        "floor_wall_s": median([base["wall_s"] for _, base in rounds]),
        "floor_cpu_s": median([base["cpu_s"] for _, base in rounds]),
        "ratio": median([run["wall_s"] / base["wall_s"] for run, base in rounds]),
        "cpu_ratio": median([run["cpu_s"] / base["cpu_s"] for run, base in rounds]),
        "peak_mb": max(run["peak_mb"] for run, _ in rounds),
        "stdout": rounds[-1][0]["stdout"],
        "floor_stdout": rounds[-1][1]["stdout"],
    }


def readers(
    raw_dir: Path, out_dir: Path, uri: str, server_pid_file: Path, work: Path, pairs: int = 5
) -> dict[str, Any]:
    """predict.py (one trip) and answers.py against their floors, `pairs` pairs each."""
    model = work / "floor-model.pkl"
    floor_model(uri, model)
    env = homework_env(uri)
    floors = ["-m", "bench.reader_floors"]
    click.echo(f"predict.py, one trip: {pairs} pairs", err=True)
    predict = pairs_of(
        ["predict.py", *ONE_TRIP],
        [*floors, "predict", "--model", str(model), *ONE_TRIP],
        env,
        pairs,
    )
    if predict["stdout"] != predict["floor_stdout"]:
        raise click.ClickException(f"predict.py and its floor differ: {predict}")
    click.echo(f"answers.py: {pairs} pairs", err=True)
    test_month = tripdata_path(raw_dir, DATASET, MONTHS["test"])
    server_pid = json.loads(server_pid_file.read_text())["pid"]
    paths = ["--data_path", str(out_dir), "--raw_data_path", str(raw_dir)]
    answers = pairs_of(
        ["answers.py", *paths],  # Q4: the server listening on the URI's port
        [
            *floors,
            "answers",
            *("--uri", uri, "--model", str(model), "--data_path", str(out_dir)),
            *("--test_month", str(test_month), "--server_pid", str(server_pid)),
        ],
        env,
        pairs,
    )
    facts = json.loads(answers["floor_stdout"]).values()
    if not all(fact in answers["stdout"] for fact in facts):
        raise click.ClickException(f"answers.py and its floor differ: {answers}")
    for result in (predict, answers):
        result.pop("stdout"), result.pop("floor_stdout")
    return {"pairs": pairs, "predict": predict, "answers": answers}
