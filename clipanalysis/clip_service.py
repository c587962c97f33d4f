"""CLIP image–text scoring with Hugging Face ``transformers``.

Pure core: no Django models. A ``ClipService`` wraps one loaded checkpoint (a
hub name or a local directory) and follows preprocess → forward → postprocess,
with device, dtype and ``inference_mode`` handled in ``_forward`` alone. Every
single-item call is the batch call with one item.

Scores: ``similarity_score`` is the cosine similarity of the projected
embeddings, clipped to [0, 1]; embeddings are compared in float32 whatever the
inference dtype.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from django.conf import settings  # settings only, never models: this module stays pure
from django.core.cache import caches
from huggingface_hub import try_to_load_from_cache
from PIL import Image
from transformers import CLIPModel, CLIPProcessor

from catalog.imaging import decode_image
from clipanalysis.shared_text_cache import SharedTextEmbeddings, missing_from, model_namespace

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.25
ZERO_SHOT_TEMPLATES = ("a photo of a {label}", "a product photo of a {label}")
# Downscale before padding/processing: CLIP sees 224 px, decoding gave us up to 40 Mpx.
MAX_SIDE_BEFORE_PROCESSING = 1024
# CLIP centre-crops to a square: anything longer than this is letter-boxed first,
# so a 1 x 10,000 strip neither explodes in size nor loses its product.
MAX_ASPECT_FOR_MODEL = 2.0

ImageInput = Image.Image | str | Path


class ModelLoadError(RuntimeError):
    """The checkpoint could not be loaded (unknown name, no hub access, broken files)."""


# Weights that only load by unpickling, which can run code: never loaded here.
PICKLE_WEIGHT_PATTERNS = ("pytorch_model*.bin", "*.ckpt", "*.pt", "*.pth", "*.pkl")


def pickle_only_message(directory: Path) -> str:
    names = ", ".join(sorted(path.name for path in pickled_weights(directory)))
    return (
        f"{directory} holds only pickled weights ({names}); "
        "this service loads safetensors only, because unpickling can run code. If you trust "
        "where the checkpoint came from, convert it once, outside the service: "
        'python -c "from transformers import CLIPModel; '
        f"CLIPModel.from_pretrained('{directory}', use_safetensors=False)"
        f".save_pretrained('{directory}')\" (writes model.safetensors), then remove the .bin file."
    )


def pickled_weights(directory: Path) -> list[Path]:
    return [path for pattern in PICKLE_WEIGHT_PATTERNS for path in directory.glob(pattern)]


def model_files_problem(name_or_path: str | Path) -> str | None:
    """None when a model directory (or cached hub model) has what ``ClipService.load`` needs:
    ``config.json`` and safetensors weights. Looks at files only; loads nothing."""
    directory = Path(name_or_path)
    if directory.is_dir():
        if not (directory / "config.json").is_file():
            return f"{directory} is not a model directory (no config.json)."
        if any(directory.glob("*.safetensors")):
            return None
        if pickled_weights(directory):
            return pickle_only_message(directory)
        return f"{directory} has no model weights (*.safetensors)."
    cached = try_to_load_from_cache(str(name_or_path), "config.json")
    if isinstance(cached, str):
        return None
    return f"{name_or_path} is not a local directory and not in the model cache."


BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The feature flags of the first CPU in ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def cpu_supports_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """True on CPUs with AMX or AVX-512 BF16, where bf16 inference is ~3x faster."""
    return any(flag in cpu_flags(cpuinfo) for flag in BF16_CPU_FLAGS)


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("CLIP_DEVICE=cuda but no CUDA device is available.")
    return torch.device(device)


def resolve_dtype(
    dtype: str, device: torch.device, cpuinfo: str | Path = "/proc/cpuinfo"
) -> torch.dtype:
    """bf16 on CPUs that have AMX/AVX-512-BF16, fp16 on CUDA, fp32 otherwise.

    ``CLIP_DTYPE=float32`` (or any explicit dtype) wins over the choice.
    """
    if dtype != "auto":
        try:
            return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[
                dtype
            ]
        except KeyError as error:
            raise ModelLoadError(f"Unknown CLIP dtype {dtype!r}") from error
    if device.type == "cuda":
        return torch.float16
    return torch.bfloat16 if cpu_supports_bf16(cpuinfo) else torch.float32


def cosine_to_score(cosine: torch.Tensor | np.ndarray | float):
    """Map cosine similarity to the [0, 1] ``similarity_score`` scale."""
    if isinstance(cosine, torch.Tensor):
        return cosine.clamp(0.0, 1.0)
    return np.clip(cosine, 0.0, 1.0)


def letterbox_for_model(
    image: Image.Image, max_aspect: float = MAX_ASPECT_FOR_MODEL
) -> Image.Image:
    """Pad very long images to ``max_aspect`` so CLIP's square crop keeps the product."""
    width, height = image.size
    long_side, short_side = max(width, height), min(width, height)
    if short_side == 0 or long_side / short_side <= max_aspect:
        return image
    target_short = round(long_side / max_aspect)
    size = (width, target_short) if width >= height else (target_short, height)
    canvas = Image.new("RGB", size, (255, 255, 255))
    canvas.paste(image, ((size[0] - width) // 2, (size[1] - height) // 2))
    return canvas


def as_image(image: ImageInput) -> Image.Image:
    """A decoded image as it is, or a file path decoded safely (``BadImageError``)."""
    return image if isinstance(image, Image.Image) else decode_image(image).image


def normalised_features(output) -> torch.Tensor:
    """The L2-normalised float32 projection of a ``get_*_features`` call.

    transformers 5 returns an output object whose ``pooler_output`` is the
    projected embedding; older versions return the tensor itself.
    """
    features = output.pooler_output if hasattr(output, "pooler_output") else output
    return torch.nn.functional.normalize(features.float(), dim=-1)


def prepare_image(image: Image.Image) -> Image.Image:
    """RGB, at most 1024 px, letter-boxed to a sane aspect ratio: what CLIP should see."""
    image = image.convert("RGB") if image.mode != "RGB" else image
    if max(image.size) > MAX_SIDE_BEFORE_PROCESSING:
        image = image.copy()
        image.thumbnail((MAX_SIDE_BEFORE_PROCESSING, MAX_SIDE_BEFORE_PROCESSING))
    return letterbox_for_model(image)


@dataclass(frozen=True)
class PixelRecipe:
    """What a CLIP image processor does (shortest-edge resize, centre crop, rescale,
    normalise), so a whole batch is normalised as one tensor operation instead of
    image by image; the result equals the processor's (tested)."""

    shortest_edge: int
    crop_height: int
    crop_width: int
    resample: int
    rescale_factor: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def of(cls, processor: CLIPProcessor) -> PixelRecipe | None:
        """The recipe of ``processor``'s image processor; None when it does something else
        (then the processor itself runs)."""
        image_processor = getattr(processor, "image_processor", None)
        size = dict(getattr(image_processor, "size", None) or {})
        crop = dict(getattr(image_processor, "crop_size", None) or {})
        flags = ("do_resize", "do_center_crop", "do_rescale", "do_normalize")
        if (
            image_processor is None
            or not all(getattr(image_processor, flag, False) for flag in flags)
            or set(k for k, v in size.items() if v) != {"shortest_edge"}
            or not crop.get("height")
            or not crop.get("width")
        ):
            return None
        mean, std = image_processor.image_mean, image_processor.image_std
        if len(mean) != 3 or len(std) != 3:
            return None
        resample = image_processor.resample
        return cls(
            shortest_edge=int(size["shortest_edge"]),
            crop_height=int(crop["height"]),
            crop_width=int(crop["width"]),
            resample=int(getattr(resample, "value", resample)),
            rescale_factor=float(image_processor.rescale_factor),
            mean=tuple(float(value) for value in mean),
            std=tuple(float(value) for value in std),
        )

    def resized_and_cropped(self, image: Image.Image) -> np.ndarray:
        """(crop_height, crop_width, 3) uint8: the geometric part, per image (sizes differ)."""
        width, height = image.size
        short, long = (width, height) if width <= height else (height, width)
        new_long = int(self.shortest_edge * long / short)
        size = (self.shortest_edge, new_long) if width <= height else (new_long, self.shortest_edge)
        resized = image.resize(size, resample=self.resample)
        top = (resized.height - self.crop_height) // 2
        left = (resized.width - self.crop_width) // 2
        if top < 0 or left < 0:  # smaller than the crop: let the processor pad it
            raise ValueError("image smaller than the crop")
        return np.asarray(
            resized.crop((left, top, left + self.crop_width, top + self.crop_height)),
            dtype=np.uint8,
        )

    def pixel_values(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """(n, 3, crop_height, crop_width) float32, normalised as one batch."""
        batch = torch.from_numpy(np.stack([self.resized_and_cropped(image) for image in images]))
        batch = batch.permute(0, 3, 1, 2).to(torch.float32) * self.rescale_factor
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        return (batch - mean) / std


def match_status(score: float, is_match: bool) -> str:
    return f"{'Match' if is_match else 'Mismatch'} (score: {score:.3f})"


@dataclass
class ClipService:
    """One loaded CLIP checkpoint. Build with ``ClipService.load``."""

    model_name: str
    model: CLIPModel
    processor: CLIPProcessor
    device: torch.device
    dtype: torch.dtype
    threshold: float = DEFAULT_THRESHOLD
    batch_size: int = 32
    _text_cache: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)
    _text_cache_limit: int = 4096
    # Texts other processes encoded (``CLIP_SHARED_TEXT_CACHE``: Redis when it is set up).
    shared_text_cache: SharedTextEmbeddings | None = field(default=None, repr=False)
    # The torch.compile'd image encoder (``CLIP_COMPILE=1``); None runs eagerly.
    _compiled_image_encoder: Callable | None = field(default=None, repr=False)
    _pixel_recipe: PixelRecipe | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._pixel_recipe = PixelRecipe.of(self.processor)

    @classmethod
    def load(
        cls,
        name_or_path: str | Path,
        *,
        device: str = "auto",
        dtype: str = "auto",
        threshold: float = DEFAULT_THRESHOLD,
        batch_size: int = 32,
        local_files_only: bool | None = None,
        compile: bool = False,
        compile_backend: str | Callable = "inductor",
    ) -> ClipService:
        """Load a hub checkpoint name or a local directory; raise ``ModelLoadError``.

        ``compile`` wraps the image encoder in ``torch.compile`` (``compile_backend``)
        for one fixed shape: every batch is padded to ``batch_size`` rows, so it
        compiles once. Compilation happens on the first batch; if it fails there, the
        service logs why and runs eagerly from then on.
        """
        name = str(name_or_path)
        torch_device = resolve_device(device)
        torch_dtype = resolve_dtype(dtype, torch_device)
        if local_files_only is None:
            local_files_only = Path(name).is_dir() or os.environ.get("HF_HUB_OFFLINE") == "1"
        problem = model_files_problem(name) if Path(name).is_dir() else None
        if problem is not None and pickled_weights(Path(name)):
            raise ModelLoadError(problem)
        try:
            model = CLIPModel.from_pretrained(
                name, dtype=torch_dtype, local_files_only=local_files_only, use_safetensors=True
            )
            processor = CLIPProcessor.from_pretrained(name, local_files_only=local_files_only)
        except Exception as error:  # OSError, HTTP errors, bad config: all mean "not loadable"
            raise ModelLoadError(f"Could not load CLIP model {name!r}: {error}") from error
        model.to(torch_device).eval()
        logger.info("Loaded CLIP %s on %s as %s", name, torch_device, torch_dtype)
        compiled = (
            torch.compile(model.get_image_features, backend=compile_backend, dynamic=False)
            if compile
            else None
        )
        return cls(
            model_name=name,
            model=model,
            processor=processor,
            device=torch_device,
            dtype=torch_dtype,
            threshold=threshold,
            batch_size=batch_size,
            _compiled_image_encoder=compiled,
        )

    # --- embeddings ---------------------------------------------------------
    def image_embeddings(self, images: Sequence[ImageInput]) -> torch.Tensor:
        """L2-normalised float32 image embeddings, shape (n, projection_dim)."""
        chunks = []
        for start in range(0, len(images), self.batch_size):
            batch = [
                prepare_image(as_image(image)) for image in images[start : start + self.batch_size]
            ]
            pixels = self.pixel_values(batch).to(self.device, self.dtype)
            chunks.append(self.encode_pixels(pixels))
        return torch.cat(chunks) if chunks else torch.empty(0, self.embedding_dim)

    def pixel_values(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """The model's input for prepared RGB images: resized and cropped image by image,
        then rescaled and normalised as one batch (the processor's own result)."""
        recipe = self._pixel_recipe
        if recipe is not None:
            try:
                return recipe.pixel_values(images)
            except ValueError:  # an image smaller than the crop: the processor pads it
                pass
        return self.processor(images=list(images), return_tensors="pt")["pixel_values"]

    @property
    def input_side(self) -> int:
        """The side of the square the image encoder sees (224 for ViT-B/32)."""
        return int(self.model.config.vision_config.image_size)

    def encode_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        """The image encoder on preprocessed pixels (n <= ``batch_size``), normalised float32.

        Compiled: the batch is padded with zero images to ``batch_size`` rows (one
        shape, one compilation) and the padding's rows are dropped; every image is
        encoded on its own, so padding changes no other row.
        """
        if self._compiled_image_encoder is not None and len(pixels) <= self.batch_size:
            count = len(pixels)
            padding = pixels.new_zeros((self.batch_size - count, *pixels.shape[1:]))
            padded = torch.cat([pixels, padding]) if count < self.batch_size else pixels
            try:
                encoder = self._compiled_image_encoder
                return self._forward(lambda: encoder(pixel_values=padded))[:count]
            except Exception as error:  # inductor without a compiler, an unsupported op, …
                logger.warning("torch.compile failed, CLIP runs eagerly: %s", error)
                self._compiled_image_encoder = None
        return self._forward(lambda: self.model.get_image_features(pixel_values=pixels))

    @property
    def compiled(self) -> bool:
        return self._compiled_image_encoder is not None

    def text_embeddings(self, texts: Sequence[str]) -> torch.Tensor:
        """L2-normalised float32 text embeddings; repeated texts come from a cache."""
        missing = missing_from(texts, self._text_cache)
        if len(self._text_cache) + len(missing) > self._text_cache_limit:
            self._text_cache.clear()  # make room before, never during, a call
            missing = list(dict.fromkeys(texts))
        if missing and self.shared_text_cache is not None:
            self._text_cache.update(self.shared_text_cache.get_many(missing))
            missing = missing_from(missing, self._text_cache)
        encoded: dict[str, torch.Tensor] = {}
        for start in range(0, len(missing), self.batch_size):
            batch = missing[start : start + self.batch_size]
            inputs = self.processor(
                text=batch, return_tensors="pt", padding=True, truncation=True
            ).to(self.device)
            embeddings = self._forward(
                lambda i=inputs: self.model.get_text_features(
                    input_ids=i["input_ids"], attention_mask=i["attention_mask"]
                )
            )
            encoded.update(zip(batch, embeddings, strict=True))
        self._text_cache.update(encoded)
        if encoded and self.shared_text_cache is not None:
            self.shared_text_cache.set_many(encoded)
        if not texts:
            return torch.empty(0, self.embedding_dim)
        return torch.stack([self._text_cache[text] for text in texts])

    def _forward(self, call) -> torch.Tensor:
        with torch.inference_mode():
            output = call()
        return normalised_features(output).cpu()

    @property
    def embedding_dim(self) -> int:
        return int(self.model.config.projection_dim)

    # --- scoring ------------------------------------------------------------
    def cosine_similarities(
        self, images: Sequence[ImageInput], texts: Sequence[str]
    ) -> torch.Tensor:
        """Raw cosine similarity of each image with the text at the same position."""
        if len(images) != len(texts):
            raise ValueError(f"{len(images)} images but {len(texts)} texts")
        return (self.image_embeddings(images) * self.text_embeddings(texts)).sum(dim=-1)

    def batch_compute_similarity(
        self,
        images: Sequence[ImageInput] | None = None,
        texts: Sequence[str] = (),
        *,
        image_paths: Sequence[str | Path] | None = None,
    ) -> list[float]:
        """``similarity_score`` of each image with the text at the same position.

        Images may be decoded images or file paths (the seed's ``image_paths=``).
        """
        if images is None and image_paths is None:
            raise TypeError("batch_compute_similarity needs images or image_paths")
        chosen = list(images if images is not None else image_paths)
        return [float(score) for score in cosine_to_score(self.cosine_similarities(chosen, texts))]

    def compute_similarity(self, image: ImageInput, text: str) -> float:
        return self.batch_compute_similarity([image], [text])[0]

    def similarity_from_embedding(self, image_embedding: torch.Tensor, text: str) -> float:
        text_embedding = self.text_embeddings([text])[0]
        return float(cosine_to_score((image_embedding.float() * text_embedding).sum()))

    def zero_shot_classify(
        self,
        image: ImageInput | torch.Tensor,
        labels: Sequence[str] | None = None,
        templates: Sequence[str] = ZERO_SHOT_TEMPLATES,
    ) -> dict[str, float]:
        """Probabilities over ``labels`` (softmax of scaled similarities), highest first.

        ``image`` may be a file path, a decoded image or a precomputed image
        embedding; ``labels`` default to ``CLIP_ZERO_SHOT_LABELS``. Each label's
        text embedding is the normalised mean over the prompt templates.
        """
        labels = list(settings.CLIP_ZERO_SHOT_LABELS if labels is None else labels)
        if not labels:
            return {}
        image_embedding = (
            image if isinstance(image, torch.Tensor) else self.image_embeddings([image])[0]
        )
        prompts = [template.format(label=label) for label in labels for template in templates]
        label_embeddings = self.text_embeddings(prompts).view(len(labels), len(templates), -1)
        label_embeddings = torch.nn.functional.normalize(label_embeddings.mean(dim=1), dim=-1)
        scale = float(self.model.logit_scale.detach().float().exp().cpu())
        logits = scale * (label_embeddings @ image_embedding.float())
        probabilities = logits.softmax(dim=0).tolist()
        ranked = sorted(zip(labels, probabilities, strict=True), key=lambda pair: -pair[1])
        return {label: float(probability) for label, probability in ranked}

    def analyze_image_text_match(
        self,
        image_path: str | Path | Image.Image,
        description: str,
        threshold: float | None = None,
        use_zero_shot: bool = False,
        zero_shot_labels: Sequence[str] | None = None,
    ) -> dict:
        """Seed-compatible one-shot analysis of an image file against a description."""
        image = as_image(image_path)
        limit = self.threshold if threshold is None else threshold
        embedding = self.image_embeddings([image])[0]
        score = self.similarity_from_embedding(embedding, description)
        is_match = score >= limit
        zero_shot = (
            self.zero_shot_classify(embedding, list(zero_shot_labels or []))
            if use_zero_shot
            else None
        )
        return {
            "similarity_score": score,
            "is_match": is_match,
            "threshold": limit,
            "status": match_status(score, is_match),
            "zero_shot_results": zero_shot,
            "model_name": self.model_name,
        }


# --- one service per process ------------------------------------------------
_services: dict[tuple, ClipService] = {}
_services_lock = threading.Lock()
# Where ``get_clip_service()`` without a name finds the scoring model: the app installs
# ``clipanalysis.registry.active_model_location`` at start-up (``ClipAnalysisConfig.ready``),
# so this module never imports the registry and stays free of Django models.
ScoringModelLocator = Callable[[], tuple[str, float]]
_scoring_model: ScoringModelLocator | None = None


def locate_scoring_model_with(locator: ScoringModelLocator | None) -> None:
    """Set what ``get_clip_service()`` without a name serves: ``(name_or_path, threshold)``."""
    global _scoring_model
    _scoring_model = locator


@lru_cache(maxsize=1)
def _configure_threads(threads: int) -> None:
    if threads > 0:
        torch.set_num_threads(threads)


def get_clip_service(
    name_or_path: str | Path | None = None, *, threshold: float | None = None
) -> ClipService:
    """The process-wide service for a checkpoint, loaded lazily on first use.

    Called inside the worker (django-q2 forks workers, and torch must not be
    initialised before the fork), so the model loads once per worker process.
    Code that knows its model passes the name; without one (the seed's
    ``get_clip_service()``) it serves the scoring model the registry says is
    active, or ``CLIP_MODEL_NAME`` outside the app.
    """
    if name_or_path is None:
        name_or_path, located_threshold = (
            _scoring_model() if _scoring_model is not None else (settings.CLIP_MODEL_NAME, None)
        )
        threshold = located_threshold if threshold is None else threshold
    key = (str(name_or_path), settings.CLIP_DEVICE, settings.CLIP_DTYPE, settings.CLIP_COMPILE)
    with _services_lock:
        service = _services.get(key)
        if service is None:
            _configure_threads(settings.CLIP_TORCH_THREADS or _default_threads())
            service = ClipService.load(
                name_or_path,
                device=settings.CLIP_DEVICE,
                dtype=settings.CLIP_DTYPE,
                threshold=settings.CLIP_SIMILARITY_THRESHOLD if threshold is None else threshold,
                batch_size=settings.CLIP_BATCH_SIZE,
                compile=settings.CLIP_COMPILE,
            )
            if settings.CLIP_SHARED_TEXT_CACHE:
                service.shared_text_cache = SharedTextEmbeddings(
                    caches["default"], model_namespace(service.model_name, service.dtype)
                )
            _services[key] = service
    if threshold is not None:
        service.threshold = threshold
    return service


def analyze_image_text_match(
    image_path: ImageInput,
    description: str,
    threshold: float | None = None,
    use_zero_shot: bool = False,
    zero_shot_labels: Sequence[str] | None = None,
) -> dict:
    """The seed's module-level one-shot analysis, with the scoring model.

    Returns ``similarity_score``, ``is_match``, ``threshold``, ``status``
    ("Match (score: 0.842)"), ``zero_shot_results`` (over ``zero_shot_labels``,
    default ``CLIP_ZERO_SHOT_LABELS``) and ``model_name``.
    """
    labels = list(settings.CLIP_ZERO_SHOT_LABELS if zero_shot_labels is None else zero_shot_labels)
    return get_clip_service().analyze_image_text_match(
        image_path,
        description,
        threshold=threshold,
        use_zero_shot=use_zero_shot,
        zero_shot_labels=labels,
    )


def clear_clip_services() -> None:
    """Forget loaded models (after activating another, and between tests)."""
    with _services_lock:
        _services.clear()


def _default_threads() -> int:
    workers = max(1, int(settings.Q_CLUSTER.get("workers", 1)))
    return max(1, (os.cpu_count() or 1) // workers)
