"""The API's image upload field: ``catalog.uploads.check_upload`` with DRF errors."""

from __future__ import annotations

from rest_framework import serializers

from catalog.imaging import BadImageError
from catalog.uploads import CheckedImage, UploadTooLarge, check_upload
from config.api.errors import PayloadTooLarge


class ImageUploadField(serializers.FileField):
    default_error_messages = {
        "invalid_image": "{message}",
    }

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault(
            "help_text",
            "An image file (JPEG, PNG, WebP, GIF, BMP or TIFF), at most UPLOAD_MAX_BYTES "
            "bytes and MAX_IMAGE_PIXELS pixels.",
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> CheckedImage:
        file = super().to_internal_value(data)  # not a file, or empty: 400
        try:
            return check_upload(file)
        except UploadTooLarge as error:
            raise PayloadTooLarge(str(error), field=self.field_name) from error
        except BadImageError as error:
            self.fail("invalid_image", message=str(error))

    def to_representation(self, value):
        return super().to_representation(value.file if isinstance(value, CheckedImage) else value)
