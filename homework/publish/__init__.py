"""register_model.py's work: the top trials scored and logged (candidates.py), the champion
to beat (incumbent.py), the promotion gate (gate.py), the champion published (champion.py)
and the model registry (registry.py); and rollback.py's: @champion moved back (rollback.py).
Imports the top modules and the data, model, tracking and trust wings; never search."""
