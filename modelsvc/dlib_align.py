"""Aligned face chips as dlib makes them (``get_face_chip_details`` + ``extract_image_chip``).

From dlib's 5 landmarks (`modelsvc.dlib_landmarks`), the least-squares similarity transform
(Umeyama) maps dlib's canonical 5-point template, padded by ``padding`` on every side and scaled
to ``size``, onto the image; the chip is then sampled with bilinear interpolation (dlib truncates
the interpolated value to an integer; samples whose 2x2 neighbourhood leaves the image are 0).
This is dlib 19.24's path for chips that are not much smaller than the face in the image; a face
more than about twice the chip size needs dlib's image pyramid, which is not implemented here:
`extract_face_chip` raises instead (downscale the photo first).
"""

from __future__ import annotations

import math

import numpy as np

#: dlib's canonical positions of its 5 landmarks (eye corners, nose) in a unit face box.
FIVE_POINT_TEMPLATE = np.array(
    [
        (0.8595674595992, 0.2134981538014),
        (0.6460604764104, 0.2289674387677),
        (0.1205750620789, 0.2137274526848),
        (0.3340850613712, 0.2290642403242),
        (0.4901123135679, 0.6277975316475),
    ]
)


def similarity_transform(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(2x2 matrix, translation) of the least-squares similarity map source -> target (Umeyama)."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    mean_s, mean_t = source.mean(0), target.mean(0)
    sigma_s = ((source - mean_s) ** 2).sum(1).mean()
    cov = (target - mean_t).T @ (source - mean_s) / len(source)
    u, d, vt = np.linalg.svd(cov)
    s = np.ones(2)
    det = np.linalg.det(cov)
    if det < 0 or (det == 0 and np.linalg.det(u) * np.linalg.det(vt) < 0):
        s[1 if d[1] < d[0] else 0] = -1
    scale = (d * s).sum() / sigma_s if sigma_s != 0 else 1.0
    matrix = scale * (u @ np.diag(s) @ vt)
    return matrix, mean_t - matrix @ mean_s


def face_chip_box(
    landmarks: np.ndarray, *, size: int = 150, padding: float = 0.25
) -> tuple[float, tuple[float, float, float, float]]:
    """dlib's chip rectangle for 5 landmarks: (angle, (left, top, right, bottom)) in the image."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.shape != (5, 2):
        raise ValueError(
            f"The 'landmarks' parameter of face_chip_box must be dlib's 5 points (5, 2); "
            f"got shape {landmarks.shape}."
        )
    chip_points = (padding + FIVE_POINT_TEMPLATE) / (2 * padding + 1) * size
    matrix, shift = similarity_transform(chip_points, landmarks)
    axis = matrix @ np.array([1.0, 0.0])
    angle, scale = math.atan2(axis[1], axis[0]), math.hypot(axis[0], axis[1])
    cx, cy = matrix @ np.array([size / 2, size / 2]) + shift
    half = (size * scale - 1) / 2
    return angle, (cx - half, cy - half, cx + half, cy + half)


def _rotate(center: np.ndarray, points: np.ndarray, angle: float) -> np.ndarray:
    cos, sin = math.cos(angle), math.sin(angle)
    rotation = np.array([[cos, -sin], [sin, cos]])
    return (points - center) @ rotation.T + center


def _chip_corners(landmarks: np.ndarray, size: int, padding: float) -> np.ndarray:
    """The chip's corners (top-left, top-right, bottom-left, bottom-right) in the image."""
    angle, (left, top, right, bottom) = face_chip_box(landmarks, size=size, padding=padding)
    down_width, down_height = (right - left) / 2 + 1, (bottom - top) / 2 + 1
    if down_width * down_height > size * size:
        raise ValueError(
            f"The face is more than twice the chip size ({right - left + 1:.0f} px for a "
            f"{size} px chip); dlib's image-pyramid path is not implemented: downscale first."
        )
    center = np.array([(left + right) / 2, (top + bottom) / 2])
    corners = np.array([[left, top], [right, top], [left, bottom], [right, bottom]])
    return _rotate(center, corners, angle)


def chip_to_image(
    landmarks: np.ndarray, *, size: int = 150, padding: float = 0.25
) -> tuple[np.ndarray, np.ndarray]:
    """(origin, 2x2 matrix): chip pixel (x, y) is sampled at ``origin + matrix @ (x, y)``."""
    corners = _chip_corners(np.asarray(landmarks, dtype=np.float64), size, padding)
    steps = np.stack([corners[1] - corners[0], corners[2] - corners[0]], axis=1) / (size - 1)
    return corners[0], steps


def image_to_chip(
    points: np.ndarray, landmarks: np.ndarray, *, size: int = 150, padding: float = 0.25
) -> np.ndarray:
    """Image points (N, 2) in the pixel coordinates of the chip of `landmarks`."""
    origin, matrix = chip_to_image(landmarks, size=size, padding=padding)
    return (np.asarray(points, dtype=np.float64) - origin) @ np.linalg.inv(matrix).T


def extract_face_chip(
    image: np.ndarray, landmarks: np.ndarray, *, size: int = 150, padding: float = 0.25
) -> np.ndarray:
    """The aligned ``size`` x ``size`` chip (uint8, grey (H, W) or RGB (H, W, 3)) of one face."""
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(
            f"The 'image' parameter of extract_face_chip must be a uint8 (H, W) or (H, W, 3) "
            f"array; got {image.dtype} {image.shape}."
        )
    rotated = _chip_corners(landmarks, size, padding)
    height, width = image.shape[:2]
    grown = np.concatenate([rotated.min(0) - 2, rotated.max(0) + 2])
    grown = np.clip(grown, 0, [width - 1, height - 1, width - 1, height - 1])
    box = np.floor(grown + 0.5).astype(np.int64)  # dlib's rectangle from a drectangle
    sub = image[box[1] : box[3] + 1, box[0] : box[2] + 1].astype(np.float64)
    # chip corners (0,0), (size-1,0), (0,size-1) -> the rotated rectangle, in sub-image pixels
    targets = rotated[[0, 1, 2]] - box[:2]
    steps = np.stack(
        [(targets[1] - targets[0]) / (size - 1), (targets[2] - targets[0]) / (size - 1)]
    )
    cols, rows = np.meshgrid(np.arange(size), np.arange(size))
    points = targets[0] + cols[..., None] * steps[0] + rows[..., None] * steps[1]
    x0, y0 = np.floor(points[..., 0]).astype(np.int64), np.floor(points[..., 1]).astype(np.int64)
    inside = (x0 >= 0) & (y0 >= 0) & (x0 + 1 < sub.shape[1]) & (y0 + 1 < sub.shape[0])
    x0, y0 = np.where(inside, x0, 0), np.where(inside, y0, 0)
    fx, fy = points[..., 0] - x0, points[..., 1] - y0
    if sub.ndim == 3:
        fx, fy, inside = fx[..., None], fy[..., None], inside[..., None]
    value = (1 - fy) * ((1 - fx) * sub[y0, x0] + fx * sub[y0, x0 + 1]) + fy * (
        (1 - fx) * sub[y0 + 1, x0] + fx * sub[y0 + 1, x0 + 1]
    )
    return np.where(inside, value, 0).astype(np.uint8)  # truncation, as dlib's cast
