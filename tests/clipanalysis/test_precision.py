"""Precision and runtime choices: the dtype a machine gets, and opt-in torch.compile."""

import logging

import pytest
import torch

from clipanalysis.clip_service import ClipService, cpu_flags, cpu_supports_bf16, resolve_dtype
from tests.factories import packshot

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
flags\t\t: fpu sse2 avx2 {extra}
bogomips\t: 4000.00
"""


@pytest.fixture
def cpuinfo(tmp_path):
    def write(extra: str):
        path = tmp_path / "cpuinfo"
        path.write_text(CPUINFO.format(extra=extra))
        return path

    return write


@pytest.mark.parametrize(
    ("extra", "expected"),
    [("amx_bf16 amx_tile", torch.bfloat16), ("avx512_bf16", torch.bfloat16), ("", torch.float32)],
)
def test_auto_dtype_is_bf16_only_on_cpus_with_bf16_units(cpuinfo, extra, expected):
    path = cpuinfo(extra)
    assert resolve_dtype("auto", torch.device("cpu"), path) == expected
    assert cpu_supports_bf16(path) is (expected == torch.bfloat16)


def test_a_flag_name_inside_another_word_is_not_a_flag(cpuinfo):
    path = cpuinfo("not_amx_bf16_really")
    assert "avx2" in cpu_flags(path)
    assert not cpu_supports_bf16(path)


def test_cuda_gets_fp16_and_an_explicit_float32_always_wins(cpuinfo):
    assert resolve_dtype("auto", torch.device("cuda")) == torch.float16
    assert resolve_dtype("float32", torch.device("cpu"), cpuinfo("amx_bf16")) == torch.float32
    assert resolve_dtype("float32", torch.device("cuda")) == torch.float32


IMAGES = [packshot(colour=(200, 30, 30)), packshot(colour=(30, 30, 200), size=(300, 500))]


def eager_embeddings(tiny_clip_dir):
    return ClipService.load(tiny_clip_dir, device="cpu", dtype="float32").image_embeddings(IMAGES)


def test_compiled_encoder_pads_to_one_shape_and_matches_eager(tiny_clip_dir):
    shapes = []

    def recording_backend(graph, example_inputs):  # a real torch.compile backend
        shapes.append(tuple(example_inputs[0].shape))
        return graph.forward

    service = ClipService.load(
        tiny_clip_dir,
        device="cpu",
        dtype="float32",
        batch_size=4,
        compile=True,
        compile_backend=recording_backend,
    )
    first = service.image_embeddings(IMAGES)  # 2 images padded to 4
    again = service.image_embeddings(IMAGES[:1])  # 1 image: same shape, no recompilation
    assert service.compiled
    assert shapes == [(4, 3, 32, 32)]
    assert torch.allclose(first, eager_embeddings(tiny_clip_dir), atol=1e-5)
    assert torch.allclose(again[0], first[0], atol=1e-5)


def test_a_failing_compilation_falls_back_to_eager(tiny_clip_dir, caplog):
    def broken_backend(graph, example_inputs):
        raise RuntimeError("no C++ compiler on this host")

    service = ClipService.load(
        tiny_clip_dir,
        device="cpu",
        dtype="float32",
        batch_size=4,
        compile=True,
        compile_backend=broken_backend,
    )
    with caplog.at_level(logging.WARNING, logger="clipanalysis.clip_service"):
        embeddings = service.image_embeddings(IMAGES)
    assert not service.compiled
    assert "torch.compile failed" in caplog.text
    assert torch.allclose(embeddings, eager_embeddings(tiny_clip_dir), atol=1e-5)
