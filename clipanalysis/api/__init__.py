"""REST API for analyses, the review queue, the seed-compatible ``/upload`` and batch scoring."""
