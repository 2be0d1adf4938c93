"""Fast LRP for sequential conv/linear/ReLU/pool networks (the VGG family).

Reproduces zennit's composites ``epsilon_plus_flat``, ``epsilon_plus`` and
``epsilon_alpha2_beta1_flat`` (zennit 0.5.1, read from its ``rules.py``/``core.py``) without
hooks or autograd:

- one forward pass under ``torch.inference_mode`` keeps each layer's input (and max-pool
  indices), then relevance runs from the top, layer by layer:
- z+ (hidden convolutions, inputs >= 0 after a ReLU):
  ``R_in = a * conv_T(R / (conv(a, W+) + b+ + eps), W+)``. zennit's ZPlus keeps the positive
  bias in the denominator and adds ``conv(a-, W-)``, which is zero for non-negative inputs;
  its stabiliser adds ``eps * sign`` with sign(0) = +1, i.e. ``+eps`` for a sum that is >= 0.
  On a layer whose input may be negative (the first layer of ``epsilon_plus``) both terms
  are computed.
- alpha2-beta1: ``R_in = a * (2 conv_T(R / stab(z+), W+) - conv_T(R / stab(z-), W-))`` with
  ``z+ = conv(a, W+) + b+`` and ``z- = conv(a, W-) + b-`` (non-negative inputs only).
- epsilon (linear layers): ``R_in = a * W^T (R / stab(z))`` with the forward's own ``z``
  (bias included).
- flat (first layer): weights set to one and bias to zero, so ``z`` is the number of
  in-bounds taps and every input channel gets ``conv_T(R / (z + eps), 1)``: a box sum of the
  channel-summed ``R``, computed as such instead of as a full transposed convolution.
- ReLU and dropout pass relevance unchanged (zennit's ``Pass``), max-pooling routes it to the
  arg-max (the gradient), average pooling uses zennit's ``Norm`` rule
  ``R_in = a * pool_T(R / stab(pool(a)))``, batch norm after a convolution is merged into it
  exactly as zennit's ``SequentialMergeBatchNorm`` does (the BN then scales by
  ``1/sqrt(1 + eps)``, as in zennit's canonised model).

Why it can cost about one forward+backward: no weight gradients, no autograd graph or hooks,
no clone of every layer input, no second (all-zero) z+ branch, the clamped weights computed
once per model and cached, in-place element-wise steps, and the first layer reduced to a box
filter. Per hidden conv it runs three convolutions (forward, z+, transposed), the same count
as a training forward+backward (forward, input gradient, weight gradient); zennit runs six
(forward, the original input gradient that its hooks then replace, and forward plus input
gradient for both z+ branches). Tried and rejected on the benchmark CPU (oneDNN): computing
z+ in the forward pass by concatenating [W; W+] (no faster: the convolutions are compute
bound) and channels_last tensors (slower end to end, and float32 maps 100x further from a
float64 reference: 4.7e-4 instead of 3.3e-6 relative error).

Public APIs only, except ``Tensor._version`` (see `_signature`): transposed convolutions
are ``torch.nn.grad.conv2d_input`` (the same ``convolution_backward`` kernel), average
pooling goes back through ``torch.func.vjp`` of the pooling module (it is linear), max
pooling through a scatter-add at the forward's indices (``max_unpool2d`` would drop the sums
of overlapping windows).

Low precision (``dtype``): bfloat16 has float32's exponent range and runs as is. float16
does not: relevance spread over 10^5-10^6 units falls into its subnormal range, and a
fixed up-scaling overflows in the top layers (R / z with a small logit z). Relevance is
linear in the initial relevance, so after every layer each image's relevance is multiplied
by a power of two that brings its peak into [1, 2) (exact), and the exponents are undone at
the end in float32. Low-precision results are returned as float32.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import vjp
from torch.nn.grad import conv2d_input

from modelsvc.relevance.methods import FastRules
from modelsvc.sequence import FLATTEN, NotSequentialError, to_sequence


class FastPathUnsupported(Exception):
    """The fast path cannot reproduce the composite on this model; use zennit instead."""


def stabilize(z: torch.Tensor, epsilon: float) -> torch.Tensor:
    """zennit's default stabiliser: ``z + epsilon * sign(z)`` with sign(0) = +1."""
    return z + ((z == 0).to(z) + z.sign()) * epsilon


# ----------------------------------------------------------------------------- steps
class _Step:
    """One module of the sequence: forward (keeping what the backward needs) and backward."""

    def forward(self, a: torch.Tensor) -> tuple[torch.Tensor, Any]:
        raise NotImplementedError

    def backward(self, relevance: torch.Tensor, saved: Any) -> torch.Tensor:
        raise NotImplementedError


@dataclass
class _ConvGeometry:
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]

    @classmethod
    def of(cls, conv: nn.Conv2d) -> _ConvGeometry:
        if conv.groups != 1 or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise FastPathUnsupported(
                f"{conv} (only groups=1, zero padding given as numbers is supported)"
            )
        return cls(conv.stride, conv.padding, conv.dilation)

    def conv(self, a: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None):
        return F.conv2d(a, weight, bias, self.stride, self.padding, self.dilation)

    def conv_t(self, grad: torch.Tensor, shape: torch.Size, weight: torch.Tensor) -> torch.Tensor:
        """Input gradient of ``conv(a, weight)`` (`a` of `shape`) for output gradient `grad`."""
        return conv2d_input(shape, weight, grad, self.stride, self.padding, self.dilation)


class _ConvZPlus(_Step):
    def __init__(self, geometry, weight, bias, epsilon, nonnegative_input):
        self.geometry, self.weight, self.bias = geometry, weight, bias
        self.w_pos = weight.clamp(min=0)
        self.b_pos = None if bias is None else bias.clamp(min=0)
        self.w_neg = None if nonnegative_input else weight.clamp(max=0)
        self.epsilon = epsilon
        # with non-negative inputs z+ >= 0, so the stabiliser adds +eps: folded into the bias
        self.b_stab = (self.b_pos if bias is not None else weight.new_zeros(len(weight))) + epsilon

    def forward(self, a):
        return self.geometry.conv(a, self.weight, self.bias), a

    def backward(self, relevance, a):
        g = self.geometry
        if self.w_neg is None:
            z = g.conv(a, self.w_pos, self.b_stab)
            scaled = torch.div(relevance, z, out=z)
            return g.conv_t(scaled, a.shape, self.w_pos).mul_(a)
        a_pos, a_neg = a.clamp(min=0), a.clamp(max=0)
        z = g.conv(a_pos, self.w_pos, self.b_pos) + g.conv(a_neg, self.w_neg, None)
        scaled = relevance / stabilize(z, self.epsilon)
        return a_pos * g.conv_t(scaled, a.shape, self.w_pos) + a_neg * g.conv_t(
            scaled, a.shape, self.w_neg
        )


class _ConvAlphaBeta(_Step):
    """alpha-beta rule for non-negative inputs (x- terms of zennit's AlphaBeta are zero)."""

    def __init__(self, geometry, weight, bias, epsilon, alpha, beta):
        self.geometry, self.weight, self.bias = geometry, weight, bias
        self.w_pos, self.w_neg = weight.clamp(min=0), weight.clamp(max=0)
        self.b_pos = None if bias is None else bias.clamp(min=0)
        self.b_neg = None if bias is None else bias.clamp(max=0)
        self.epsilon, self.alpha, self.beta = epsilon, alpha, beta

    def forward(self, a):
        return self.geometry.conv(a, self.weight, self.bias), a

    def backward(self, relevance, a):
        g = self.geometry
        z_pos = g.conv(a, self.w_pos, self.b_pos)
        z_neg = g.conv(a, self.w_neg, self.b_neg)
        c_pos = g.conv_t(relevance / stabilize(z_pos, self.epsilon), a.shape, self.w_pos)
        c_neg = g.conv_t(relevance / stabilize(z_neg, self.epsilon), a.shape, self.w_neg)
        return self.alpha * (a * c_pos) - self.beta * (a * c_neg)


class _ConvFlat(_Step):
    """Flat rule: relevance spread uniformly over each output's receptive field."""

    def __init__(self, geometry, weight, bias, epsilon):
        self.geometry, self.weight, self.bias, self.epsilon = geometry, weight, bias, epsilon
        self.in_channels = weight.shape[1]
        self.box = torch.ones((1, 1, *weight.shape[2:]), dtype=weight.dtype, device=weight.device)
        self._counts: dict[tuple[int, int], torch.Tensor] = {}

    def forward(self, a):
        return self.geometry.conv(a, self.weight, self.bias), a.shape

    def backward(self, relevance, shape):
        n, _, height, width = shape
        kwargs = {"dtype": relevance.dtype, "device": relevance.device}
        share = relevance.sum(1, keepdim=True) / self._stabilised_counts(height, width, kwargs)
        return self.geometry.conv_t(share, (n, 1, height, width), self.box).expand(shape)

    def _stabilised_counts(self, height: int, width: int, kwargs: dict) -> torch.Tensor:
        """``C_in * (in-bounds taps per output) + eps``: zennit's flat ``z``, per input size."""
        key = (height, width)
        if key not in self._counts:
            ones = torch.ones((1, 1, height, width), **kwargs)
            taps = self.geometry.conv(ones, self.box, None)
            self._counts[key] = taps * self.in_channels + self.epsilon
        return self._counts[key]


class _LinearEpsilon(_Step):
    def __init__(self, weight, bias, epsilon):
        self.weight, self.bias, self.epsilon = weight, bias, epsilon

    def forward(self, a):
        z = F.linear(a, self.weight, self.bias)
        return z, (a, stabilize(z, self.epsilon))

    def backward(self, relevance, saved):
        a, denominator = saved
        return (relevance / denominator).matmul(self.weight).mul_(a)


class _LinearFlat(_Step):
    def __init__(self, weight, bias, epsilon):
        self.weight, self.bias, self.epsilon = weight, bias, epsilon

    def forward(self, a):
        return F.linear(a, self.weight, self.bias), a.shape

    def backward(self, relevance, shape):
        share = relevance.sum(1, keepdim=True) / (shape[1] + self.epsilon)
        return share.expand(shape)


class _ReLU(_Step):
    def __init__(self, inplace: bool):
        self.inplace = inplace

    def forward(self, a):
        return (a.relu_() if self.inplace else a.relu()), None

    def backward(self, relevance, saved):
        return relevance


class _Identity(_Step):
    def forward(self, a):
        return a, None

    def backward(self, relevance, saved):
        return relevance


class _CanonicalBatchNorm(_Step):
    """A batch norm whose statistics were merged into the preceding conv: x / sqrt(1 + eps)."""

    def __init__(self, bn: nn.BatchNorm2d, reference: torch.Tensor):
        kwargs = {"dtype": reference.dtype, "device": reference.device}
        channels = bn.num_features
        self.zeros, self.ones = torch.zeros(channels, **kwargs), torch.ones(channels, **kwargs)
        self.eps = bn.eps

    def forward(self, a):
        out = F.batch_norm(a, self.zeros, self.ones, self.ones, self.zeros, False, 0.0, self.eps)
        return out, None

    def backward(self, relevance, saved):
        return relevance


class _MaxPool(_Step):
    def __init__(self, pool: nn.MaxPool2d):
        if pool.return_indices:
            raise FastPathUnsupported(f"{pool} (return_indices=True)")
        self.pool = pool

    def forward(self, a):
        p = self.pool
        out, indices = F.max_pool2d_with_indices(
            a, p.kernel_size, p.stride, p.padding, p.dilation, p.ceil_mode
        )
        return out, (indices, a.shape)

    def backward(self, relevance, saved):
        """Route relevance to the arg-max (scatter-add, so overlapping windows also work)."""
        indices, (n, c, h, w) = saved
        routed = relevance.new_zeros((n, c, h * w))
        routed.scatter_add_(2, indices.flatten(2), relevance.flatten(2))
        return routed.view(n, c, h, w)


class _AvgPoolNorm(_Step):
    """zennit's Norm rule on (adaptive) average pooling."""

    def __init__(self, pool: nn.Module, epsilon: float):
        self.pool, self.epsilon = pool, epsilon

    def forward(self, a):
        out = self.pool(a)
        return out, (a, stabilize(out, self.epsilon))

    def backward(self, relevance, saved):
        a, denominator = saved
        scaled = relevance / denominator
        if scaled.shape == a.shape and isinstance(self.pool, nn.AdaptiveAvgPool2d):
            return scaled.mul_(a)  # pooling to the same size is the identity
        # pooling is linear: its vector-Jacobian product is the transposed pooling
        return vjp(self.pool, a)[1](scaled)[0].mul_(a)


class _Flatten(_Step):
    def forward(self, a):
        return a.flatten(1), a.shape

    def backward(self, relevance, shape):
        return relevance.reshape(shape)


# ----------------------------------------------------------------------------- compile
@dataclass
class _Plan:
    steps: list[_Step]
    signature: tuple


def _merged_conv(conv: nn.Conv2d, bn: nn.BatchNorm2d | None, dtype: torch.dtype):
    """Weights of `conv` with `bn` merged in, by zennit's formula (same operations/order)."""
    weight = conv.weight.detach()
    bias = None if conv.bias is None else conv.bias.detach()
    if bn is not None:
        scale = bn.weight.detach() / (bn.running_var + bn.eps) ** 0.5
        if bias is None:
            bias = torch.zeros(1, dtype=weight.dtype, device=weight.device)
        weight = weight * scale[:, None, None, None]
        bias = (bias - bn.running_mean) * scale + bn.bias.detach()
    return weight.to(dtype), None if bias is None else bias.to(dtype)


def _compile(model: nn.Module, rules: FastRules, params: dict[str, float], dtype) -> list[_Step]:
    try:
        sequence = to_sequence(model)
    except NotSequentialError as exc:
        raise FastPathUnsupported(str(exc)) from exc
    epsilon, stabilizer = params["epsilon"], params["stabilizer"]
    steps: list[_Step] = []
    seen_linear = False  # zennit's first_map applies to the first conv/linear module
    nonnegative = False  # is the current activation known to be >= 0?
    fresh = False  # was the current activation created by the previous step (safe in place)?
    index = 0
    while index < len(sequence):
        name, module = sequence[index]
        following = sequence[index + 1][1] if index + 1 < len(sequence) else None
        if isinstance(module, nn.Conv2d):
            bn = following if isinstance(following, nn.BatchNorm2d) else None
            weight, bias = _merged_conv(module, bn, dtype)
            geometry = _ConvGeometry.of(module)
            rule = rules.first if (not seen_linear and rules.first) else rules.conv
            if rule == "flat":
                steps.append(_ConvFlat(geometry, weight, bias, stabilizer))
            elif rule == "zplus":
                steps.append(_ConvZPlus(geometry, weight, bias, stabilizer, nonnegative))
            elif rule == "alpha2_beta1" and nonnegative:
                steps.append(_ConvAlphaBeta(geometry, weight, bias, stabilizer, 2.0, 1.0))
            else:
                raise FastPathUnsupported(f"{name}: rule {rule!r} on possibly negative inputs")
            if bn is not None:
                steps.append(_CanonicalBatchNorm(bn, weight))
                index += 1
            seen_linear, nonnegative, fresh = True, False, True
        elif isinstance(module, nn.Linear):
            weight = module.weight.detach().to(dtype)
            bias = None if module.bias is None else module.bias.detach().to(dtype)
            if not seen_linear and rules.first == "flat":
                steps.append(_LinearFlat(weight, bias, stabilizer))
            else:
                steps.append(_LinearEpsilon(weight, bias, epsilon))
            seen_linear, nonnegative, fresh = True, False, True
        elif isinstance(module, nn.ReLU):
            steps.append(_ReLU(inplace=fresh))
            nonnegative = True
        elif isinstance(module, nn.MaxPool2d):
            steps.append(_MaxPool(module))
            fresh = True
        elif isinstance(module, nn.AdaptiveAvgPool2d | nn.AvgPool2d):
            steps.append(_AvgPoolNorm(module, stabilizer))
            fresh = True
        elif name == FLATTEN or isinstance(module, nn.Flatten):
            if isinstance(module, nn.Flatten) and (module.start_dim, module.end_dim) != (1, -1):
                raise FastPathUnsupported(f"{name}: {module} (only start_dim=1, end_dim=-1)")
            steps.append(_Flatten())
            fresh = False
        elif isinstance(module, nn.Dropout | nn.Identity):
            steps.append(_Identity())
        else:
            raise FastPathUnsupported(f"{name}: {type(module).__name__} has no fast LRP rule")
        index += 1
    return steps


def _signature(model: nn.Module, rules, params, dtype, device) -> tuple:
    """Changes whenever a parameter or buffer is replaced or modified in place.

    ``Tensor._version`` (private, counts in-place changes, e.g. ``load_state_dict``) is the
    one private API left here: the public alternatives, hashing every weight or rebuilding
    the plan per call, cost a large share of a call on VGG-16 (``benchmarks/relevance.py``);
    ``test_plan_cache_signal_tensor_version_counts_in_place_changes`` fails if it changes.
    """
    tensors = [*model.parameters(), *model.buffers()]
    state = tuple((t.data_ptr(), t._version) for t in tensors)
    return (rules, tuple(sorted(params.items())), dtype, str(device), state)


_PLANS: weakref.WeakKeyDictionary[nn.Module, dict[tuple, _Plan]] = weakref.WeakKeyDictionary()


def _plan(model: nn.Module, rules: FastRules, params: dict[str, float], dtype) -> list[_Step]:
    reference = next(model.parameters())
    key = (rules, tuple(sorted(params.items())), dtype)
    signature = _signature(model, rules, params, dtype, reference.device)
    plans = _PLANS.setdefault(model, {})
    cached = plans.get(key)
    if cached is None or cached.signature != signature:
        with torch.no_grad():
            cached = _Plan(_compile(model, rules, params, dtype), signature)
        plans[key] = cached
    return cached.steps


def check_fast_path(
    model: nn.Module,
    rules: FastRules | None,
    params: dict[str, float],
    dtype: torch.dtype | None = None,
) -> str | None:
    """None if the fast path applies to `model` with `rules`, else the reason it does not.

    Builds (and caches) the plan that `fast_lrp` with the same arguments then uses.
    """
    if rules is None:
        return "the method has no fast-path rules"
    try:
        _plan(model, rules, params, dtype or next(model.parameters()).dtype)
    except FastPathUnsupported as exc:
        return str(exc)
    return None


def fast_lrp(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor | None,
    rules: FastRules,
    params: dict[str, float],
    dtype: torch.dtype | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits, targets used, and per-channel input relevance (same shape as `inputs`).

    `targets`: class indices (N,), or None for the predicted class. Computation runs in
    `dtype` (default: the model's); relevance comes back in float64 for float64 and in
    float32 otherwise.
    """
    dtype = dtype or next(model.parameters()).dtype
    steps = _plan(model, rules, params, dtype)
    rescale = dtype == torch.float16
    with torch.inference_mode():
        activation = inputs.to(dtype).contiguous()
        saved = []
        for step in steps:
            activation, keep = step.forward(activation)
            saved.append(keep)
        logits = activation
        chosen = logits.argmax(1) if targets is None else targets.to(logits.device)
        relevance = torch.zeros_like(logits)
        relevance[torch.arange(len(logits), device=logits.device), chosen] = 1
        exponents = torch.zeros(len(logits), device=logits.device)
        for step, keep in zip(reversed(steps), reversed(saved), strict=True):
            relevance = step.backward(relevance, keep)
            if rescale:
                relevance, exponents = _renormalised(relevance, exponents)
        if dtype != torch.float64:
            relevance = relevance.float()
        if rescale:
            relevance = relevance * torch.exp2(exponents).view(-1, *[1] * (relevance.ndim - 1))
    return logits, chosen, relevance


def _renormalised(
    relevance: torch.Tensor, exponents: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image's relevance times 2**-e, e = floor(log2(peak)), so its peak is in [1, 2);
    the exponents are accumulated. Scaling happens in float32, then back to the dtype."""
    peak = relevance.abs().flatten(1).amax(1).float()
    shift = torch.where(peak > 0, torch.floor(torch.log2(peak)), torch.zeros_like(peak))
    factor = torch.exp2(-shift).view(-1, *[1] * (relevance.ndim - 1))
    return (relevance.float() * factor).to(relevance.dtype), exponents + shift
