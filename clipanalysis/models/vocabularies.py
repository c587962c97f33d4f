"""Attribute vocabularies: the colours, materials, patterns and categories texts are read for.

Data, not code: edited in the admin, seeded by a data migration, read through
``clipanalysis.vocabularies`` (which notices edits without a restart).
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models

MAX_TERM_CHARS = 100


def split_names(text: str) -> list[str]:
    """Synonyms as typed: one per line or comma-separated, blanks dropped, each once."""
    names = (name.strip() for name in re.split(r"[,\n]", text or ""))
    return list(dict.fromkeys(name for name in names if name))


def check_templates(templates) -> None:
    """Each template a non-empty string with exactly one ``{value}`` and no other braces."""
    if not isinstance(templates, list) or not templates:
        raise ValidationError("Give at least one prompt template, e.g. a photo of a {value}.")
    for template in templates:
        if not isinstance(template, str) or template.count("{value}") != 1:
            raise ValidationError(
                f"Prompt template {template!r} must contain {{value}} exactly once."
            )
        if "{" in template.replace("{value}", "") or "}" in template.replace("{value}", ""):
            raise ValidationError(f"Prompt template {template!r} has braces other than {{value}}.")


class AttributeFamily(models.Model):
    """One kind of attribute a description can state, and how CLIP is asked about it."""

    name = models.SlugField(max_length=30, unique=True, help_text="colour, material, pattern, …")
    label = models.CharField(max_length=60, help_text="What a reviewer reads.")
    prompt_templates = models.JSONField(
        default=list,
        validators=[check_templates],
        help_text='Prompts for each value, e.g. ["a photo of a {value} product"].',
    )
    is_active = models.BooleanField(default=True, help_text="Explained on new results.")
    opens_review = models.BooleanField(
        default=True, help_text="A confident conflict opens a review item (attribute conflict)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "attribute families"

    def __str__(self) -> str:
        return self.label or self.name


class AttributeTerm(models.Model):
    """One value of a family: the word CLIP is prompted with, and the other names texts use."""

    family = models.ForeignKey(AttributeFamily, on_delete=models.CASCADE, related_name="terms")
    value = models.CharField(max_length=MAX_TERM_CHARS)
    synonyms = models.TextField(
        blank=True, help_text="Other names, comma-separated or one per line (navy, dark blue)."
    )
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["family", "value"]
        constraints = [
            models.UniqueConstraint(fields=["family", "value"], name="one_term_per_family_value")
        ]

    def __str__(self) -> str:
        return f"{self.family_id and self.family.name}: {self.value}"

    @property
    def synonym_list(self) -> list[str]:
        return [
            name for name in split_names(self.synonyms) if name.casefold() != self.value.casefold()
        ]

    def clean(self) -> None:
        self.value = (self.value or "").strip()
        if not re.search(r"[^\W_]", self.value):
            raise ValidationError({"value": "A term needs at least one letter or digit."})
        too_long = [name for name in self.synonym_list if len(name) > MAX_TERM_CHARS]
        if too_long:
            raise ValidationError({"synonyms": f"{too_long[0][:40]}… is too long."})
        if self.family_id is None:
            return
        others = AttributeTerm.objects.filter(family_id=self.family_id).exclude(pk=self.pk)
        mine = {name.casefold() for name in [self.value, *self.synonym_list]}
        for other in others:
            clash = mine & {name.casefold() for name in [other.value, *other.synonym_list]}
            if clash:
                raise ValidationError(
                    f"{sorted(clash)[0]!r} already names {other.value!r} in this family; "
                    "a name may mean only one value."
                )
