"""The random forest: how it is fitted and how it is scored (RMSE in minutes)."""

from __future__ import annotations

from typing import Any


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error; `mean_squared_error(squared=False)` is gone from scikit-learn."""
    from sklearn.metrics import root_mean_squared_error

    return float(root_mean_squared_error(y_true, y_pred))


def fit_forest(X: Any, y: Any, n_jobs: int = -1, **params: Any) -> Any:
    """Fit a RandomForestRegressor on every core, then leave it predicting on one.

    The fitted trees are the same whatever `n_jobs` (each tree has its own seed), but a
    parallel predict() adds the trees' outputs in the order its threads finish, so its
    results can differ in the last bit from run to run. Predicting on one thread keeps
    every RMSE and every logged model's predictions bit-identical; it is a small part of
    the work.
    """
    from sklearn.ensemble import RandomForestRegressor

    forest = RandomForestRegressor(n_jobs=n_jobs, **params).fit(X, y)
    return forest.set_params(n_jobs=1)
