"""The real CLIP BPE tokenizer, built offline.

OpenAI's CLIP vocabulary (``bpe_simple_vocab_16e6.txt.gz``) ships inside the
``open-clip-torch`` package, which we install without its dependencies (it
would pull torchvision). We read that one file as package data, never import
``open_clip``, and convert it to the ``vocab.json`` / ``merges.txt`` pair that
``transformers.CLIPTokenizer`` loads, exactly as OpenAI's
``simple_tokenizer.py`` builds its vocabulary.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from functools import lru_cache
from pathlib import Path

from transformers import CLIPTokenizer

BPE_PACKAGE = "open_clip"
BPE_FILENAME = "bpe_simple_vocab_16e6.txt.gz"
# OpenAI keeps the first 49152 - 256 - 2 merges: 256 byte tokens, their
# end-of-word twins, the merges and two special tokens make 49408 ids.
MERGE_COUNT = 49152 - 256 - 2
START_TOKEN = "<|startoftext|>"
END_TOKEN = "<|endoftext|>"
VOCAB_SIZE = 49408


@lru_cache(maxsize=1)
def _bytes_to_unicode() -> dict[int, str]:
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(code) for code in codes), strict=True))


def _read_merges() -> list[str]:
    spec = importlib.util.find_spec(BPE_PACKAGE)  # locates, does not import
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"{BPE_FILENAME} not found: install open-clip-torch (pip install --no-deps)"
        )
    data = (Path(spec.submodule_search_locations[0]) / BPE_FILENAME).read_bytes()
    lines = gzip.decompress(data).decode("utf-8").split("\n")
    return lines[1 : MERGE_COUNT + 1]


def write_clip_vocabulary(output_dir: str | Path) -> None:
    """Write ``vocab.json`` and ``merges.txt`` for CLIP into ``output_dir``."""
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    merges = _read_merges()
    byte_tokens = list(_bytes_to_unicode().values())
    vocab = byte_tokens + [token + "</w>" for token in byte_tokens]
    vocab += ["".join(merge.split()) for merge in merges]
    vocab += [START_TOKEN, END_TOKEN]
    (output / "vocab.json").write_text(
        json.dumps({token: index for index, token in enumerate(vocab)}, ensure_ascii=False),
        encoding="utf-8",
    )
    (output / "merges.txt").write_text(
        "#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8"
    )


def build_clip_tokenizer(output_dir: str | Path, max_length: int = 77) -> CLIPTokenizer:
    """Build the CLIP tokenizer in ``output_dir`` and save it there for ``from_pretrained``."""
    write_clip_vocabulary(output_dir)
    tokenizer = CLIPTokenizer.from_pretrained(
        str(output_dir), model_max_length=max_length, pad_token=END_TOKEN
    )
    tokenizer.save_pretrained(str(output_dir))
    return tokenizer
