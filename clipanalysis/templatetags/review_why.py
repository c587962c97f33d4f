"""``{{ result|why:product }}``: the phrases of ``clipanalysis.review_findings.why``."""

from __future__ import annotations

from django import template

from clipanalysis.review_findings import why as why_phrases

register = template.Library()


@register.filter
def why(result, product=None) -> list[str]:
    return why_phrases(result, product)
