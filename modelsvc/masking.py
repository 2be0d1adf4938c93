"""Relevance-based masking: keep (or remove) the top-k % pixels of a map, fill the rest,
and evaluate a model's target accuracy and target logit on the masked images.

Every choice is explicit and recorded (`MaskingSettings.record()`):

- the number of selected pixels is exactly ``floor(k * H * W + 0.5)`` for fraction k;
  pixels are ranked by relevance with ties broken by pixel index (row-major, first wins);
- ``mode="keep"`` keeps the selected pixels and fills the others, ``"remove"`` fills the
  selected pixels;
- fills work on pixel values in [0, 1] before normalisation: ``"mean"`` (a per-channel
  dataset mean the caller computes once, e.g. with `dataset_mean`), ``"blur"`` (Gaussian
  blur of the image, sigma in pixels), ``"zeros"`` (black), ``"noise"`` (uniform [0, 1)
  per pixel and channel, seeded per image from (seed, image key));
- baseline maps: ``random_maps`` (uniform noise seeded per image) and ``center_maps``
  (a model-free centre prior: relevance falls with distance from the image centre).

Nothing depends on how a stimulus set is split into batches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torchvision.transforms.functional as TF
from torch import nn

from modelsvc.device import run_batched
from modelsvc.image_runs import map_over_images
from modelsvc.images import StimulusItem, normalize
from modelsvc.seeding import item_rng
from modelsvc.spec import ModelSpec
from modelsvc.validation import check_choice, check_fractions, check_int, check_real
from modelsvc.version import code_version

DEFAULT_FRACTIONS = (0.01, 0.02, 0.05, 0.10, 0.20, 0.30, 0.50)
MODES = ("keep", "remove")
FILLS = ("mean", "blur", "zeros", "noise")


@dataclass(frozen=True)
class MaskingSettings:
    """How images are masked; validated on construction."""

    fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    mode: str = "keep"
    fill: str = "mean"
    fill_value: tuple[float, float, float] | None = None
    blur_sigma: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        owner = "MaskingSettings"
        object.__setattr__(self, "fractions", check_fractions(owner, "fractions", self.fractions))
        check_choice(owner, "mode", self.mode, MODES)
        check_choice(owner, "fill", self.fill, FILLS)
        check_int(owner, "seed", self.seed, minimum=0)
        if (self.fill == "mean") != (self.fill_value is not None):
            raise ValueError(
                f"The 'fill_value' parameter of {owner} must be a per-channel mean exactly when "
                f"fill='mean'; got fill={self.fill!r}, fill_value={self.fill_value!r}."
            )
        if self.fill_value is not None:
            values = tuple(
                check_real(owner, "fill_value", v, low=0.0, high=1.0) for v in self.fill_value
            )
            if len(values) != 3:
                raise ValueError(
                    f"The 'fill_value' parameter of {owner} must have 3 values (RGB); "
                    f"got {self.fill_value!r}."
                )
            object.__setattr__(self, "fill_value", values)
        if self.blur_sigma is not None:
            if self.fill != "blur":
                raise ValueError(
                    f"The 'blur_sigma' parameter of {owner} only applies to fill='blur'; "
                    f"got fill={self.fill!r}."
                )
            check_real(owner, "blur_sigma", self.blur_sigma, low=0.0, high=1e4, low_open=True)

    def sigma_for(self, size: tuple[int, int]) -> float:
        """Blur sigma in pixels: the given one, or 4 % of the shorter image side."""
        return self.blur_sigma if self.blur_sigma is not None else 0.04 * min(size)

    def record(self, size: tuple[int, int]) -> dict:
        """JSON record of the settings, with the effective blur sigma and pixel counts."""
        data = asdict(self)
        data["blur_sigma"] = self.sigma_for(size) if self.fill == "blur" else None
        data["pixel_counts"] = [selected_count(f, size) for f in self.fractions]
        data["code_version"] = code_version("masking")
        return data


@dataclass(frozen=True)
class MaskingResult:
    """Per image (N) and fraction (K): whether the target was predicted and its logit."""

    correct: np.ndarray  # (N, K) bool
    target_logit: np.ndarray  # (N, K) float32
    unmasked_correct: np.ndarray  # (N,) bool
    unmasked_logit: np.ndarray  # (N,) float32


def selected_count(fraction: float, size: tuple[int, int]) -> int:
    """Number of pixels a fraction selects: ``floor(fraction * H * W + 0.5)``."""
    return math.floor(fraction * size[0] * size[1] + 0.5)


def pixel_ranks(maps: torch.Tensor) -> torch.Tensor:
    """Rank of each pixel by decreasing relevance (0 = most relevant), ties by pixel index."""
    flat = maps.flatten(1)
    order = torch.sort(flat, dim=1, descending=True, stable=True).indices
    positions = torch.arange(flat.shape[1], device=flat.device).expand_as(order)
    ranks = torch.empty_like(order).scatter_(1, order, positions)
    return ranks.view(maps.shape)


def top_fraction_masks(maps: torch.Tensor, fractions: Sequence[float]) -> torch.Tensor:
    """Boolean masks (K, N, H, W) of the top-`fraction` pixels of each map (N, H, W)."""
    ranks = pixel_ranks(maps)
    size = tuple(maps.shape[1:])
    return torch.stack([ranks < selected_count(f, size) for f in fractions])


def random_maps(keys: Sequence[str], size: tuple[int, int], seed: int) -> torch.Tensor:
    """Uniform random maps (N, H, W), one stream per image key (random-mask baseline)."""
    return torch.from_numpy(
        np.stack([item_rng(seed, "random-mask", key).random(size) for key in keys])
    )


def center_maps(n_images: int, size: tuple[int, int]) -> torch.Tensor:
    """Maps (N, H, W) equal to minus the distance from the image centre (model-free prior)."""
    rows = torch.arange(size[0], dtype=torch.float64) - (size[0] - 1) / 2
    cols = torch.arange(size[1], dtype=torch.float64) - (size[1] - 1) / 2
    distance = torch.sqrt(rows[:, None] ** 2 + cols[None, :] ** 2)
    return (-distance).expand(n_images, *size).clone()


def fill_images(images: torch.Tensor, keys: Sequence[str], settings: MaskingSettings):
    """What replaces masked pixels, same shape as `images` (N, 3, H, W) in [0, 1]."""
    if settings.fill == "mean":
        value = torch.tensor(settings.fill_value, dtype=images.dtype, device=images.device)
        return value.view(1, 3, 1, 1).expand_as(images)
    if settings.fill == "zeros":
        return torch.zeros_like(images)
    if settings.fill == "blur":
        sigma = settings.sigma_for(tuple(images.shape[2:]))
        kernel = 2 * math.ceil(3 * sigma) + 1
        kernel = min(kernel, 2 * (min(images.shape[2:]) // 2) - 1)  # reflect padding limit
        return TF.gaussian_blur(images, [kernel, kernel], [sigma, sigma])
    shape = tuple(images.shape[1:])
    noise = np.stack([item_rng(settings.seed, "noise-fill", key).random(shape) for key in keys])
    return torch.from_numpy(noise).to(dtype=images.dtype, device=images.device)


def mask_images(
    images: torch.Tensor, masks: torch.Tensor, fill: torch.Tensor, mode: str
) -> torch.Tensor:
    """Images (N, 3, H, W) with pixels outside (keep) or inside (remove) `masks` filled."""
    check_choice("mask_images", "mode", mode, MODES)
    keep = masks if mode == "keep" else ~masks
    return torch.where(keep.unsqueeze(1), images, fill)


def evaluate_masking(
    model: nn.Module,
    spec: ModelSpec,
    images: torch.Tensor,
    maps: torch.Tensor | np.ndarray,
    targets: torch.Tensor | np.ndarray,
    keys: Sequence[str],
    settings: MaskingSettings,
) -> MaskingResult:
    """Mask `images` (N, 3, H, W, pixels in [0, 1]) by `maps` (N, H, W) at every fraction
    and record whether `model` still predicts `targets`, and the target logit."""
    images, maps, targets = check_batch(images, maps, targets, keys)
    unmasked = predict_targets(model, spec, images, targets)
    correct, target_logit = score_masked(
        model, spec, masked_versions(images, maps, keys, settings), targets
    )
    return MaskingResult(correct, target_logit, unmasked[0], unmasked[1])


def masked_versions(
    images: torch.Tensor, maps: torch.Tensor, keys: Sequence[str], settings: MaskingSettings
) -> list[torch.Tensor]:
    """`images` (N, 3, H, W) masked by `maps` (N, H, W) at each of the settings' fractions."""
    fill = fill_images(images, keys, settings)
    masks = top_fraction_masks(maps, settings.fractions)
    return [mask_images(images, m, fill, settings.mode) for m in masks]


def score_masked(model, spec, versions: Sequence[torch.Tensor], targets: torch.Tensor):
    """Correct and target logit (N, K) of `model` on each masked version of the images."""
    scored = [predict_targets(model, spec, images, targets) for images in versions]
    return (
        np.stack([s[0] for s in scored], axis=1),
        np.stack([s[1] for s in scored], axis=1),
    )


def dataset_mean(per_image_means: Sequence[Sequence[float]]) -> tuple[float, float, float]:
    """Per-channel mean over a set from per-image channel means (see `image_channel_means`).

    Uses `math.fsum` (exactly rounded), so the result does not depend on the order in which
    batches were processed.
    """
    rows = list(per_image_means)
    if not rows:
        raise ValueError("The 'per_image_means' parameter of dataset_mean must not be empty.")
    return tuple(math.fsum(row[c] for row in rows) / len(rows) for c in range(3))  # type: ignore[return-value]


def image_channel_means(images: torch.Tensor) -> np.ndarray:
    """Per-image channel means (N, 3) in float64, the input of `dataset_mean`."""
    return images.double().mean(dim=(2, 3)).cpu().numpy()


def mean_fill_value(
    items: Sequence[StimulusItem],
    size: tuple[int, int],
    *,
    batch_size: int,
    progress: bool = False,
) -> tuple[float, float, float]:
    """The 'mean' fill: mean RGB of the readable images of `items` at `size` (H, W).

    Unreadable files are left out (as in every `map_over_images` run); the value does not
    depend on `batch_size`.
    """
    run = map_over_images(
        items,
        size,
        lambda images, _: image_channel_means(images),
        batch_size,
        progress=progress,
        description="dataset mean",
    )
    return dataset_mean(run.value)


def predict_targets(model, spec, images, targets):
    """Correct / target logit per image; an out-of-memory halves the batch (`run_batched`)."""
    parameter = next(model.parameters())
    device, dtype = parameter.device, parameter.dtype

    def logits_of(indices: list[int]) -> torch.Tensor:
        with torch.inference_mode():
            batch = images[indices].to(device=device, dtype=dtype)
            return model(normalize(batch, spec)).float().cpu()

    logits = run_batched(logits_of, len(images), len(images)).value
    rows = torch.arange(len(targets))
    correct = (logits.argmax(1) == targets).numpy()
    return correct, logits[rows, targets].numpy()


def check_batch(images, maps, targets, keys):
    """(images, maps as a tensor on the images' device, targets as long) after shape checks."""
    maps = torch.as_tensor(np.asarray(maps) if isinstance(maps, np.ndarray) else maps)
    targets = torch.as_tensor(np.asarray(targets), dtype=torch.long).cpu()
    n, _, height, width = images.shape
    if tuple(maps.shape) != (n, height, width):
        raise ValueError(
            f"The 'maps' parameter of evaluate_masking must have shape {(n, height, width)} "
            f"(one map per image at the image size); got {tuple(maps.shape)}."
        )
    if targets.shape != (n,) or len(keys) != n:
        raise ValueError(
            f"The 'targets' and 'keys' parameters of evaluate_masking must have {n} entries; "
            f"got {tuple(targets.shape)} and {len(keys)}."
        )
    return images, maps.to(images.device), targets
