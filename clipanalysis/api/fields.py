"""The API's image upload field: ``catalog.uploads.check_upload`` with DRF errors."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from catalog.imaging import BadImageError
from catalog.pixel_budget import PixelBudgetBusy, PixelBudgetError
from catalog.uploads import CheckedImage, UploadTooLarge, check_upload
from config.api.errors import PayloadTooLarge, ServiceUnavailable


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
