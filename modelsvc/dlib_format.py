"""A reader of dlib's binary serialisation for its `dnn` networks (pure Python + numpy).

dlib writes a network as nested objects: the loss layer first (its version and details), then
its sub-network, where every ``add_layer`` writes its version, then its sub-network, then its
own layer details and state. In file order that is: the headers of all wrapping layers from
the output down to the input, the first layer together with the input layer, and then the
bodies of the layers from the input up. `read_network` walks that order for a given list of
layer kinds (input to output) and checks every version string and hyper-parameter on the way.

Primitive encodings (dlib/serialize.h, dlib/cuda/tensor.h):
- integers: a control byte (bit 7: negative; low 4 bits: byte count) then little-endian bytes;
- floats: dlib's portable format, integer mantissa then integer exponent (m * 2**e);
- bools: the ASCII byte '1' or '0'; strings: length, then the bytes;
- tensors: version 2, four dimensions (num_samples, k, nr, nc), then raw little-endian float32;
  alias tensors (views into a layer's parameter tensor): version 1 and four dimensions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: Layer kinds `read_network` understands, with the versions of `add_layer` around them.
LAYER_KINDS = ("con", "affine", "relu", "max_pool", "avg_pool", "add_prev", "fc", "tag", "skip")
_SPECIAL_EXPONENTS = {32000: math.inf, 32001: -math.inf, 32002: math.nan}


class DlibFormatError(ValueError):
    """The bytes are not the dlib network the caller described; says where and what."""


@dataclass
class DlibLayer:
    """One computational layer read from the file: its kind, hyper-parameters and arrays."""

    kind: str
    config: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class DlibNetwork:
    """The input layer's settings, the layers from input to output (no tags/skips), the loss."""

    input: dict[str, Any]
    layers: list[DlibLayer]
    loss: dict[str, Any]


class DlibReader:
    """Sequential decoding of dlib's primitive encodings from bytes."""

    def __init__(self, data: bytes, source: str) -> None:
        self.data = data
        self.pos = 0
        self.source = source

    def fail(self, message: str) -> DlibFormatError:
        return DlibFormatError(f"{self.source} at byte {self.pos}: {message}")

    def take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise self.fail(f"the file ends early (needed {count} more bytes)")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def integer(self) -> int:
        control = self.take(1)[0]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            self.pos -= 1
            raise self.fail(f"bad integer control byte 0x{control:02x}")
        value = int.from_bytes(self.take(size), "little")
        return -value if control & 0x80 else value

    def real(self) -> float:
        if self.data[self.pos : self.pos + 1] and self.data[self.pos] & 0x70:
            raise self.fail("a float in dlib's old ASCII format (not supported)")
        mantissa, exponent = self.integer(), self.integer()
        if exponent in _SPECIAL_EXPONENTS:
            return _SPECIAL_EXPONENTS[exponent]
        return math.ldexp(mantissa, exponent)

    def boolean(self) -> bool:
        byte = self.take(1)
        if byte not in (b"0", b"1"):
            self.pos -= 1
            raise self.fail(f"bad bool byte {byte!r}")
        return byte == b"1"

    def string(self) -> str:
        return self.take(self.integer()).decode("latin-1")

    def version(self, allowed: Sequence[str], what: str) -> str:
        start = self.pos
        value = self.string()
        if value not in allowed:
            self.pos = start
            raise self.fail(f"expected {what} version {list(allowed)}; got {value!r}")
        return value

    def int_version(self, allowed: range, what: str) -> int:
        value = self.integer()
        if value not in allowed:
            raise self.fail(f"expected {what} version in {list(allowed)}; got {value}")
        return value

    def dims(self) -> tuple[int, int, int, int]:
        return tuple(self.integer() for _ in range(4))  # type: ignore[return-value]

    def tensor(self) -> np.ndarray:
        self.int_version(range(2, 3), "tensor")
        shape = self.dims()
        count = math.prod(shape)
        raw = self.take(4 * count)
        return np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float32)

    def alias(self) -> tuple[int, int, int, int]:
        self.int_version(range(1, 2), "alias_tensor")
        return self.dims()


def _con(reader: DlibReader) -> DlibLayer:
    version = reader.version(("con_4", "con_5"), "con_")
    params = reader.tensor()
    filters = reader.integer()
    nr, nc, stride_y, stride_x, pad_y, pad_x = (reader.integer() for _ in range(6))
    weight_shape, bias_shape = reader.alias(), reader.alias()
    for _ in range(4):  # learning-rate and weight-decay multipliers
        reader.real()
    use_bias = reader.boolean() if version == "con_5" else True
    flat = params.reshape(-1)
    weight_size = math.prod(weight_shape)
    if weight_shape != (filters, weight_shape[1], nr, nc) or flat.size < weight_size:
        raise reader.fail(f"con_ filters {weight_shape} do not fit {filters} {nr}x{nc} filters")
    arrays = {"weight": flat[:weight_size].reshape(weight_shape)}
    if use_bias:
        arrays["bias"] = flat[weight_size : weight_size + math.prod(bias_shape)].copy()
    config = {"filters": filters, "kernel": (nr, nc), "stride": (stride_y, stride_x)}
    return DlibLayer("con", {**config, "padding": (pad_y, pad_x)}, arrays)


def _batch_norm_as_affine(reader: DlibReader) -> DlibLayer:
    """A saved ``bn_con`` layer, folded into an affine layer as dlib's ``affine_(bn_)`` does
    (float32: ``gamma / sqrt(running_var + eps)`` and ``beta - scale * running_mean``)."""
    params = reader.tensor().reshape(-1)
    gamma, beta = reader.alias(), reader.alias()
    reader.tensor()  # means and inverse standard deviations of the last training batch
    reader.tensor()
    running_mean, running_var = reader.tensor().reshape(-1), reader.tensor().reshape(-1)
    reader.integer()  # number of updates
    reader.integer()  # running-statistics window
    for _ in range(4):  # learning-rate and weight-decay multipliers
        reader.real()
    eps = np.float32(reader.real())
    size = math.prod(gamma)
    scale = params[:size] / np.sqrt(running_var + eps)
    shift = params[size : size + math.prod(beta)] - scale * running_mean
    return DlibLayer("affine", {"mode": 1, "from": "bn_con2"}, {"gamma": scale, "beta": shift})


def _affine(reader: DlibReader) -> DlibLayer:
    version = reader.version(("affine_", "affine_2", "bn_con2"), "affine_")
    if version == "bn_con2":
        return _batch_norm_as_affine(reader)
    params = reader.tensor().reshape(-1)
    gamma, beta = reader.alias(), reader.alias()
    mode = reader.integer()
    disabled = reader.boolean() if version == "affine_2" else False
    if disabled:
        raise reader.fail("a disabled affine_ layer (not supported)")
    size = math.prod(gamma)
    arrays = {"gamma": params[:size].copy(), "beta": params[size : size + math.prod(beta)].copy()}
    return DlibLayer("affine", {"mode": mode}, arrays)


def _pool(kind: str):
    def read(reader: DlibReader) -> DlibLayer:
        reader.version((f"{kind}_2",), f"{kind}_")
        nr, nc, stride_y, stride_x, pad_y, pad_x = (reader.integer() for _ in range(6))
        config = {"kernel": (nr, nc), "stride": (stride_y, stride_x), "padding": (pad_y, pad_x)}
        return DlibLayer(kind, config)

    return read


def _fc(reader: DlibReader) -> DlibLayer:
    version = reader.version(("fc_2", "fc_3"), "fc_")
    outputs, inputs = reader.integer(), reader.integer()
    params = reader.tensor().reshape(-1)
    reader.alias()
    reader.alias()
    bias_mode = reader.integer()
    for _ in range(4):
        reader.real()
    use_bias = reader.boolean() if version == "fc_3" else True
    has_bias = bias_mode == 0 and use_bias  # FC_HAS_BIAS == 0 in dlib
    weight = params[: inputs * outputs].reshape(inputs, outputs)
    arrays = {"weight": weight.T.copy()}
    if has_bias:
        arrays["bias"] = params[inputs * outputs : (inputs + 1) * outputs].copy()
    return DlibLayer("fc", {"inputs": inputs, "outputs": outputs}, arrays)


def _plain(kind: str):
    def read(reader: DlibReader) -> DlibLayer:
        reader.version((f"{kind}_",), f"{kind}_")
        return DlibLayer(kind)

    return read


_DETAILS = {
    "con": _con,
    "affine": _affine,
    "relu": _plain("relu"),
    "add_prev": _plain("add_prev"),
    "max_pool": _pool("max_pool"),
    "avg_pool": _pool("avg_pool"),
    "fc": _fc,
}


def _input_rgb_image_sized(reader: DlibReader) -> dict[str, Any]:
    reader.version(("input_rgb_image_sized",), "input layer")
    mean = tuple(reader.real() for _ in range(3))
    return {"mean_rgb": mean, "size": (reader.integer(), reader.integer())}


def _loss_metric(reader: DlibReader) -> dict[str, Any]:
    version = reader.version(("loss_metric_", "loss_metric_2"), "loss_metric_")
    if version == "loss_metric_":
        return {"margin": 0.1, "distance_threshold": 0.75}
    return {"margin": reader.real(), "distance_threshold": reader.real()}


def _layer_state(reader: DlibReader, *, version: int, first: bool) -> None:
    """The training state every add_layer writes after its details (ignored for inference)."""
    for _ in range(3):
        reader.boolean()
    reader.tensor()  # x_grad
    reader.tensor()  # cached_output
    if first or version >= 2:
        reader.tensor()  # grad_final (first layer) or params_grad
    if first and version >= 3:
        reader.integer()  # sample expansion factor


def read_network(
    path: str | Path,
    kinds: Sequence[str],
    *,
    read_input: Callable[[DlibReader], dict[str, Any]] = _input_rgb_image_sized,
    read_loss: Callable[[DlibReader], dict[str, Any]] = _loss_metric,
) -> DlibNetwork:
    """Read a dlib network from `path`: by default ``loss_metric`` over ``input_rgb_image_sized``;
    `read_input` and `read_loss` read other input and loss layers (their version and details).

    `kinds` lists the layers from the input to the output (``con``, ``affine``, ``relu``,
    ``max_pool``, ``avg_pool``, ``add_prev``, ``fc``, and the structural ``tag``/``skip``).
    Every version string and the exact end of the file are checked; a mismatch raises
    `DlibFormatError` with the byte offset.
    """
    unknown = sorted(set(kinds) - set(LAYER_KINDS))
    if unknown or not kinds or kinds[0] in ("tag", "skip"):
        raise ValueError(
            f"The 'kinds' parameter of read_network must start with a computational layer and "
            f"use only {list(LAYER_KINDS)}; got {list(kinds)}."
        )
    path = Path(path)
    reader = DlibReader(path.read_bytes(), str(path))
    reader.int_version(range(1, 2), "add_loss_layer")
    loss = read_loss(reader)
    versions = [  # headers, from the output down
        reader.int_version(range(1, 2) if kind in ("tag", "skip") else range(1, 3), kind)
        for kind in reversed(kinds[1:])
    ]
    first_version = reader.int_version(range(2, 4), "add_layer over the input")
    network_input = read_input(reader)
    layers = [_DETAILS[kinds[0]](reader)]
    _layer_state(reader, version=first_version, first=True)
    for kind, version in zip(kinds[1:], reversed(versions), strict=True):  # bodies, input up
        if kind in ("tag", "skip"):
            continue
        layers.append(_DETAILS[kind](reader))
        _layer_state(reader, version=version, first=False)
    if reader.pos != len(reader.data):
        raise reader.fail(f"{len(reader.data) - reader.pos} bytes left after the network")
    return DlibNetwork(network_input, layers, loss)
