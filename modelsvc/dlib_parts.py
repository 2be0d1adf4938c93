"""Part label maps of real photos from dlib's 68 landmarks, in the platform's mask format.

A label map is a uint8 (H, W) array indexing `LANDMARK_PART_NAMES` (0 = background), like
`facegen`'s part maps (saved as ``masks/<name>.png`` with the names in ``parts.json``). Parts
are polygons through the iBUG 300-W landmark indices, drawn with Pillow in this order, later
parts over earlier ones: skin (jaw line closed over the brows), brows (a band as thick as a
fifth of the eye distance), eyes, nose (bridge top and nostril base), mouth (outer lip line).
Left/right are the face's own sides (the subject's left eye is on the image's right). Hair and
glasses are not estimable from landmarks and are absent. The 68-point predictor is trained on
iBUG 300-W (non-commercial research only), and so are these maps by extension.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

#: Where part masks are derived from landmarks, say so (import page, README, stimulus record).
PART_MASK_LICENCE = (
    "Part masks come from dlib's 68-point landmark model, trained on iBUG 300-W, whose images "
    "are licensed for non-commercial research only: use the masks for non-commercial research."
)
LANDMARK_PART_NAMES: tuple[str, ...] = (
    "background", "skin", "left_eye", "right_eye", "left_brow", "right_brow", "nose", "mouth",
)  # fmt: skip
_POLYGONS = {  # iBUG 300-W indices; 36-41 / 17-21 are the subject's right eye / brow
    "skin": [*range(0, 17), *range(26, 16, -1)],
    "right_eye": list(range(36, 42)),
    "left_eye": list(range(42, 48)),
    "nose": [27, 31, 32, 33, 34, 35],
    "mouth": list(range(48, 60)),
}
_BROWS = {"right_brow": list(range(17, 22)), "left_brow": list(range(22, 27))}


def part_label_map(landmarks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The (H, W) uint8 label map of one face from its 68 landmarks (x, y) in an H x W image."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.shape != (68, 2):
        raise ValueError(
            f"The 'landmarks' parameter of part_label_map must be the 68 dlib points (68, 2); "
            f"got shape {landmarks.shape}."
        )
    height, width = size
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    label = {name: index for index, name in enumerate(LANDMARK_PART_NAMES)}
    points = [tuple(point) for point in landmarks]
    draw.polygon([points[i] for i in _POLYGONS["skin"]], fill=label["skin"])
    eye_distance = np.linalg.norm(landmarks[36:42].mean(0) - landmarks[42:48].mean(0))
    thickness = max(1, round(eye_distance / 5))
    for name, indices in _BROWS.items():
        draw.line([points[i] for i in indices], fill=label[name], width=thickness, joint="curve")
    for name in ("right_eye", "left_eye", "nose", "mouth"):
        draw.polygon([points[i] for i in _POLYGONS[name]], fill=label[name])
    return np.asarray(canvas, dtype=np.uint8)
