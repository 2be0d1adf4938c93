"""facegen: a small parametric face renderer for demo stimuli with exactly known labels and parts.

Pure numpy + Pillow (no torch, no Django). Typical use::

    from facegen import make_dataset, write_dataset
    samples = make_dataset(n_identities=12, images_per_identity=4, size=128, seed=0)
    write_dataset("demo_faces", n_identities=12, seed=0)

or from the shell: ``python -m facegen OUTDIR --identities 12 --per-identity 4``.
"""

from facegen.dataset import FaceSample, make_dataset, write_dataset
from facegen.params import HAIR_STYLES, FaceParams, ViewParams
from facegen.render import PART_NAMES, RenderedFace, render_face
from facegen.sampling import GENDERS, sample_identity, sample_view

__all__ = [
    "GENDERS",
    "HAIR_STYLES",
    "PART_NAMES",
    "FaceParams",
    "FaceSample",
    "RenderedFace",
    "ViewParams",
    "make_dataset",
    "render_face",
    "sample_identity",
    "sample_view",
    "write_dataset",
]
