"""The champion's model file (MLflow's "models from code"): loading the champion runs it.

MLflow copies this file into the model folder and runs it, with the model's `code/` first
on `sys.path`, to get the model object (`set_model`); the object then reads its forest and
vectorizer from the model's artifacts (trip_model.TripDurationModel.load_context). Nothing
of it is a pickle. Only MLflow imports this file: importing it sets MLflow's model.
"""

import mlflow

from homework.model.trip_model import TripDurationModel

mlflow.models.set_model(TripDurationModel())
