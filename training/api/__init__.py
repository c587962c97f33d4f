"""REST API for model versions: list, metrics, activation (staff)."""
