"""Hostile and unusual files: a clear BadImageError or a correctly handled image."""

import io

import numpy as np
import pytest
from PIL import Image

from catalog.imaging import BadImageError, decode_image
from tests.factories import image_bytes, packshot


def test_non_image_is_refused_with_the_accepted_formats_named():
    with pytest.raises(BadImageError, match="not an image in an accepted format"):
        decode_image(b"%PDF-1.4 definitely not a picture")


def test_zero_byte_file_is_refused():
    with pytest.raises(BadImageError, match="empty"):
        decode_image(b"")


def test_truncated_jpeg_is_refused():
    data = image_bytes(packshot(size=(800, 800)))
    with pytest.raises(BadImageError):
        decode_image(data[: len(data) // 3])


def test_decompression_bomb_is_refused_before_decoding():
    data = image_bytes(Image.new("RGB", (4000, 3000), "white"), fmt="PNG")
    with pytest.raises(BadImageError, match="limit is 1,000,000"):
        decode_image(data, max_pixels=1_000_000)


def test_format_outside_the_allowlist_is_refused():
    data = image_bytes(packshot(), fmt="PNG")
    with pytest.raises(BadImageError):
        decode_image(data, formats=["JPEG"])


def test_cmyk_jpeg_becomes_rgb_with_the_right_colour():
    cmyk = Image.new("CMYK", (64, 64), (0, 255, 255, 0))  # pure red in CMYK
    decoded = decode_image(image_bytes(cmyk))
    assert decoded.image.mode == "RGB"
    red, green, blue = decoded.image.getpixel((32, 32))
    assert red > 200 and green < 60 and blue < 60


def test_sixteen_bit_png_is_scaled_not_clipped():
    array = np.full((32, 32), 32768, dtype=np.uint16)  # mid grey in 16 bits
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    decoded = decode_image(buffer.getvalue())
    assert decoded.image.mode == "RGB"
    assert 100 < decoded.image.getpixel((5, 5))[0] < 160


def test_palette_with_transparency_is_composited_on_white():
    image = Image.new("P", (40, 40), 0)
    image.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)  # index 0 black, index 1 blue
    image.paste(1, (10, 10, 30, 30))
    decoded = decode_image(image_bytes(image, fmt="PNG", transparency=0))
    assert decoded.image.mode == "RGB"
    assert decoded.image.getpixel((0, 0)) == (255, 255, 255)
    assert decoded.image.getpixel((20, 20)) == (0, 0, 255)


def test_exif_rotation_is_applied():
    image = Image.new("RGB", (200, 100), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    decoded = decode_image(image_bytes(image, exif=exif.tobytes()))
    assert (decoded.width, decoded.height) == (100, 200)
