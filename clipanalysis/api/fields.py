"""The API's upload fields: images through ``catalog.uploads.check_upload`` with DRF
errors, and description text that must be text."""

from __future__ import annotations

import json

from django.conf import settings
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
