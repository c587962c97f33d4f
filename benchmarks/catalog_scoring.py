"""Catalog-scale scoring, measured in one run on this machine (issue 11).

1. model only: the image encoder of a ViT-B/32-shaped CLIP (``CLIPModel(CLIPConfig())``,
   random weights: exactly the cost of openai/clip-vit-base-patch32) at batch 32, fp32
   and bf16, on preprocessed pixels; the CPU's bf16 flags are printed;
2. the naive baseline: the seed's per-image loop, ``CLIPProcessor`` + the fp32 model's
   full forward, one 1200 x 1200 JPEG file at a time;
3. ours: products saved through the ORM with the same files, then ``manage.py
   score_catalog`` (decode once, quality checks, duplicates, CLIP at the dtype ``auto``
   picks, results written, review items);
   3b. the same fresh scoring by one process with torch threads = cores, and by one
   process per core with one thread each, all on one catalog (claims keep them apart;
   warm-up not counted; batch ``--process-batch``);
4. re-score after a description edit of every product (stored embedding and quality
   report reused), per image, against 3;
5. near-duplicate look-up (``find_duplicate``: the band index) per image at 1,000,
   10,000 and 100,000 stored hashes (``--max-hashes 1000000`` for a million);
6. peak RSS of a ``score_catalog`` process at 1,000 and 10,000 images (a tiny CLIP:
   what grows with the catalog is the process, not the model);
7. the ratios.

Every phase runs in its own process on a throw-away SQLite database and media folder.

    .venv/bin/python benchmarks/catalog_scoring.py [--images 64] [--max-hashes 100000]
        [--processes 1,cores] [--rss-sizes 1000,10000]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from random_clip import vit_b32_shaped  # noqa: E402  (benchmarks/, the script's folder)

BATCH = 32


# --- set-up -----------------------------------------------------------------------
def configure(workdir: Path, model_dir: Path) -> None:
    """A private database and media root, this model, no broker traffic."""
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ.setdefault("SECRET_KEY", "benchmark")
    os.environ["DEBUG"] = "0"
    os.environ["SQLITE_PATH"] = str(workdir / "db.sqlite3")
    os.environ["MEDIA_ROOT"] = str(workdir / "media")
    os.environ["CLIP_MODEL_NAME"] = str(model_dir)
    os.environ["CLIP_OFFLINE_FALLBACK"] = "0"
    os.environ["CLIP_DEVICE"] = "cpu"
    os.environ["CLIP_TORCH_THREADS"] = os.environ.get("BENCH_TORCH_THREADS", str(os.cpu_count()))
    os.environ["CLIP_BATCH_SIZE"] = str(BATCH)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def photo_files(directory: Path, count: int) -> list[tuple[Path, str, str]]:
    """``count`` 1200 x 1200 synthetic product JPEGs: (path, description, category)."""
    from training.demo.catalog import make_catalog

    directory.mkdir(parents=True, exist_ok=True)
    rows = []
    for index, item in enumerate(make_catalog(count, seed=123, mismatch_rate=0.2, image_size=1200)):
        path = directory / f"photo_{index:04d}.jpg"
        path.write_bytes(item.image_bytes)
        rows.append((path, item.description, item.spec.category))
    return rows


def save_photos_as_products(photos: Path, prefix: str):
    """One product per photo file, saved through the ORM (each gets its pending row)."""
    from django.core.files import File

    from catalog.models import Product, ProductImage

    files = sorted(photos.glob("*.jpg"))
    descriptions = json.loads(Path(photos, "descriptions.json").read_text())
    products = []
    for index, (path, text) in enumerate(zip(files, descriptions, strict=True)):
        product = Product.objects.create(sku=f"{prefix}-{index:05d}", description=text)
        with path.open("rb") as handle:
            ProductImage.objects.create(product=product, image=File(handle, name=path.name))
        products.append(product)
    return products


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- phases (each in its own process) --------------------------------------------
def phase_model(args) -> dict:
    """1 and 2: the encoder alone, fp32 and bf16, and the seed's naive loop."""
    import torch
    from PIL import Image
    from transformers import CLIPModel, CLIPProcessor

    from clipanalysis.clip_service import ClipService, cpu_flags, cpu_supports_bf16

    torch.set_num_threads(os.cpu_count() or 1)
    files = sorted(Path(args.photos).glob("*.jpg"))
    descriptions = json.loads(Path(args.photos, "descriptions.json").read_text())
    out = {
        "cpu_flags": sorted(f for f in cpu_flags() if "bf16" in f or f.startswith("amx")),
        "bf16_fast_path": cpu_supports_bf16(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    service = ClipService.load(args.model, device="cpu", dtype="float32", batch_size=BATCH)
    images = [Image.open(path).convert("RGB") for path in files[:BATCH]]
    pixels = service.pixel_values(images)
    for dtype in ("float32", "bfloat16"):
        model_service = ClipService.load(args.model, device="cpu", dtype=dtype, batch_size=BATCH)
        batch = pixels.to(model_service.dtype)
        model_service.encode_pixels(batch)  # warm-up
        rounds = args.model_rounds
        started = time.perf_counter()
        for _ in range(rounds):
            model_service.encode_pixels(batch)
        out[f"model_only_{dtype}"] = rounds * BATCH / (time.perf_counter() - started)
        del model_service

    model = CLIPModel.from_pretrained(args.model).eval()
    processor = CLIPProcessor.from_pretrained(args.model)
    started = time.perf_counter()
    for path, text in zip(files, descriptions, strict=True):  # the seed, one image at a time
        image = Image.open(path).convert("RGB")
        inputs = processor(text=[text], images=image, return_tensors="pt", padding=True)
        with torch.no_grad():
            output = model(**inputs)
        float(torch.nn.functional.cosine_similarity(output.image_embeds, output.text_embeds))
    out["naive"] = len(files) / (time.perf_counter() - started)
    return out


def profiled(function, name: str) -> float:
    """``function()``, under cProfile when ``BENCH_PROFILE`` names this step (to stderr)."""
    if os.environ.get("BENCH_PROFILE") != name:
        return function()
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    value = profiler.runcall(function)
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(45)
    return value


def phase_ours(args) -> dict:
    """3 and 4: products through the ORM, score_catalog, then every description edited."""
    from django.core.files.base import ContentFile
    from django.core.management import call_command
    from PIL import Image

    from catalog.models import Product, ProductImage
    from clipanalysis.models import AnalysisResult
    from clipanalysis.pipeline import service_for
    from clipanalysis.registry import active_model

    files = sorted(Path(args.photos).glob("*.jpg"))
    descriptions = json.loads(Path(args.photos, "descriptions.json").read_text())
    # A worker that has run a while: model loaded, vocabulary prompts encoded (one
    # product scored first, not counted).
    # Other bytes than every measured photo, so no stored work of it is reused.
    warm_bytes = io.BytesIO()
    Image.open(files[-1]).convert("RGB").save(warm_bytes, format="JPEG", quality=70)
    warm = Product.objects.create(sku="BENCH-WARM", description=descriptions[0] + " Warm-up.")
    ProductImage.objects.create(product=warm, image=ContentFile(warm_bytes.getvalue(), "w.jpg"))
    call_command("score_catalog", "--stale", "--no-progress", stdout=io.StringIO())
    products = save_photos_as_products(Path(args.photos), "BENCH")
    service = service_for(active_model())

    def timed_run() -> float:
        started = time.perf_counter()
        call_command("score_catalog", "--stale", "--no-progress", stdout=io.StringIO())
        return time.perf_counter() - started

    done_before = AnalysisResult.objects.filter(status=AnalysisResult.Status.DONE).count()
    fresh = profiled(timed_run, "fresh")
    done = AnalysisResult.objects.filter(status=AnalysisResult.Status.DONE).count() - done_before
    for product in products:
        product.description = product.description + " Now also in a gift box."
        product.save()
    rescored = profiled(timed_run, "rescore")
    rescored_done = (
        AnalysisResult.objects.filter(status=AnalysisResult.Status.DONE).count() - done_before
    )
    return {
        "dtype": str(service.dtype).replace("torch.", ""),
        "images": len(files),
        "ours": len(files) / fresh,
        "fresh_ms_per_image": fresh * 1000 / len(files),
        "rescore_ms_per_image": rescored * 1000 / len(files),
        "done_fresh": done,
        "done_after_edit": rescored_done - done,
    }


def phase_neardup(args) -> dict:
    """5: find_duplicate through the band index at growing numbers of stored hashes."""
    from catalog.models import Product, ProductImage
    from clipanalysis.image_signature import BAND_FIELDS, hash_bands
    from clipanalysis.near_duplicates import find_duplicate

    rng = random.Random(7)
    owners = Product.objects.bulk_create(
        [Product(sku=f"ND-{i:05d}", description="x") for i in range(1000)]
    )
    query_product = Product.objects.create(sku="ND-QUERY", description="query")
    sizes = [size for size in (1_000, 10_000, 100_000, 1_000_000) if size <= args.max_hashes]
    stored, out = 0, {}
    for size in sizes:
        rows = []
        while stored < size:
            phash = f"{rng.getrandbits(64):016x}"
            rows.append(
                ProductImage(
                    product=owners[stored % len(owners)],
                    image=f"products/nd/{stored}.jpg",
                    content_hash=f"{rng.getrandbits(256):064x}",
                    perceptual_hash=phash,
                    **dict(zip(BAND_FIELDS, hash_bands(phash), strict=True)),
                )
            )
            stored += 1
            if len(rows) == 5000:
                ProductImage.objects.bulk_create(rows)
                rows = []
        ProductImage.objects.bulk_create(rows)
        probe = ProductImage(product=query_product, content_hash="0" * 64)
        queries = [f"{rng.getrandbits(64):016x}" for _ in range(args.lookups)]
        find_duplicate(probe, queries[0], b"", 8)  # warm the statement cache
        started = time.perf_counter()
        for phash in queries:
            find_duplicate(probe, phash, b"", 8)
        out[str(size)] = (time.perf_counter() - started) * 1000 / len(queries)
    return {"lookup_ms": out}


def phase_rss(args) -> dict:
    """6: a score_catalog process's peak RSS; the catalog is made by an earlier process."""
    from django.core.management import call_command

    from clipanalysis.models import AnalysisResult

    before = peak_rss_mb()
    started = time.perf_counter()
    if os.environ.get("BENCH_RSS_LOG"):  # peak RSS over time, for a long run
        import threading

        def sample() -> None:
            with open(os.environ["BENCH_RSS_LOG"], "a") as log:
                while True:
                    log.write(f"{time.perf_counter() - started:.0f} s {peak_rss_mb():.1f} MB\n")
                    log.flush()
                    time.sleep(15)

        threading.Thread(target=sample, daemon=True).start()
    call_command(
        "score_catalog",
        "--stale",
        "--no-progress",
        "--batch-size",
        str(BATCH),
        stdout=io.StringIO(),
    )
    seconds = time.perf_counter() - started
    done = AnalysisResult.objects.filter(status=AnalysisResult.Status.DONE).count()
    return {
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": before,
        "done": done,
        "images_per_s": done / seconds,
    }


def phase_rss_catalog(args) -> dict:
    """The catalog for ``phase_rss``: distinct small JPEG files, rows made in bulk."""
    import numpy as np
    from PIL import Image

    from catalog.imaging import content_hash
    from catalog.models import Product, ProductImage

    media = Path(os.environ["MEDIA_ROOT"]) / "products" / "rss"
    media.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    products = Product.objects.bulk_create(
        [Product(sku=f"RSS-{i:06d}", description=f"Product {i} in red") for i in range(args.n)]
    )
    images = []
    for index, product in enumerate(products):
        pixels = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).resize((96, 96)).save(buffer, format="JPEG", quality=85)
        data = buffer.getvalue()
        (media / f"{index}.jpg").write_bytes(data)
        images.append(
            ProductImage(
                product=product,
                image=f"products/rss/{index}.jpg",
                content_hash=content_hash(data),
                width=96,
                height=96,
                format="JPEG",
            )
        )
        if len(images) == 2000:
            ProductImage.objects.bulk_create(images)
            images = []
    ProductImage.objects.bulk_create(images)
    return {"images": args.n}


def phase_processes_catalog(args) -> dict:
    """The catalog ``phase_process`` workers share: the photos, saved as products."""
    return {"images": len(save_photos_as_products(args.photos, "PROC"))}


def phase_process(args) -> dict:
    """One of several ``score_catalog`` processes on one catalog (claims keep them
    apart): warm up on a product of its own, say so, wait for the start, score."""
    from django.core.files.base import ContentFile
    from django.core.management import call_command
    from PIL import Image

    from catalog.models import Product, ProductImage
    from clipanalysis import pipeline
    from clipanalysis.models import AnalysisResult

    warm_bytes = io.BytesIO()
    colour = tuple(random.Random(os.getpid()).randrange(256) for _ in range(3))
    Image.new("RGB", (600, 600), colour).save(warm_bytes, format="JPEG")
    warm = Product.objects.create(sku=f"WARM-{os.getpid()}", description="A warm-up mug.")
    image = ProductImage.objects.create(
        product=warm, image=ContentFile(warm_bytes.getvalue(), "warm.jpg")
    )
    pipeline.analyse_batch([AnalysisResult.objects.get(image=image, is_current=True).pk])
    (args.workdir / f"ready-{os.getpid()}").touch()
    while not (args.workdir / "start").exists():
        time.sleep(0.01)
    outcome = io.StringIO()
    call_command(
        "score_catalog", "--stale", "--no-progress", "--batch-size", str(args.n), stdout=outcome
    )
    return {"summary": outcome.getvalue().strip()}


def measure_processes(tmp: Path, model: Path, photos: Path, processes: int, batch: int) -> dict:
    """Images/s of ``processes`` score_catalog processes sharing the cores (torch
    threads = cores / processes) on one fresh catalog, from the start signal to the
    last one's exit: start-up and warm-up are not counted."""
    workdir = tmp / f"w-processes-{processes}"
    images = run_phase("processes-catalog", workdir, model, photos=photos)["images"]
    threads = max(1, (os.cpu_count() or 1) // processes)
    command = [sys.executable, __file__, "--phase", "process", "--workdir", str(workdir)]
    command += ["--model", str(model), "--n", str(batch)]
    env = {**os.environ, "BENCH_TORCH_THREADS": str(threads)}
    workers = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    while len(list(workdir.glob("ready-*"))) < processes:
        if any(worker.poll() is not None for worker in workers):
            sys.exit("a scoring process exited before it was ready")
        time.sleep(0.05)
    started = time.perf_counter()
    (workdir / "start").touch()
    outputs = [worker.communicate()[0] for worker in workers]
    seconds = time.perf_counter() - started
    if any(worker.returncode for worker in workers):
        sys.exit(f"a scoring process failed:\n{outputs}")
    summaries = [result_of(output)["summary"] for output in outputs]
    return {
        "processes": processes,
        "torch_threads": threads,
        "images_per_s": images / seconds,
        "each": summaries,
    }


PHASES = {
    "model": phase_model,
    "ours": phase_ours,
    "processes-catalog": phase_processes_catalog,
    "process": phase_process,
    "neardup": phase_neardup,
    "rss": phase_rss,
    "rss-catalog": phase_rss_catalog,
}


def run_phase(name: str, workdir: Path, model: Path, **extra) -> dict:
    command = [
        sys.executable,
        __file__,
        "--phase",
        name,
        "--workdir",
        str(workdir),
        "--model",
        str(model),
    ]
    for key, value in extra.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    print(f"  … {name} {extra or ''}", file=sys.stderr, flush=True)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"phase {name} failed:\n{done.stderr[-4000:]}")
    return result_of(done.stdout)


def result_of(stdout: str) -> dict:
    """The JSON a phase prints last on its ``RESULT`` line."""
    last = [line for line in stdout.splitlines() if line.startswith("RESULT ")][-1]
    return json.loads(last.removeprefix("RESULT "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=64, help="1200-px photos for 2-4")
    parser.add_argument("--max-hashes", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--rss-sizes", default="1000,10000", help="'' leaves 6 out")
    parser.add_argument("--model-rounds", type=int, default=3)
    parser.add_argument(
        "--processes", default="1,cores", help="score_catalog processes to compare ('' skips)"
    )
    parser.add_argument("--process-batch", type=int, default=16)
    # Internal: one phase in this process.
    parser.add_argument("--phase", choices=sorted(PHASES))
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--photos", type=Path)
    parser.add_argument("--n", type=int, default=0)
    args = parser.parse_args()

    if args.phase:
        configure(args.workdir, args.model)
        print("RESULT " + json.dumps(PHASES[args.phase](args)), flush=True)
        return

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="catalog-bench-") as tmp:
        tmp = Path(tmp)
        vit = vit_b32_shaped(tmp / "vit-b32")
        from tests.tiny_clip import build_tiny_clip

        tiny = build_tiny_clip(tmp / "tiny-clip")
        photos = photo_files(tmp / "photos", args.images)
        (tmp / "photos" / "descriptions.json").write_text(json.dumps([d for _, d, _ in photos]))
        common = {"photos": tmp / "photos"}
        model = run_phase("model", tmp / "w-model", vit, model_rounds=args.model_rounds, **common)
        ours = run_phase("ours", tmp / "w-ours", vit, **common)
        near = run_phase(
            "neardup", tmp / "w-near", tiny, max_hashes=args.max_hashes, lookups=args.lookups
        )
        cores = str(os.cpu_count() or 1)
        counts = {int(v.replace("cores", cores)) for v in args.processes.split(",") if v}
        processes = [
            measure_processes(tmp, vit, tmp / "photos", count, args.process_batch)
            for count in sorted(counts)
        ]
        rss = {}
        for size in [int(value) for value in args.rss_sizes.split(",") if value]:
            workdir = tmp / f"w-rss-{size}"
            run_phase("rss-catalog", workdir, tiny, n=size)
            rss[size] = run_phase("rss", workdir, tiny)
    report(model, ours, near, rss, processes, time.perf_counter() - started)


def report(
    model: dict, ours: dict, near: dict, rss: dict, processes: list[dict], seconds: float
) -> None:
    auto = f"model_only_{ours['dtype']}"
    print(
        f"\nCPU: {model['cores']} cores, torch threads {model['torch_threads']}, "
        f"bf16 flags {model['cpu_flags'] or 'none'} (bf16 fast path: {model['bf16_fast_path']}); "
        f"ours ran in {ours['dtype']}"
    )
    print("| what | images/s |")
    print("|---|---|")
    for dtype in ("float32", "bfloat16"):
        rate = model[f"model_only_{dtype}"]
        print(f"| 1. model only, image encoder, batch {BATCH}, {dtype} | {rate:.1f} |")
    print(f"| 2. naive per-image loop (seed), 1200 px JPEG, float32 | {model['naive']:.1f} |")
    what = f"3. ours: score_catalog, {ours['images']} products saved through the ORM"
    print(f"| {what} | {ours['ours']:.1f} |")
    print(
        f"\n4. re-score after a description edit: {ours['rescore_ms_per_image']:.1f} ms/image "
        f"vs fresh {ours['fresh_ms_per_image']:.1f} ms/image "
        f"({ours['fresh_ms_per_image'] / ours['rescore_ms_per_image']:.1f}x); "
        f"rows done {ours['done_fresh']} then {ours['done_after_edit']}"
    )
    print(
        "5. near-duplicate look-up per image: "
        + ", ".join(f"{int(size):,} hashes {ms:.2f} ms" for size, ms in near["lookup_ms"].items())
    )
    print(
        "6. score_catalog peak RSS: "
        + ", ".join(
            f"{size:,} images {row['peak_rss_mb']:.0f} MB ({row['done']} done, "
            f"{row['images_per_s']:.0f} img/s)"
            for size, row in rss.items()
        )
    )
    if processes:
        print(
            "3b. one catalog, fresh, by several score_catalog processes sharing the cores: "
            + ", ".join(
                f"{row['processes']} x {row['torch_threads']} torch thread(s) "
                f"{row['images_per_s']:.1f} images/s"
                for row in processes
            )
        )
    sizes = sorted(rss)
    growth = (
        f"RSS {sizes[-1]:,} vs {sizes[0]:,} images "
        f"{(rss[sizes[-1]]['peak_rss_mb'] / rss[sizes[0]]['peak_rss_mb'] - 1) * 100:+.1f} %"
        if len(sizes) > 1
        else "RSS not compared"
    )
    lookups = list(near["lookup_ms"].values())
    print(
        "7. ratios: "
        f"ours/naive {ours['ours'] / model['naive']:.2f}x, "
        f"ours/model-only {ours['dtype']} {ours['ours'] / model[auto]:.2f}x, "
        f"ours/model-only bf16 {ours['ours'] / model['model_only_bfloat16']:.2f}x, "
        f"fresh/re-score {ours['fresh_ms_per_image'] / ours['rescore_ms_per_image']:.1f}x, "
        f"look-up largest/smallest {lookups[-1] / lookups[0]:.2f}x, "
        f"{growth}"
    )
    print(f"(whole benchmark {seconds:.0f} s)")
    print(
        "RESULT "
        + json.dumps(
            {
                "model": model,
                "ours": ours,
                "near": near,
                "processes": processes,
                "rss": {str(k): v for k, v in rss.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
