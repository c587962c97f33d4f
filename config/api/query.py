"""Query parameters are input too: unknown names, NUL bytes and bad orderings are a 400.

``StrictQueryMixin`` goes on every API view (before the DRF base class). It
allows exactly what the OpenAPI schema documents for the action: on lists,
the FilterSet's filters, ``ordering`` and the pagination parameters; on other
actions only the view's ``extra_query_params``; ``format`` (the browsable
API's switch) everywhere.
"""

from __future__ import annotations

from django import forms
from django.core.validators import MinValueValidator
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.settings import api_settings

from config.env import parse_bool

NUL = "\x00"
# Object ids are positive 64-bit integers: longer digit strings are a 404 from the router,
# never an integer the database cannot hold (SQLite raises OverflowError: a 500).
ID_PATTERN = "[0-9]{1,18}"
MAX_ID = 2**63 - 1


def nul_errors(query) -> dict[str, list[str]]:
    """Per-parameter errors for NUL bytes in a ``QueryDict``'s names or values."""
    errors: dict[str, list[str]] = {}
    for name, values in query.lists():
        if NUL in name or any(NUL in value for value in values):
            errors[name.replace(NUL, "\\x00")] = ["Null characters are not allowed."]
    return errors


class StrictQueryMixin:
    extra_query_params: tuple[str, ...] = ()

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        if getattr(self, request.method.lower(), None) is None:
            return  # an undeclared method: DRF answers 405, whatever the parameters
        errors = nul_errors(request.query_params)
        for name, value in kwargs.items():
            if isinstance(value, str) and NUL in value:
                errors[name] = ["Null characters are not allowed."]
        if errors:
            raise ValidationError(errors)
        unknown = sorted(set(request.query_params) - self.allowed_query_params())
        if unknown:
            allowed = ", ".join(sorted(self.allowed_query_params() - {"format"})) or "none"
            raise ValidationError(
                {name: [f"Unknown query parameter (allowed here: {allowed})."] for name in unknown}
            )

    def allowed_query_params(self) -> set[str]:
        allowed = {api_settings.URL_FORMAT_OVERRIDE or "format", *self.extra_query_params}
        if getattr(self, "action", None) != "list":
            return allowed
        filterset_class = getattr(self, "filterset_class", None)
        if filterset_class is not None:
            allowed |= set(filterset_class.base_filters)
        for backend in getattr(self, "filter_backends", ()):
            if issubclass(backend, OrderingFilter):
                allowed.add(backend.ordering_param)
        paginator = getattr(self, "paginator", None)
        if paginator is not None:
            for attribute in ("page_query_param", "page_size_query_param"):
                if getattr(paginator, attribute, None):
                    allowed.add(getattr(paginator, attribute))
        return allowed


class StrictOrderingFilter(OrderingFilter):
    """DRF's ordering, but an unknown field is a 400 and the schema lists the choices.

    The view's ``ordering`` is always followed by ``-id`` so pages are stable.
    """

    ordering_description = _("Sort by one of the listed fields; prefix with - to reverse.")

    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if params is None:
            return self.get_default_ordering(view)
        fields = [param.strip() for param in params.split(",") if param.strip()]
        valid = {
            name for name, _label in self.get_valid_fields(queryset, view, {"request": request})
        }
        invalid = [field for field in fields if field.lstrip("-") not in valid]
        if invalid or not fields:
            raise ValidationError(
                {
                    self.ordering_param: [
                        f"Cannot order by {', '.join(invalid) or params!r}; "
                        f"choose from {', '.join(sorted(valid))}."
                    ]
                }
            )
        return [*fields, "-id"] if not {"id", "-id"} & set(fields) else fields

    def get_schema_operation_parameters(self, view):
        fields = sorted(getattr(view, "ordering_fields", None) or [])
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": str(self.ordering_description),
                "schema": {
                    "type": "string",
                    "enum": [choice for field in fields for choice in (field, f"-{field}")],
                },
            }
        ]


class IdField(forms.IntegerField):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


# Documented as what it accepts: a positive 64-bit integer.
@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(filters.NumberFilter):
    """An object id: a whole number from 1 to 2⁶³−1 (``NumberFilter`` would accept 1.5
    and round it, and pass 10²⁵ to the database)."""

    field_class = IdField


NUMBER_LIMIT = 1e50  # django-filter's own cap on NumberFilter, here in both directions


@extend_schema_field({"type": "number", "minimum": -NUMBER_LIMIT, "maximum": NUMBER_LIMIT})
class BoundedNumberFilter(filters.NumberFilter):
    """A number filter whose documented range is the one it enforces (±1e50)."""

    @property
    def field(self):
        field = super().field
        if not any(isinstance(v, MinValueValidator) for v in field.validators):
            field.validators.append(MinValueValidator(-NUMBER_LIMIT))
        return field


class PresentChoiceField(forms.ChoiceField):
    """A choice that, when the parameter is sent, must be one of the choices ("" is not)."""

    def clean(self, value):
        if value == "":
            raise forms.ValidationError(
                "Choose one of: %(choices)s.",
                code="invalid_choice",
                params={"choices": ", ".join(str(key) for key, _ in self.choices if key != "")},
            )
        return super().clean(value)


class StrictChoiceFilter(filters.ChoiceFilter):
    """``?status=`` is a 400, as the schema's enum says, not "no filter"."""

    field_class = PresentChoiceField


class StrictBooleanField(forms.Field):
    """true/false (also 1/0, yes/no); anything else is an error, not "no filter"."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        parsed = parse_bool(str(value))
        if parsed is None:
            raise forms.ValidationError("Use true or false.", code="invalid")
        return parsed


class BooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField

    def __init__(self, *args, **kwargs) -> None:
        # django-filter's widget turns unknown words into "no filter"; keep the raw value.
        kwargs["widget"] = forms.TextInput
        super().__init__(*args, **kwargs)
