"""Safe image decoding: the one place untrusted bytes become pixels.

Pillow raises many exception types for hostile or broken files (not only
``UnidentifiedImageError``), so every failure while opening or loading becomes
``BadImageError`` with a message a catalog editor can act on. Decompression
bombs are refused by pixel count before any pixel is decoded.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageOps

DEFAULT_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
DEFAULT_MAX_PIXELS = 40_000_000


class BadImageError(ValueError):
    """The file is not an image we can analyse; the message says why."""


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # RGB, EXIF orientation applied
    format: str
    width: int
    height: int
    content_hash: str  # sha256 of the file's bytes


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_bytes(source: bytes | str | Path | BinaryIO) -> bytes:
    if isinstance(source, bytes):
        return source
    if isinstance(source, str | Path):
        return Path(source).read_bytes()
    if hasattr(source, "seek"):
        source.seek(0)
    data = source.read()
    if hasattr(source, "seek"):
        source.seek(0)
    return data


def decode_image(
    source: bytes | str | Path | BinaryIO,
    *,
    formats: tuple[str, ...] | list[str] = DEFAULT_FORMATS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> DecodedImage:
    """Decode ``source`` into an RGB image, or raise ``BadImageError``.

    Handles what catalogs really send: CMYK JPEGs, 16-bit PNGs, palette images
    with transparency (composited on white), EXIF-rotated phone photos.
    """
    data = read_bytes(source)
    if not data:
        raise BadImageError("The file is empty (0 bytes).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(BytesIO(data), formats=list(formats)) as opened:
                width, height = opened.size
                if width * height > max_pixels:
                    raise BadImageError(
                        f"The image is {width}x{height} = {width * height:,} pixels; "
                        f"the limit is {max_pixels:,}."
                    )
                image_format = opened.format or "UNKNOWN"
                opened.load()
                image = _to_rgb(ImageOps.exif_transpose(opened))
    except BadImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise BadImageError(f"The image has too many pixels to decode safely: {error}") from error
    except Exception as error:  # Pillow raises OSError, SyntaxError, ValueError, struct.error…
        raise BadImageError(_describe_decode_error(error, formats)) from error
    return DecodedImage(
        image=image,
        format=image_format,
        width=image.width,
        height=image.height,
        content_hash=content_hash(data),
    )


def _describe_decode_error(error: Exception, formats: tuple[str, ...] | list[str]) -> str:
    text = str(error)
    if "cannot identify image file" in text:
        return f"The file is not an image in an accepted format ({', '.join(formats)})."
    if "truncated" in text.lower():
        return "The image file is truncated (the upload may have been cut off)."
    return f"The image could not be decoded: {text or type(error).__name__}."


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: scale to 8 bits rather than clipping to white.
        return image.point(lambda value: value / 256).convert("L").convert("RGB")
    return image.convert("RGB")
