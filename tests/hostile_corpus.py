"""Hostile and awkward inputs, built by code (nothing binary is checked in).

Each ``Case`` is a file as a client would send it: a name, the bytes, and what
the service must do with it: ``accept`` (a real image, stored under a random
name with the extension of its decoded format) or ``reject`` (a 4xx that says
why, nothing stored).
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

from PIL import Image

from tests.factories import image_bytes, packshot

SCRIPT = b"<html><body><script>alert(document.cookie)</script></body></html>"
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script></svg>"
)


@dataclass(frozen=True)
class Case:
    name: str  # the test id
    filename: str  # what the client calls it
    data: bytes
    accept: bool
    expected_format: str = ""  # the format stored, for accepted cases
    expected_size: tuple[int, int] | None = None  # (width, height) as displayed


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bytes(width: int, height: int, rows: bytes, *, colour_type: int = 0) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(rows, 9))
        + png_chunk(b"IEND", b"")
    )


def flat_png(width: int, height: int, text: bytes = b"") -> bytes:
    """A greyscale PNG of zeros, built row by row in compressed form (no big buffer)."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    stream = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    extra = png_chunk(b"tEXt", b"Comment\x00" + text) if text else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + extra
        + png_chunk(b"IDAT", stream)
        + png_chunk(b"IEND", b"")
    )


def bomb_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A header claiming 900 Mpx, with a tiny stream: refused by its pixel count."""
    return png_bytes(width, height, b"\x00" * 64)


def gif_html_polyglot() -> bytes:
    """A valid GIF whose comment block is an HTML page with a script."""
    buffer = io.BytesIO()
    Image.new("P", (16, 16), 1).save(buffer, "GIF", comment=SCRIPT)
    return buffer.getvalue()


def jpeg_html_polyglot() -> bytes:
    """A valid JPEG carrying an HTML/SVG payload in a comment segment."""
    return image_bytes(packshot(size=(64, 64)), "JPEG", comment=SCRIPT + SVG)


def animated_gif() -> bytes:
    frames = [Image.new("P", (32, 32), index) for index in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def exif_rotated_jpeg() -> bytes:
    """Stored 80 wide × 40 high, EXIF says "rotate 90°": displayed 40 × 80."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return image_bytes(packshot(size=(80, 40)), "JPEG", exif=exif.tobytes())


def corrupt_png() -> bytes:
    data = bytearray(image_bytes(packshot(size=(64, 64)), "PNG"))
    data[-30] ^= 0xFF  # inside the last IDAT: its checksum no longer matches
    return bytes(data)


def corrupt_jpeg() -> bytes:
    data = image_bytes(packshot(size=(64, 64)), "JPEG")
    return data.replace(b"\xff\xc0", b"\xff\x01", 1)  # no frame header any more


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def upload_cases() -> list[Case]:
    """Files through the upload surfaces (API, seed ``/upload``, admin, batch-score)."""
    jpeg = image_bytes(packshot(size=(64, 64)), "JPEG")
    png = image_bytes(packshot(size=(64, 64)), "PNG")
    webp = image_bytes(packshot(size=(64, 64)), "WEBP")
    return [
        Case("text-as-jpg", "notes.jpg", b"plain text, not an image", accept=False),
        Case("html-as-png", "page.png", SCRIPT, accept=False),
        Case("svg", "logo.svg", SVG, accept=False),
        Case("svg-as-jpg", "logo.jpg", SVG, accept=False),
        Case("zero-bytes", "empty.jpg", b"", accept=False),
        Case("truncated-jpeg", "cut.jpg", truncated(jpeg), accept=False),
        Case("truncated-png", "cut.png", truncated(png), accept=False),
        Case("truncated-webp", "cut.webp", truncated(webp), accept=False),
        Case("corrupt-png", "bad.png", corrupt_png(), accept=False),
        Case("corrupt-jpeg", "bad.jpg", corrupt_jpeg(), accept=False),
        Case("decompression-bomb", "bomb.png", bomb_png(), accept=False),
        Case("gif-html-polyglot", "evil.html", gif_html_polyglot(), True, "GIF", (16, 16)),
        Case("jpeg-svg-polyglot", "evil.svg", jpeg_html_polyglot(), True, "JPEG", (64, 64)),
        Case("one-pixel", "dot.png", png_bytes(1, 1, b"\x00\x00"), True, "PNG", (1, 1)),
        Case("30000x10", "strip.png", flat_png(30_000, 10), True, "PNG", (30_000, 10)),
        Case("animated-gif", "anim.gif", animated_gif(), True, "GIF", (32, 32)),
        Case(
            "cmyk-jpeg",
            "print.jpg",
            image_bytes(packshot(size=(48, 48)).convert("CMYK"), "JPEG"),
            True,
            "JPEG",
            (48, 48),
        ),
        Case(
            "16-bit-png",
            "deep.png",
            image_bytes(Image.new("I;16", (40, 30), 40_000), "PNG"),
            True,
            "PNG",
            (40, 30),
        ),
        Case("exif-rotated", "phone.jpg", exif_rotated_jpeg(), True, "JPEG", (40, 80)),
        Case("dot-dot-name", "../../../etc/passwd.jpg", jpeg, True, "JPEG", (64, 64)),
        Case("nul-in-name", "a\x00b.png", png, True, "PNG", (64, 64)),
        Case("300-char-name", "x" * 300 + ".webp", webp, True, "WEBP", (64, 64)),
    ]
