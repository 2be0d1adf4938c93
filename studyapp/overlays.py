"""Relevance maps drawn over their image: red where relevance is positive, blue negative."""

import io

import numpy as np
from matplotlib import colormaps
from PIL import Image


def relevance_overlay_png(
    image: Image.Image, relevance: np.ndarray, *, alpha: float = 0.6
) -> bytes:
    """PNG bytes: the image in grey at the map's size, the map in ``bwr`` on top.

    The colour scale is symmetric around zero and set by the map's largest magnitude, so
    each overlay shows where its own model put relevance (not magnitudes across images).
    """
    height, width = relevance.shape
    grey = (
        np.asarray(image.convert("L").resize((width, height), Image.BILINEAR), dtype=np.float32)
        / 255
    )
    scale = float(np.abs(relevance).max()) or 1.0
    colours = colormaps["bwr"]((relevance / scale + 1) / 2)[..., :3]
    weight = alpha * np.clip(np.abs(relevance) / scale * 3, 0, 1)[..., None]
    blended = (1 - weight) * grey[..., None] + weight * colours
    buffer = io.BytesIO()
    Image.fromarray((blended * 255).round().astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()
