"""Django admin for the catalog, analyses, the review queue and model versions.

Each module registers its own ``ModelAdmin``; importing the package registers all
of them, in no particular order (none depends on another's registration).
"""

from clipanalysis.admin import analyses, catalog, model_versions, queue, verdicts, vocabularies

__all__ = ["analyses", "catalog", "model_versions", "queue", "verdicts", "vocabularies"]
