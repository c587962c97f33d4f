"""``why``: the analysis in short phrases (``clipanalysis.review_findings``), for the API."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clipanalysis.review_findings import why

WHY_HELP = (
    "Why the analysis needs (or needed) a reviewer, in short phrases, most telling first: "
    'the score against the threshold with the calibrated P(match) when one is fitted ("score '
    '0.212 < threshold 0.250, P(match) 0.08"), a stated attribute the image contradicts '
    '("colour: says red → looks blue (0.91)", "category: says mug → looks like t-shirt '
    "(0.88)\"), the product's category against the image's (\"category: listed as mug → looks "
    'like t-shirt (0.88)"), the image it duplicates ("duplicate of DEMO-0-00148 (2 bits)") and '
    'each failed quality check ("blur 42 < 100"). Empty while the analysis is not done.'
)


@extend_schema_field(serializers.ListField(child=serializers.CharField()))
class WhyField(serializers.Field):
    """Read only; ``result`` is where the analysis is reached from the serialized object."""

    def __init__(self, result: str = "", **kwargs) -> None:
        self.result_path = result
        kwargs.update(source="*", read_only=True, help_text=WHY_HELP)
        super().__init__(**kwargs)

    def to_representation(self, value) -> list[str]:
        result = getattr(value, self.result_path) if self.result_path else value
        return why(result)
