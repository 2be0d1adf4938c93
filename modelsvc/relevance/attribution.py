"""Relevance of inputs: the backend choice (fast path or zennit) and the stored record.

`explain` works on model inputs (already normalised) and returns per-channel relevance;
`compute_relevance` takes pixel images and a `ModelSpec` and returns what the platform
stores: channel-summed float32 maps, the logits, the targets and the method record.

The initial relevance is the one-hot target (zennit's convention), so a map sums to about
the share of the target logit not explained by biases (not to the logit itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from modelsvc.architectures import get_architecture
from modelsvc.images import normalize
from modelsvc.relevance.fast import FastPathUnsupported, check_fast_path, fast_lrp
from modelsvc.relevance.methods import get_method, resolve_parameters
from modelsvc.relevance.zennit_backend import gradient_relevance, zennit_lrp
from modelsvc.spec import ModelSpec
from modelsvc.validation import check_choice
from modelsvc.version import code_version

BACKENDS = ("auto", "fast", "zennit")


@dataclass(frozen=True)
class Explanation:
    """Tensors from `explain`: relevance has the inputs' shape (per channel)."""

    logits: torch.Tensor
    targets: torch.Tensor
    relevance: torch.Tensor
    backend: str


@dataclass(frozen=True)
class RelevanceResult:
    """Channel-summed maps (N, H, W) float32, logits (N, C) float32, targets (N,) int64,
    and the record of how they were made."""

    maps: np.ndarray
    logits: np.ndarray
    targets: np.ndarray
    method: str
    parameters: dict[str, Any]
    backend: str
    code_version: str

    def record(self) -> dict[str, Any]:
        """The JSON record stored with the arrays."""
        return {
            "method": self.method,
            "parameters": self.parameters,
            "backend": self.backend,
            "code_version": self.code_version,
        }


def explain(
    model: nn.Module,
    inputs: torch.Tensor,
    *,
    method: str = "epsilon_plus_flat",
    targets: torch.Tensor | None = None,
    parameters: dict[str, float] | None = None,
    backend: str = "auto",
    canonizers: list | None = None,
    box: tuple[torch.Tensor, torch.Tensor] | None = None,
    dtype: torch.dtype | None = None,
) -> Explanation:
    """Relevance of `targets` (None: predicted class) for normalised `inputs` (N, C, H, W).

    `backend`: "auto" uses the fast path when it reproduces the composite on this model and
    zennit otherwise; "fast" or "zennit" force one (forcing "fast" where it does not apply is
    an error naming the unsupported module). `canonizers` are passed to zennit (the fast path
    merges batch norms itself, which equals zennit's ``SequentialMergeBatchNorm``). `dtype`
    (e.g. torch.bfloat16 on a GPU) is for the fast path only.
    """
    chosen = get_method(method)
    check_choice("explain", "backend", backend, BACKENDS)
    if model.training:
        raise ValueError(
            "The 'model' parameter of explain must be in eval mode (call model.eval()): "
            "relevance through active dropout or batch statistics is not defined."
        )
    params = resolve_parameters(chosen, parameters)
    if targets is not None:
        targets = torch.as_tensor(targets, dtype=torch.long, device=inputs.device)
        if targets.shape != (len(inputs),):
            raise ValueError(
                f"The 'targets' parameter of explain must have one class index per input "
                f"({len(inputs)}); got shape {tuple(targets.shape)}."
            )
    model_dtype = next(model.parameters()).dtype
    if chosen.kind != "lrp":
        if backend == "fast" or (dtype not in (None, model_dtype)):
            raise ValueError(
                f"The {method!r} method runs through autograd only; got backend={backend!r}, "
                f"dtype={dtype!r}."
            )
        logits, used, relevance = gradient_relevance(
            model, inputs, targets, times_input=chosen.kind == "gradient_x_input"
        )
        return Explanation(logits, used, relevance, "autograd")
    use_fast = backend == "fast"
    if backend == "auto":
        use_fast = check_fast_path(model, chosen.fast_rules, params, dtype) is None
    if use_fast:
        if chosen.fast_rules is None:
            raise FastPathUnsupported(f"the {method!r} method has no fast path")
        logits, used, relevance = fast_lrp(
            model, inputs, targets, chosen.fast_rules, params, dtype=dtype
        )
        return Explanation(logits, used, relevance, "fast")
    if dtype not in (None, model_dtype):
        raise ValueError(
            f"The 'dtype' parameter of explain applies to the fast path only; the zennit "
            f"backend uses the model's dtype {model_dtype}; got {dtype}."
        )
    logits, used, relevance = zennit_lrp(
        model, inputs, targets, method, params, canonizers or [], box
    )
    return Explanation(logits, used, relevance, "zennit")


def spec_options(spec: ModelSpec, *, dtype: torch.dtype, device) -> dict[str, Any]:
    """`explain`'s canonizers and input box for a model of `spec`: the architecture's
    canonizers and the bounds of pixel values 0 and 1 after the spec's normalisation."""
    mean = torch.tensor(spec.mean, dtype=dtype, device=device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, dtype=dtype, device=device).view(1, 3, 1, 1)
    return {
        "canonizers": get_architecture(spec.architecture).canonizers(),
        "box": ((0 - mean) / std, (1 - mean) / std),
    }


def compute_relevance(
    model: nn.Module,
    spec: ModelSpec,
    images: torch.Tensor,
    *,
    method: str = "epsilon_plus_flat",
    targets: np.ndarray | torch.Tensor | None = None,
    parameters: dict[str, float] | None = None,
    backend: str = "auto",
    dtype: torch.dtype | None = None,
) -> RelevanceResult:
    """Channel-summed relevance maps for pixel `images` (N, 3, H, W) in [0, 1].

    Normalises with the spec, uses the architecture's canonizers and, for
    ``epsilon_gamma_box``, the input bounds of pixel values 0 and 1 after normalisation.
    """
    device = next(model.parameters()).device
    model_dtype = next(model.parameters()).dtype
    inputs = normalize(images.to(device=device, dtype=model_dtype), spec)
    if targets is not None:
        targets = torch.as_tensor(np.asarray(targets), dtype=torch.long, device=device)
    result = explain(
        model,
        inputs,
        method=method,
        targets=targets,
        parameters=parameters,
        backend=backend,
        dtype=dtype,
        **spec_options(spec, dtype=model_dtype, device=device),
    )
    params = resolve_parameters(get_method(method), parameters)
    return RelevanceResult(
        maps=result.relevance.sum(1).float().cpu().numpy(),
        logits=result.logits.float().cpu().numpy(),
        targets=result.targets.cpu().numpy().astype(np.int64),
        method=method,
        parameters={**params, "dtype": str(dtype or model_dtype).removeprefix("torch.")},
        backend=result.backend,
        code_version=code_version("relevance"),
    )
