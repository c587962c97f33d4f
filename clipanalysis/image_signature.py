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
* **Confirmed by colour.** A grey-level perceptual hash sees silhouettes: a green
  striped chair and a plain orange chair of the same shape hash alike. A soft
  RGB histogram (``colour_histogram``) tells them apart, and survives what true
  re-use does to a photo (re-encoding, resizing, a light crop).
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations

import numpy as np
from PIL import Image

HASH_BITS = 64
BAND_BITS = (21, 21, 22)  # most significant band first; they sum to HASH_BITS
BAND_FIELDS = tuple(f"phash_band_{index}" for index in range(len(BAND_BITS)))
# Bins per channel of the colour histogram (4**3 = 64 bins), and the side of the copy
# it is measured on (a 64 x 64 box-filtered thumbnail: fast, and noise averages out).
COLOUR_BINS = 4
COLOUR_SIDE = 64
# Histogram intersection of re-encoded, resized or lightly cropped copies of a photo is
# >= 0.93 on the demo catalog; different products that hash alike reach at most 0.85.
MIN_COLOUR_AGREEMENT = 0.9


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


def colour_histogram(image: Image.Image) -> bytes:
    """A soft (trilinear) RGB histogram of a 64-px copy, float32, summing to 1.

    Soft bins: a colour near a bin edge shared by a re-encoded copy does not jump
    to the neighbouring bin and lose the agreement.
    """
    small = image.convert("RGB").resize((COLOUR_SIDE, COLOUR_SIDE), Image.Resampling.BOX)
    scaled = np.asarray(small, dtype=np.float32).reshape(-1, 3) / 255.0 * (COLOUR_BINS - 1)
    low = np.clip(np.floor(scaled).astype(np.int64), 0, COLOUR_BINS - 2)
    high_weight = scaled - low
    histogram = np.zeros((COLOUR_BINS,) * 3, dtype=np.float64)
    for corner in np.ndindex(2, 2, 2):
        offset = np.array(corner)
        weights = np.prod(np.where(offset == 1, high_weight, 1.0 - high_weight), axis=1)
        index = low + offset
        np.add.at(histogram, (index[:, 0], index[:, 1], index[:, 2]), weights)
    histogram /= histogram.sum()
    return histogram.astype(np.float32).tobytes()


def colour_agreement(first: bytes, second: bytes) -> float | None:
    """Histogram intersection in [0, 1] (1: the same colours); None when one is missing."""
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
