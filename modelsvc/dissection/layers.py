"""Which layers of a model can be dissected: those whose outputs are maps (N, C, h, w) with
more than one position (a 1 x 1 output, e.g. a global average pool, has no location).

The output shapes come from one forward pass of the architecture on PyTorch's "meta" device
(shapes only: no weights are read or allocated, a VGG-16 takes about 0.05 s), so a job form
can check the layers before a job exists.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from modelsvc.architectures import get_architecture, get_module
from modelsvc.spec import ModelSpec


def layer_output_shapes(spec: ModelSpec, layers: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """The output shape of each named layer for one image at the spec's input size."""
    with torch.device("meta"):
        network = get_architecture(spec.architecture).build(spec.num_classes).eval()
    shapes: dict[str, tuple[int, ...]] = {}

    def recorder(name: str):
        def record(_module, _inputs, output: torch.Tensor) -> None:
            shapes.setdefault(name, tuple(output.shape))

        return record

    handles = []
    for name in layers:
        try:
            module = get_module(network, name)
        except ValueError as error:
            raise ValueError(
                f"Layer {name!r} is not a layer of the {spec.architecture} architecture."
            ) from error
        handles.append(module.register_forward_hook(recorder(name)))
    try:
        with torch.no_grad():
            network(torch.empty(1, 3, *spec.input_size, device="meta"))
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def dissection_layers(spec: ModelSpec, layers: Sequence[str] | None = None) -> list[str]:
    """`layers` checked to give maps; without them, the spec's layers of interest (else the
    architecture's) that do.

    A fully connected layer, a name the architecture lacks, or a model none of whose layers
    of interest gives maps is a ValueError that says which."""
    chosen = list(layers or spec.layers or get_architecture(spec.architecture).layers)
    shapes = layer_output_shapes(spec, chosen)
    maps = [name for name in chosen if _is_map(shapes.get(name, ()))]
    if layers:
        flat = {name: shapes.get(name) for name in chosen if name not in maps}
        if flat:
            raise ValueError(
                f"Dissection needs convolutional layers (outputs (N, C, h, w), h x w > 1); "
                f"{spec.architecture} layers {flat} are not."
            )
    elif not maps:
        raise ValueError(
            f"None of the model's layers of interest {chosen} gives maps (N, C, h, w), h x w > 1; "
            "name convolutional layers in 'layers'."
        )
    return maps


def _is_map(shape: tuple[int, ...]) -> bool:
    return len(shape) == 4 and shape[2] * shape[3] > 1
