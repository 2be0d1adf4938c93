"""The object classes: every shape with every texture, each with its own typical hue."""

from __future__ import annotations

from dataclasses import dataclass

SHAPES: tuple[str, ...] = (
    "circle", "triangle", "square", "hexagon", "star", "ring", "cross", "crescent",
)  # fmt: skip
TEXTURES: tuple[str, ...] = ("stripes", "checks", "dots")
GOLDEN = 0.618033988749895  # hue step: neighbouring classes get well separated hues


@dataclass(frozen=True)
class ObjectClass:
    """A class: its shape, texture and typical hue (0-1; images vary around it)."""

    shape: str
    texture: str
    hue: float

    @property
    def name(self) -> str:
        return f"{self.shape}-{self.texture}"


CLASSES: tuple[ObjectClass, ...] = tuple(
    ObjectClass(shape, texture, (index * GOLDEN) % 1.0)
    for index, (shape, texture) in enumerate((s, t) for s in SHAPES for t in TEXTURES)
)
"""All 24 classes, shape-major order."""
