"""What a near-duplicate is made of: the perceptual hash, its index bands, the colours.

Pure core. Two ideas, one per half of "near-duplicate":

* **Found through an index, never a scan.** The 64-bit perceptual hash is split
  into ``len(BAND_BITS)`` bands kept in indexed columns (multi-index hashing,
  Norouzi et al. 2012). By the pigeonhole principle, two hashes within ``d``
  bits agree to within ``d // bands`` bits on at least one band, so probing each
  band's column with every value that close (``band_probes``) finds every
  candidate; the Hamming distance on the full hash then keeps the true ones.
  Three bands of ~21 bits suit catalogs up to tens of millions of images: the
  probes cost the same at any size and few random hashes share a band value.
* **Confirmed by the product's colours.** A grey-level perceptual hash sees
  silhouettes: a green striped chair and a plain orange chair of the same shape
  hash alike, and so do a plain and a striped (or dotted) chair of one colour. The
  signature (``colour_histogram``) is a soft RGB histogram of the *product*: the
  pixels that differ from the backdrop (the border's median colour), weighted by
  how clearly they differ, scaled by the product's fill of its own bounding box,
  plus one bin for the rest of that box. Another colour moves the histogram;
  stripes or dots move it too, or, when they are the backdrop's colour, empty the
  box (the fill bin). What true re-use does to a photo (re-encoding, resizing, a
  light crop) changes neither: the box and the fill scale with the photo.

  On the demo packshots, histogram intersection of re-encoded (JPEG q35), halved
  and 2-3 % cropped copies is >= 0.95; the same product drawn with dots instead of
  plain is <= 0.93, with stripes <= 0.86, in another colour <= 0.76. A whole-image
  histogram (the signature before) scored plain against dotted up to 0.98.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations

import numpy as np
from PIL import Image

HASH_BITS = 64
BAND_BITS = (21, 21, 22)  # most significant band first; they sum to HASH_BITS
BAND_FIELDS = tuple(f"phash_band_{index}" for index in range(len(BAND_BITS)))
# Bins per channel of the colour histogram (4**3 = 64 bins, plus the fill bin), and the
# side of the copy it is measured on (a 128 x 128 box-filtered thumbnail: fast, noise
# averages out, and dots and stripes are still resolved).
COLOUR_BINS = 4
COLOUR_SIDE = 128
SIGNATURE_LENGTH = COLOUR_BINS**3 + 1
# A pixel is product in proportion to its distance (max over channels, 0-255) from the
# backdrop colour: not at all up to BACKDROP_NEAR, fully from BACKDROP_FAR (a ramp, so
# JPEG noise at the outline does not flip pixels in and out).
BACKDROP_NEAR = 16
BACKDROP_FAR = 48
# The product's bounding box leaves out this share of its weight on each side (stray
# noise far from the product does not stretch the box).
BOX_QUANTILE = 0.01
# See the module text: copies >= 0.95, the same shape dotted <= 0.93 on the demo packshots.
MIN_COLOUR_AGREEMENT = 0.94


def hash_value(phash: str) -> int:
    """The 64-bit integer of a hex perceptual hash."""
    return int(phash, 16)


def hamming_distance(first: str, second: str) -> int:
    return (hash_value(first) ^ hash_value(second)).bit_count()


def hash_bands(phash: str) -> tuple[int, ...]:
    """The hash cut into ``BAND_BITS`` bands, most significant first."""
    value = hash_value(phash)
    bands, shift = [], HASH_BITS
    for bits in BAND_BITS:
        shift -= bits
        bands.append((value >> shift) & ((1 << bits) - 1))
    return tuple(bands)


def probe_radius(max_distance: int) -> int:
    """How far from the query each band may be: some band is within ``d // bands`` bits."""
    return max(0, max_distance) // len(BAND_BITS)


@lru_cache(maxsize=8)
def _flip_masks(bits: int, radius: int) -> tuple[int, ...]:
    masks = [0]
    for flips in range(1, radius + 1):
        for positions in combinations(range(bits), flips):
            masks.append(sum(1 << position for position in positions))
    return tuple(masks)


def band_probes(band: int, bits: int, radius: int) -> list[int]:
    """Every ``bits``-bit value within ``radius`` bit flips of ``band`` (itself first)."""
    return [band ^ mask for mask in _flip_masks(bits, radius)]


def _border(pixels: np.ndarray) -> np.ndarray:
    """The outermost 2 % band of an (h, w, 3) array, as (n, 3): the packshot's backdrop."""
    band = max(1, min(pixels.shape[:2]) // 50)
    return np.concatenate(
        [
            pixels[:band].reshape(-1, 3),
            pixels[-band:].reshape(-1, 3),
            pixels[:, :band].reshape(-1, 3),
            pixels[:, -band:].reshape(-1, 3),
        ]
    )


def _span(profile: np.ndarray) -> int:
    """Length of the range holding all but ``BOX_QUANTILE`` of the weight on each side."""
    cumulative = np.cumsum(profile) / profile.sum()
    start = int(np.searchsorted(cumulative, BOX_QUANTILE))
    end = int(np.searchsorted(cumulative, 1 - BOX_QUANTILE)) + 1
    return max(1, end - start)


def colour_histogram(image: Image.Image) -> bytes:
    """The product's colour signature of an image: float32, ``SIGNATURE_LENGTH`` values
    summing to 1 (see the module text).

    A soft (trilinear) RGB histogram of the product's pixels on a 128-px copy, scaled by
    the product's fill of its bounding box, then ``1 - fill``. Soft bins: a colour near a
    bin edge shared by a re-encoded copy does not jump to the neighbouring bin.
    """
    small = image.convert("RGB").resize((COLOUR_SIDE, COLOUR_SIDE), Image.Resampling.BOX)
    pixels = np.asarray(small, dtype=np.float32)
    backdrop = np.median(_border(pixels), axis=0)
    distance = np.abs(pixels - backdrop).max(axis=-1)
    weight = np.clip((distance - BACKDROP_NEAR) / (BACKDROP_FAR - BACKDROP_NEAR), 0.0, 1.0)
    if weight.sum() < 1.0:  # nothing stands out from the backdrop: the whole image counts
        weight = np.ones_like(weight)
    box = _span(weight.sum(axis=1)) * _span(weight.sum(axis=0))
    fill = min(1.0, float(weight.sum()) / box)
    scaled = pixels.reshape(-1, 3) / 255.0 * (COLOUR_BINS - 1)
    low = np.clip(np.floor(scaled).astype(np.int64), 0, COLOUR_BINS - 2)
    high_weight = scaled - low
    weights = weight.reshape(-1)
    histogram = np.zeros(COLOUR_BINS**3, dtype=np.float64)
    for corner in np.ndindex(2, 2, 2):
        offset = np.array(corner)
        corner_weight = np.prod(np.where(offset == 1, high_weight, 1.0 - high_weight), axis=1)
        index = (low + offset) @ np.array([COLOUR_BINS**2, COLOUR_BINS, 1])
        histogram += np.bincount(index, weights=corner_weight * weights, minlength=COLOUR_BINS**3)
    signature = np.append(histogram / histogram.sum() * fill, 1.0 - fill)
    return signature.astype(np.float32).tobytes()


def colour_agreement(first: bytes, second: bytes) -> float | None:
    """Histogram intersection in [0, 1] (1: the same colours); None when one is missing
    or was stored in another layout (an older signature: re-scoring refreshes it)."""
    if not first or not second:
        return None
    one = np.frombuffer(bytes(first), dtype=np.float32)
    other = np.frombuffer(bytes(second), dtype=np.float32)
    if one.shape != other.shape:
        return None
    return float(np.minimum(one, other).sum())


def same_colours(first: bytes, second: bytes) -> bool:
    """True when the histograms agree, or when one image has none yet (not measured:
    the hash alone decides, as it did before colours were kept)."""
    agreement = colour_agreement(first, second)
    return agreement is None or agreement >= MIN_COLOUR_AGREEMENT
