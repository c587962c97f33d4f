"""Safe image decoding: the one place untrusted bytes become pixels.

Pillow raises many exception types for hostile or broken files (not only
``UnidentifiedImageError``), so every failure while opening or loading becomes
``BadImageError`` with a message a catalog editor can act on. Decompression
bombs are refused by pixel count before any pixel is decoded.

``inspect_image`` is what an upload needs (format, size, hash, proof that the
pixels decode) without holding the pixels at full size; ``decode_image`` is
what scoring needs (the pixels).
"""

from __future__ import annotations

import hashlib
import math
import warnings
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageOps

from catalog.pixel_budget import PixelBudget, PixelBudgetError
from catalog.png_check import png_problem

DEFAULT_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
DEFAULT_MAX_PIXELS = 40_000_000
# Stored files are named by the format decoded, never by what the client said.
EXTENSIONS = {
    "JPEG": ".jpg",
    "PNG": ".png",
    "WEBP": ".webp",
    "GIF": ".gif",
    "BMP": ".bmp",
    "TIFF": ".tiff",
}
EXIF_ORIENTATION = 0x0112
SWAPPED_ORIENTATIONS = {5, 6, 7, 8}
EXIF_FORMATS = {"JPEG", "WEBP", "TIFF"}  # EXIF orientations that turn the picture by 90°
JPEG_CHECK_SCALE = 8  # JPEGs are proven decodable at 1/8 of their size (libjpeg's DCT scaling)
SNIFF_BYTES = 1024


class BadImageError(ValueError):
    """The file is not an image we can analyse; the message says why."""


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # RGB, EXIF orientation applied; may be reduced (``working_side``)
    format: str
    width: int  # the file's own size, EXIF orientation applied, whatever the decode's size
    height: int
    content_hash: str  # sha256 of the file's bytes

    @property
    def reduced(self) -> bool:
        return self.image.size != (self.width, self.height)


@dataclass(frozen=True)
class ImageFacts:
    """What an upload check learns without keeping pixels: the size as displayed."""

    format: str
    width: int  # EXIF orientation applied, as decode_image would report
    height: int
    content_hash: str  # sha256 of the file's bytes


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_bytes(source: bytes | str | Path | BinaryIO) -> bytes:
    if isinstance(source, bytes):
        return source
    if isinstance(source, str | Path):
        try:
            return Path(source).read_bytes()
        except FileNotFoundError:
            raise
        except (OSError, ValueError) as error:  # a NUL byte, a name too long, a folder…
            raise BadImageError(
                f"The file {str(source)[:120]!r} cannot be read: {error}"
            ) from error
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
    working_side: int | None = None,
) -> DecodedImage:
    """Decode ``source`` into an RGB image, or raise ``BadImageError``.

    Handles what catalogs really send: CMYK JPEGs, 16-bit PNGs, palette images
    with transparency (composited on white), EXIF-rotated phone photos.

    ``working_side``: the longest side the caller will look at. A JPEG larger than
    that is decoded at the smallest DCT scale (1/2, 1/4, 1/8: libjpeg's ``draft``)
    that still keeps its long side at least ``working_side``, so a 4,000 px photo
    is never fully decoded for a 512 px check and a 224 px model input. ``width``
    and ``height`` stay the file's own size (the resolution check needs it).
    """
    data = read_bytes(source)
    if not data:
        raise BadImageError("The file is empty (0 bytes).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(BytesIO(data), formats=list(formats)) as opened:
                _check_pixel_count(*opened.size, max_pixels)
                image_format = opened.format or "UNKNOWN"
                stored_size = opened.size
                if working_side and image_format == "JPEG":
                    _draft_for(opened, working_side)
                opened.load()
                transposed = ImageOps.exif_transpose(opened)
                turned = transposed.size != opened.size
                image = _to_rgb(transposed)
    except BadImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise BadImageError(f"The image has too many pixels to decode safely: {error}") from error
    except Exception as error:  # Pillow raises OSError, SyntaxError, ValueError, struct.error…
        raise BadImageError(_describe_decode_error(error, formats)) from error
    width, height = stored_size[::-1] if turned else stored_size
    return DecodedImage(
        image=image,
        format=image_format,
        width=width,
        height=height,
        content_hash=content_hash(data),
    )


def _draft_for(opened: Image.Image, working_side: int) -> None:
    """Ask libjpeg for the smallest scale whose long side is still >= ``working_side``."""
    width, height = opened.size
    scale = working_side / max(width, height)
    if scale >= 1:
        return
    opened.draft(opened.mode, (math.ceil(width * scale), math.ceil(height * scale)))


def inspect_image(
    source: bytes | str | Path | BinaryIO,
    *,
    formats: tuple[str, ...] | list[str] = DEFAULT_FORMATS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    budget: PixelBudget | None = None,
    budget_wait: float = 10.0,
) -> ImageFacts:
    """Format, displayed size and hash, after proving the pixels decode; or ``BadImageError``.

    Memory stays small whatever the pixel count: a JPEG is decoded at 1/8 scale
    (every byte of its stream is still read), a PNG's pixel stream is inflated
    and counted (``png_check``), other formats are decoded once inside
    ``budget`` (``PixelBudgetError`` when they do not fit) and dropped.
    """
    data = read_bytes(source)
    if not data:
        raise BadImageError("The file is empty (0 bytes).")
    if looks_like_svg(data):
        raise BadImageError(
            "SVG files are not accepted (they can carry scripts); send a JPEG, PNG or WebP."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(BytesIO(data), formats=list(formats)) as opened:
                width, height = opened.size
                _check_pixel_count(width, height, max_pixels)
                image_format = opened.format or "UNKNOWN"
                # Pillow's PNG getexif() decodes the whole image: PNG orientation is not read.
                orientation = (
                    opened.getexif().get(EXIF_ORIENTATION) if image_format in EXIF_FORMATS else None
                )
                _prove_decodable(opened, data, budget, budget_wait)
    except (BadImageError, PixelBudgetError):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise BadImageError(f"The image has too many pixels to decode safely: {error}") from error
    except Exception as error:  # Pillow raises OSError, SyntaxError, ValueError, struct.error…
        raise BadImageError(_describe_decode_error(error, formats)) from error
    if orientation in SWAPPED_ORIENTATIONS:
        width, height = height, width
    return ImageFacts(
        format=image_format, width=width, height=height, content_hash=content_hash(data)
    )


def looks_like_svg(data: bytes) -> bool:
    head = data[:SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<") and b"<svg" in head


def _check_pixel_count(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise BadImageError(
            f"The image is {width}x{height} = {width * height:,} pixels; "
            f"the limit is {max_pixels:,}."
        )


def _prove_decodable(
    opened: Image.Image, data: bytes, budget: PixelBudget | None, budget_wait: float
) -> None:
    if opened.format == "PNG":
        problem = png_problem(data)
        if problem is not None:
            raise BadImageError(problem)
        return
    width, height = opened.size
    if opened.format == "JPEG":
        opened.draft(
            opened.mode, (max(1, width // JPEG_CHECK_SCALE), max(1, height // JPEG_CHECK_SCALE))
        )
        opened.load()
        return
    if budget is None:
        opened.load()
        return
    with budget.reserve(width * height, wait=budget_wait):
        opened.load()


def extension_for(image_format: str) -> str:
    """The file extension for a decoded format (``.bin`` for anything unexpected)."""
    return EXTENSIONS.get(image_format.upper(), ".bin")


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
