"""Check that a PNG's pixel data is complete without holding its pixels.

Why a module of its own: validating an upload used to decode it at full
size, so a 115 KB 6300×6300 PNG cost ~450 MB in the web process. A PNG's
pixels are one zlib stream (the IDAT chunks); inflating it in 1 MiB slices
and counting the bytes proves the stream is intact and exactly as long as
the header says, at constant memory. Chunk CRCs are checked on the way.

Pure core: bytes in, ``None`` or a problem in words out.
"""

from __future__ import annotations

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
INFLATE_SLICE_BYTES = 1024 * 1024
# Channels per pixel for each PNG colour type (greyscale, RGB, palette, grey+alpha, RGBA).
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Adam7 passes: (x start, y start, x step, y step).
ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)


def expected_stream_bytes(width: int, height: int, bits_per_pixel: int, interlaced: bool) -> int:
    """Length of the inflated IDAT stream: one filter byte plus the packed pixels per row."""

    def rows_bytes(pass_width: int, pass_height: int) -> int:
        if pass_width == 0 or pass_height == 0:
            return 0
        return pass_height * (1 + (pass_width * bits_per_pixel + 7) // 8)

    if not interlaced:
        return rows_bytes(width, height)
    return sum(
        rows_bytes((width - x0 + dx - 1) // dx, (height - y0 + dy - 1) // dy)
        for x0, y0, dx, dy in ADAM7
    )


def png_problem(data: bytes) -> str | None:
    """None when ``data`` is a PNG whose image data inflates completely, else what is wrong."""
    if not data.startswith(SIGNATURE):
        return "The file is not a PNG."
    position = len(SIGNATURE)
    inflater = zlib.decompressobj()
    inflated = 0
    expected = None
    while True:
        if position + 8 > len(data):
            return "The PNG file is truncated (the upload may have been cut off)."
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        crc = data[position + 8 + length : position + 12 + length]
        if len(body) != length or len(crc) != 4:
            return "The PNG file is truncated (the upload may have been cut off)."
        if zlib.crc32(kind + body) != struct.unpack(">I", crc)[0]:
            return f"The PNG file is corrupt (bad checksum in its {kind.decode('latin-1')} chunk)."
        position += 12 + length
        if kind == b"IHDR":
            if length != 13:
                return "The PNG header is malformed."
            width, height, depth, colour, _method, _filter, interlace = struct.unpack(
                ">IIBBBBB", body
            )
            if colour not in CHANNELS:
                return "The PNG header names an unknown colour type."
            expected = expected_stream_bytes(
                width, height, depth * CHANNELS[colour], interlace == 1
            )
        elif kind == b"IDAT":
            if expected is None:
                return "The PNG has image data before its header."
            try:
                inflated += _inflate_counting(inflater, body, expected - inflated)
            except zlib.error as error:
                return f"The PNG image data is corrupt ({error})."
            if inflated > expected:
                return "The PNG image data is longer than its header says."
        elif kind == b"IEND":
            break
    if expected is None:
        return "The PNG has no header."
    if inflated < expected or not inflater.eof:
        return "The PNG image data is incomplete (the file is truncated or corrupt)."
    return None


def _inflate_counting(inflater, chunk: bytes, room: int) -> int:
    """Inflate ``chunk`` in slices, keeping nothing; stop once past ``room`` bytes."""
    count = 0
    pending = chunk
    while count <= room:
        output = inflater.decompress(pending, INFLATE_SLICE_BYTES)
        count += len(output)
        pending = inflater.unconsumed_tail
        if not pending and len(output) < INFLATE_SLICE_BYTES:
            break  # all input used and no output held back
    return count
