"""The pictures logged as run artifacts: the hyperopt search and the champion on the test month.

Each `*_figure` function returns a matplotlib Figure made without pyplot (no backend, no
display, nothing to close); `log_figure` logs one as a PNG artifact of the active run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

FIGSIZE = (6.4, 4.4)
DPI = 100


def new_figure() -> tuple[Figure, Any]:
    """A figure of the project's size with one set of axes."""
    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    return fig, fig.subplots()


def trial_rmse_figure(losses: Sequence[float]) -> Figure:
    """Validation RMSE of each hyperopt trial, in order, with the best-so-far line."""
    trial = np.arange(1, len(losses) + 1)
    fig, ax = new_figure()
    ax.plot(trial, losses, "o", label="trial")
    ax.step(trial, np.minimum.accumulate(losses), where="post", label="best so far")
    ax.set(xlabel="trial", ylabel="validation RMSE (minutes)", title="Hyperopt search")
    ax.legend()
    fig.tight_layout()
    return fig


def predicted_vs_actual_figure(actual: np.ndarray, predicted: np.ndarray) -> Figure:
    """Hexbin of predicted against actual durations, with the diagonal of perfect predictions."""
    fig, ax = new_figure()
    hexes = ax.hexbin(actual, predicted, gridsize=60, bins="log", mincnt=1, cmap="viridis")
    limits = [0, max(float(np.max(actual)), float(np.max(predicted)))]
    ax.plot(limits, limits, color="red", linewidth=1, label="predicted = actual")
    ax.set(xlabel="actual duration (minutes)", ylabel="predicted duration (minutes)")
    ax.set_title("Champion on the test month: predicted vs actual")
    ax.legend(loc="upper left")
    fig.colorbar(hexes, ax=ax, label="trips")
    fig.tight_layout()
    return fig


def residuals_figure(actual: np.ndarray, predicted: np.ndarray) -> Figure:
    """Histogram of the residuals (actual - predicted) with their mean."""
    residuals = np.asarray(actual) - np.asarray(predicted)
    fig, ax = new_figure()
    ax.hist(residuals, bins=120)
    ax.axvline(residuals.mean(), color="red", linewidth=1, label=f"mean {residuals.mean():.2f}")
    ax.set(xlabel="actual - predicted (minutes)", ylabel="trips")
    ax.set_title("Champion on the test month: residuals")
    ax.legend()
    fig.tight_layout()
    return fig


def log_figure(fig: Figure, artifact_file: str) -> None:
    """Log the figure as a PNG artifact of the active run."""
    import mlflow

    mlflow.log_figure(fig, artifact_file)
