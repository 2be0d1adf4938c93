"""objectgen: generated non-face object classes, an "ImageNet analogue" that needs no download.

Each class is a shape with a surface texture and a typical colour (8 shapes x 3 textures = 24
classes); every image shows one object in a random pose (rotation, size, position) and colour
variation on a graded background, at the same image size as the generated faces. Pure numpy +
Pillow (no torch, no Django). Typical use::

    from objectgen import make_dataset, write_dataset
    samples = make_dataset(images_per_class=8, size=128, seed=0)
    write_dataset("objects", images_per_class=8)

or from the shell: ``python -m objectgen OUTDIR --per-class 8``.
"""

from objectgen.classes import CLASSES, SHAPES, TEXTURES, ObjectClass
from objectgen.dataset import ObjectSample, make_dataset, write_dataset
from objectgen.render import ObjectView, render_object, sample_view

__all__ = [
    "CLASSES",
    "SHAPES",
    "TEXTURES",
    "ObjectClass",
    "ObjectSample",
    "ObjectView",
    "make_dataset",
    "render_object",
    "sample_view",
    "write_dataset",
]
