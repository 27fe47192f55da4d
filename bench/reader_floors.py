"""The floors of the commands a person waits on: the same results with the least work.

- `predict`: one trip's minutes, by scikit-learn from a pickle of the champion's vectorizer
  and forest (what predict.py --pu --do --distance answers);
- `answers`: the six facts, read with plain REST calls, the pickles and that pickle (what
  answers.py prints, without its checks).

The benchmark writes that pickle from the verified champion (readers.py); nothing else here
is trusted or checked, which is what makes it a floor.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import click
import requests

API = "api/2.0/mlflow"


@click.group()
def main() -> None:
    """Floors of predict.py and answers.py."""


@main.command()
@click.option("--model", "model_path", required=True, help="Pickle of (vectorizer, forest).")
@click.option("--pu", type=int, required=True)
@click.option("--do", type=int, required=True)
@click.option("--distance", type=float, required=True)
def predict(model_path: str, pu: int, do: int, distance: float) -> None:
    """One trip's predicted minutes."""
    dv, forest = pickle.loads(Path(model_path).read_bytes())
    X = dv.transform([{"PU_DO": f"{pu}_{do}", "trip_distance": distance}])
    click.echo(f"predicted duration: {forest.predict(X)[0]:.2f} minutes")


def search(uri: str, experiment: str, order: str) -> dict:
    """The first run of `experiment` by `order` (REST)."""
    found = requests.get(
        f"{uri}/{API}/experiments/get-by-name", params={"experiment_name": experiment}
    )
    body = {"experiment_ids": [found.json()["experiment"]["experiment_id"]], "order_by": [order]}
    runs = requests.post(f"{uri}/{API}/runs/search", json={**body, "max_results": 1}).json()
    return runs["runs"][0]["data"]


@main.command()
@click.option("--uri", required=True)
@click.option("--model", "model_path", required=True, help="Pickle of (vectorizer, forest).")
@click.option("--data_path", required=True)
@click.option("--test_month", required=True, help="The raw test month's parquet file.")
@click.option("--server_pid", type=int, required=True)
def answers(uri: str, model_path: str, data_path: str, test_month: str, server_pid: int) -> None:
    """The six answers."""
    from importlib.metadata import version

    import pandas as pd
    import psutil
    from sklearn.metrics import root_mean_squared_error

    facts = {1: version("mlflow"), 2: str(len(list(Path(data_path).glob("*.pkl"))))}
    train = search(uri, "random-forest-train", "attributes.start_time DESC")
    facts[3] = next(p["value"] for p in train["params"] if p["key"] == "min_samples_split")
    command = psutil.Process(server_pid).cmdline()
    facts[4] = next(word.lstrip("-") for word in command if word == "--default-artifact-root")
    best = search(uri, "random-forest-hyperopt", "metrics.rmse ASC")
    facts[5] = f"{next(m['value'] for m in best['metrics'] if m['key'] == 'rmse'):.3f}"
    dv, forest = pickle.loads(Path(model_path).read_bytes())
    trips = pd.read_parquet(test_month)
    minutes = (trips.lpep_dropoff_datetime - trips.lpep_pickup_datetime).dt.total_seconds() / 60
    trips = trips[(minutes >= 1) & (minutes <= 60)]
    features = pd.DataFrame(
        {
            "PU_DO": trips.PULocationID.astype(str) + "_" + trips.DOLocationID.astype(str),
            "trip_distance": trips.trip_distance,
        }
    )
    predicted = forest.predict(dv.transform(features.to_dict(orient="records")))
    facts[6] = f"{root_mean_squared_error(minutes[trips.index], predicted):.3f}"
    json.dump(facts, sys.stdout)


if __name__ == "__main__":
    main()
