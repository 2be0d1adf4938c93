"""Streamed unit statistics for dissection: exact top-quantile thresholds and per-image counts.

Memory does not grow with the number of images: thresholds come from a three-pass radix
select on the float32 bit patterns (12 + 12 + 8 bits; each pass keeps one histogram of
4,096 bins per unit), which finds the exact order statistics ``np.quantile`` (linear method)
interpolates between. A fourth pass thresholds every unit's activation map, upsampled
bilinearly to the mask resolution as in Bau et al. (2017), and counts per image and unit the
thresholded pixels, their overlap with each part and the mean activation. Those per-image
counts are the output (N x units x parts integers); every IoU, null and bootstrap in
``analysis.dissection`` is a sum over them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from modelsvc.architectures import get_module
from modelsvc.dissection.dictionary import FaceDictionary
from modelsvc.validation import check_unique_strings

DEFAULT_TOP_FRACTION = 0.005
_DIGITS = ((20, 12), (8, 12), (0, 8))  # (shift, bits) of the three radix passes, high first

Batches = Callable[[], Iterable[torch.Tensor]]
"""Called once per pass; yields the model-ready input batches in the same order every time."""


@dataclass(frozen=True, eq=False)
class LayerCounts:
    """Per-image counts of one layer: the input of ``analysis.dissection``.

    `threshold` (C,) float64; `intersection` (N, C, P) thresholded pixels inside each part;
    `activated` (N, C) thresholded pixels; `part_area` (N, P) part pixels; `response` (N, C)
    mean activation (global average pool). Pixels are counted at the mask resolution.
    """

    threshold: np.ndarray
    intersection: np.ndarray
    activated: np.ndarray
    part_area: np.ndarray
    response: np.ndarray


def float_keys(values: torch.Tensor) -> torch.Tensor:
    """Order-preserving int64 keys in [0, 2**32) of float32 `values` (no NaN)."""
    bits = values.contiguous().view(torch.int32)
    flipped = bits ^ ((bits >> 31) & 0x7FFFFFFF)
    return flipped.to(torch.int64) + 2**31


def _key_values(keys: torch.Tensor) -> torch.Tensor:
    """Inverse of `float_keys`: the float32 values of int64 keys."""
    flipped = (keys - 2**31).to(torch.int32)
    return (flipped ^ ((flipped >> 31) & 0x7FFFFFFF)).view(torch.float32)


def unit_thresholds(
    model: nn.Module,
    *,
    layers: Sequence[str],
    batches: Batches,
    top_fraction: float = DEFAULT_TOP_FRACTION,
) -> dict[str, np.ndarray]:
    """Per layer, each unit's ``np.quantile(a, 1 - top_fraction)`` (linear method, float64)
    over all its activations on all images, computed exactly in three streamed passes."""
    layers = check_unique_strings("unit_thresholds", "layers", layers)
    if not 0.0 < top_fraction < 1.0:
        raise ValueError(
            "The 'top_fraction' parameter of unit_thresholds must be a number in (0, 1); "
            f"got {top_fraction!r}."
        )
    state: dict[str, dict] = {}
    for pass_index, (shift, bits) in enumerate(_DIGITS):
        hists: dict[str, list[torch.Tensor]] = {}
        for name, output in _layer_outputs(model, layers, batches):
            keys = float_keys(output.float().transpose(0, 1).reshape(output.shape[1], -1))
            layer = state.setdefault(name, {"count": 0, "prefix": None})
            layer["count"] += keys.shape[1] if pass_index == 0 else 0
            prefix = layer["prefix"]
            low = _digit_histogram(keys, None if prefix is None else prefix[0], shift, bits)
            same = prefix is None or torch.equal(prefix[0], prefix[1])
            high = low if same else _digit_histogram(keys, prefix[1], shift, bits)
            total = hists.setdefault(name, [torch.zeros_like(low), torch.zeros_like(low)])
            total[0] += low
            total[1] += high
        for name, layer in state.items():
            if pass_index == 0:
                position = (layer["count"] - 1) * (1.0 - top_fraction)
                low_rank = int(np.floor(position))
                units = hists[name][0].shape[0]
                layer["fraction"] = position - low_rank
                layer["rank"] = [
                    torch.full((units,), rank, device=hists[name][0].device)
                    for rank in (low_rank, min(low_rank + 1, layer["count"] - 1))
                ]
            digits = []
            for target in range(2):
                digit, layer["rank"][target] = _select_digit(
                    hists[name][target], layer["rank"][target]
                )
                previous = layer["prefix"]
                digits.append(digit if previous is None else (previous[target] << bits) | digit)
            layer["prefix"] = digits
    return {name: _interpolate(state[name]) for name in layers}


def _digit_histogram(
    keys: torch.Tensor, prefix: torch.Tensor | None, shift: int, bits: int
) -> torch.Tensor:
    """Counts (C, 2**bits) of the digit at `shift` among each unit's keys matching `prefix`."""
    units = keys.shape[0]
    digits = (keys >> shift) & ((1 << bits) - 1)
    index = digits + torch.arange(units, device=keys.device)[:, None] * (1 << bits)
    if prefix is not None:
        index = index[(keys >> (shift + bits)) == prefix[:, None]]
    return torch.bincount(index.reshape(-1), minlength=units << bits).view(units, -1)


def _select_digit(counts: torch.Tensor, rank: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The digit whose bin holds each unit's `rank` (0-based) and the rank within that bin."""
    cumulative = counts.cumsum(dim=1)
    digit = (cumulative <= rank[:, None]).sum(dim=1)
    before = cumulative.gather(1, (digit - 1).clamp(min=0)[:, None])[:, 0]
    return digit, rank - torch.where(digit > 0, before, 0)


def _interpolate(layer: dict) -> np.ndarray:
    """Linear interpolation between the two order statistics, as ``np.quantile``."""
    low, high = (_key_values(p).double().cpu().numpy() for p in layer["prefix"])
    fraction = layer["fraction"]
    step = high - low  # numpy's _lerp: from the nearer end, so t = 1 gives `high` exactly
    return low + step * fraction if fraction < 0.5 else high - step * (1 - fraction)


def float32_below(thresholds: np.ndarray) -> np.ndarray:
    """The largest float32 <= each float64 threshold: for float32 x, ``x > t`` exactly when
    ``x > float32_below(t)``, so maps are compared in float32 with the float64 result."""
    rounded = np.asarray(thresholds, dtype=np.float64).astype(np.float32)
    return np.where(rounded > thresholds, np.nextafter(rounded, np.float32(-np.inf)), rounded)


def unit_counts(
    model: nn.Module,
    *,
    layers: Sequence[str],
    batches: Batches,
    dictionary: FaceDictionary,
    thresholds: dict[str, np.ndarray],
) -> dict[str, LayerCounts]:
    """One streamed pass: per-image counts (see `LayerCounts`) of every unit of `layers`."""
    layers = check_unique_strings("unit_counts", "layers", layers)
    height, width = dictionary.mask_size
    n_images, n_parts = len(dictionary.names), len(dictionary.parts)
    results: dict[str, LayerCounts] = {}
    start: dict[str, int] = dict.fromkeys(layers, 0)
    for name, output in _layer_outputs(model, layers, batches):
        size, n_units = output.shape[:2]
        if start[name] + size > n_images:
            raise ValueError(
                f"The 'batches' parameter of unit_counts must yield the dictionary's "
                f"{n_images} images; got more."
            )
        if name not in results:  # filled in place: no per-batch arrays kept (fragmentation)
            results[name] = LayerCounts(
                np.asarray(thresholds[name], dtype=np.float64),
                np.empty((n_images, n_units, n_parts), np.int32),
                np.empty((n_images, n_units), np.int64),
                np.empty((n_images, n_parts), np.int64),
                np.empty((n_images, n_units), np.float32),
            )
        index = slice(start[name], start[name] + size)
        start[name] += size
        masks = torch.from_numpy(dictionary.part_masks(index)).to(output.device)
        threshold = torch.from_numpy(float32_below(thresholds[name])).to(output.device)
        upsampled = F.interpolate(
            output.float(), size=(height, width), mode="bilinear", align_corners=False
        )
        fired = (upsampled > threshold[None, :, None, None]).to(torch.float32)
        del upsampled
        inter = torch.einsum("ncp,nkp->nck", fired.flatten(2), masks.flatten(2).float())
        counts = results[name]
        counts.intersection[index] = inter.round().cpu().numpy()
        counts.activated[index] = fired.sum(dim=(2, 3)).cpu().numpy()
        counts.part_area[index] = masks.sum(dim=(2, 3)).cpu().numpy()
        counts.response[index] = output.float().mean(dim=(2, 3)).cpu().numpy()
    for name in layers:
        if start[name] != n_images:
            raise ValueError(
                f"The 'batches' parameter of unit_counts must yield the dictionary's "
                f"{n_images} images; got {start[name]}."
            )
    return {name: results[name] for name in layers}


def dissect_units(
    model: nn.Module,
    *,
    layers: Sequence[str],
    batches: Batches,
    dictionary: FaceDictionary,
    top_fraction: float = DEFAULT_TOP_FRACTION,
) -> dict[str, LayerCounts]:
    """Thresholds (three passes) then counts (one pass) for every unit of `layers`."""
    thresholds = unit_thresholds(model, layers=layers, batches=batches, top_fraction=top_fraction)
    return unit_counts(
        model, layers=layers, batches=batches, dictionary=dictionary, thresholds=thresholds
    )


def randomized_copy(model: nn.Module, *, seed: int) -> nn.Module:
    """A copy of `model` with every parameter re-initialised (``reset_parameters``) from
    `seed`: the random-weights baseline of dissection. `model` is not changed."""
    clone = copy.deepcopy(model)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        for module in clone.modules():
            if hasattr(module, "reset_parameters") and module is not clone:
                module.reset_parameters()
    finally:
        torch.random.set_rng_state(generator_state)
    return clone


def tensor_batches(images: torch.Tensor, batch_size: int) -> Batches:
    """`Batches` over an in-memory tensor (N, 3, H, W) of model-ready inputs."""
    return lambda: (images[i : i + batch_size] for i in range(0, len(images), batch_size))


def _layer_outputs(
    model: nn.Module, layers: Sequence[str], batches: Batches
) -> Iterable[tuple[str, torch.Tensor]]:
    """(layer, output (B, C, h, w)) for every batch and layer, in batch order."""
    modules = {name: get_module(model, name) for name in layers}
    captured: list[tuple[str, torch.Tensor]] = []

    def hook_for(name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            if output.ndim != 4:
                raise ValueError(
                    f"The 'layers' parameter of dissection must name convolutional layers "
                    f"(4-D outputs); got {name!r} with shape {tuple(output.shape)}."
                )
            captured.append((name, output.detach().clone()))

        return hook

    handles = [module.register_forward_hook(hook_for(n)) for n, module in modules.items()]
    try:
        with torch.inference_mode():
            for batch in batches():
                model(batch)
                yield from captured
                captured.clear()
    finally:
        for handle in handles:
            handle.remove()
