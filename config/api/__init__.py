"""Shared REST API plumbing: one error shape, permissions, strict query parameters,
pagination, throttles and the OpenAPI schema class. App APIs live in ``<app>/api/``."""
