"""The machinery beneath the homework scripts: data, features, tracking, models, trust."""
