"""Directional lighting: a smooth Lambertian shading field over the head.

The head is approximated by an ellipsoid slightly larger than the face outline; its surface
normal at each pixel is lit by a distant light (azimuth/elevation of the view). The normal is
continuous everywhere (clamped to the silhouette outside the ellipse), so the field can be
applied at the final resolution without creating aliased edges.
"""

from __future__ import annotations

import math

import numpy as np

from facegen.features import FACE_CENTER_Y
from facegen.geometry import view_matrix
from facegen.params import FaceParams, ViewParams

AMBIENT = 0.55
DIFFUSE = 0.5


def light_direction(view: ViewParams) -> np.ndarray:
    """Unit vector towards the light in image coordinates (x right, y down, z to the viewer)."""
    azimuth, elevation = math.radians(view.light_azimuth), math.radians(view.light_elevation)
    return np.array(
        [
            math.sin(azimuth) * math.cos(elevation),
            -math.sin(elevation),
            math.cos(azimuth) * math.cos(elevation),
        ]
    )


def shading(face: FaceParams, view: ViewParams, size: int) -> np.ndarray:
    """Multiplicative shading factor (size x size) of the head under the view's light."""
    centers = (np.arange(size) + 0.5) / size - 0.5
    px, py = np.meshgrid(centers, centers)
    linear, offset = view_matrix(view)
    image_points = np.stack([px - offset[0], py - offset[1]], axis=-1)
    face_points = image_points @ np.linalg.inv(linear).T
    u = face_points[..., 0] / (1.1 * face.face_width)
    v = (face_points[..., 1] - FACE_CENTER_Y + 0.05 * face.face_height) / (1.1 * face.face_height)
    nz = np.sqrt(np.clip(1.0 - u**2 - v**2, 0.0, 1.0))
    normal = np.stack([u, v, nz], axis=-1)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    # Normals turn with the head: rotate their image-plane part like the face (scale removed).
    rotation = linear / view.scale
    normal[..., :2] = normal[..., :2] @ rotation.T
    lambert = np.clip(normal @ light_direction(view), 0.0, 1.0)
    return AMBIENT + DIFFUSE * lambert
