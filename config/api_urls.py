"""REST API routes (owned by the API work: /api/v1/, /upload, schema and docs)."""

urlpatterns: list = []
