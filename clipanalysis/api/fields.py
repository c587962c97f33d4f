"""The API's upload fields: images through ``catalog.uploads.check_upload`` with DRF
errors, and description text that must be text."""

from __future__ import annotations

import json

from django.conf import settings
from django.utils.datastructures import MultiValueDict
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.imaging import BadImageError
from catalog.models import Product
from catalog.pixel_budget import PixelBudgetBusy, PixelBudgetError
from catalog.uploads import CheckedImage, UploadTooLarge, check_upload
from config.api.errors import PayloadTooLarge, ServiceUnavailable

# A product description's limit is the model field's own (imported by the review layer too).
DESCRIPTION_MAX_CHARS = Product._meta.get_field("description").max_length


class ImageUploadField(serializers.FileField):
    default_error_messages = {
        "invalid_image": "{message}",
    }

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault(
            "help_text",
            "An image file (JPEG, PNG, WebP, GIF, BMP or TIFF; never SVG), at most "
            "UPLOAD_MAX_BYTES bytes and MAX_IMAGE_PIXELS pixels. It is stored under a random "
            "name with the extension of the format decoded; the client's name is kept as "
            "original_filename only.",
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> CheckedImage:
        file = super().to_internal_value(data)  # not a file, or empty: 400
        try:
            return check_upload(file)
        except UploadTooLarge as error:
            raise PayloadTooLarge(str(error), field=self.field_name) from error
        except PixelBudgetBusy as error:
            raise ServiceUnavailable(
                str(error), retry_after=settings.RETRY_AFTER_SECONDS
            ) from error
        except PixelBudgetError as error:
            raise PayloadTooLarge(str(error), field=self.field_name) from error
        except BadImageError as error:
            self.fail("invalid_image", message=str(error))

    def to_representation(self, value):
        return super().to_representation(value.file if isinstance(value, CheckedImage) else value)


UPLOAD_FIELD = "file"


class UploadFieldAlias(serializers.Field):
    """An old name of a serializer's upload field, still accepted and documented as such.

    ``UploadAliasesMixin`` moves its value under the upload field's name before any
    field runs, so this field never validates anything itself: it exists for the schema.
    """

    def __init__(self, **kwargs) -> None:
        kwargs.update(required=False, write_only=True)
        super().__init__(**kwargs)

    def to_internal_value(self, data):  # pragma: no cover - renamed before validation
        raise serializers.ValidationError(f"Send the image as `{UPLOAD_FIELD}`.")


@extend_schema_field(
    {
        "type": "string",
        "format": "binary",
        "deprecated": True,
        "description": f"Old name of `{UPLOAD_FIELD}`, still accepted: send one of the two.",
    }
)
class ImageAlias(UploadFieldAlias):
    pass


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "format": "binary"},
        "deprecated": True,
        "description": f"Old name of `{UPLOAD_FIELD}`, still accepted: send one of the two.",
    }
)
class ImageListAlias(UploadFieldAlias):
    pass


def alias_names(serializer: serializers.Serializer) -> list[str]:
    return [
        name for name, field in serializer.fields.items() if isinstance(field, UploadFieldAlias)
    ]


class UploadAliasesMixin:
    """One name for an uploaded image on every endpoint, ``file``; the old names
    (declared as ``UploadFieldAlias`` fields) are accepted for it.

    The value sent under an old name is moved to ``file`` before validation, and
    errors about it come back under the name the client used. Both names at once
    are ambiguous: a 400.
    """

    @property
    def upload_field_aliases(self) -> tuple[str, list[str]]:
        """For the schema (``config.api.schema``): the upload field and its old names."""
        return UPLOAD_FIELD, alias_names(self)

    def run_validation(self, data=serializers.empty):
        sent = [name for name in alias_names(self) if _has(data, name)]
        if not sent:
            return super().run_validation(data)
        if len(sent) > 1 or _has(data, UPLOAD_FIELD):
            names = ", ".join(f"`{name}`" for name in [UPLOAD_FIELD, *sent] if _has(data, name))
            raise serializers.ValidationError(
                {sent[0]: [f"Send the image under one name, `{UPLOAD_FIELD}` ({names} sent)."]}
            )
        alias = sent[0]
        try:
            return super().run_validation(_renamed(data, alias, UPLOAD_FIELD))
        except serializers.ValidationError as error:
            if isinstance(error.detail, dict) and UPLOAD_FIELD in error.detail:
                error.detail[alias] = error.detail.pop(UPLOAD_FIELD)
            raise
        except PayloadTooLarge as error:
            if getattr(error, "field", None) == UPLOAD_FIELD:
                error.field = alias
            raise


def _has(data, name: str) -> bool:
    return hasattr(data, "keys") and name in data


def _renamed(data, old: str, new: str):
    """``data`` with ``old``'s values under ``new``; a multipart QueryDict keeps every value
    (files are not copied: a QueryDict's ``copy`` would deep-copy temporary files)."""
    if hasattr(data, "getlist"):
        renamed = MultiValueDict({key: data.getlist(key) for key in data if key != old})
        renamed.setlist(new, data.getlist(old))
        return renamed
    renamed = {key: value for key, value in data.items() if key != old}
    renamed[new] = data[old]
    return renamed


DESCRIPTION_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": DESCRIPTION_MAX_CHARS,
    # Leading and trailing whitespace is trimmed (Python's notion of it): something must stay.
    "pattern": "[^\\s\\x1c-\\x1f\\x85]",
}


@extend_schema_field(DESCRIPTION_SCHEMA)
class DescriptionField(serializers.CharField):
    """A product description in a form field: text, not a JSON object or list.

    Multipart sends every value as text, so a client that serialised a structure
    by mistake (``{}``, ``["a"]``) would otherwise have it scored as a description.
    """

    def to_internal_value(self, data) -> str:
        text = super().to_internal_value(data)
        if text[:1] in "{[" and text[-1:] in "}]":
            try:
                json.loads(text)
            except ValueError:
                return text
            self.fail("structure")
        return text

    schema = DESCRIPTION_SCHEMA
    default_error_messages = {
        **serializers.CharField.default_error_messages,
        "structure": "Send the description as plain text, not a JSON object or list.",
    }
