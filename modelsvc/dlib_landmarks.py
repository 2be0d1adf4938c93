"""dlib's face landmark predictors (``shape_predictor_68_face_landmarks.dat`` and the 5-point
one): the regression-tree cascade of Kazemi & Sullivan (2014) read from dlib's file and run in
numpy, on a grayscale image and a face box.

Inference as in dlib 19.24 (``dlib/image_processing/shape_predictor.h``): the shape starts at
the mean shape in box-normalised coordinates; each cascade reads its feature pixels (stored as
an anchor landmark plus an offset), moved by the similarity transform from the mean shape to
the current one and mapped into the box (rounded to the nearest pixel; 0 outside the image);
each tree compares two feature pixels per split (``a - b > threshold`` goes left) and adds its
leaf's shape update. Landmarks are returned in image pixels, rounded as dlib rounds them.

The 68-point model is trained on iBUG 300-W, whose images are licensed for non-commercial
research only: results from it inherit that restriction.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modelsvc.dlib_align import similarity_transform
from modelsvc.dlib_format import DlibFormatError, DlibReader
from modelsvc.dlib_resnet import cache_dir


@dataclass(frozen=True)
class ShapePredictor:
    """The arrays of a dlib shape predictor (P landmarks, C cascades, T trees, S splits)."""

    initial_shape: np.ndarray  # (P, 2) float32, box-normalised
    split_a: np.ndarray  # (C, T, S) feature index
    split_b: np.ndarray  # (C, T, S)
    thresholds: np.ndarray  # (C, T, S) float32
    leaves: np.ndarray  # (C, T, S + 1, P, 2) float32
    anchors: np.ndarray  # (C, F) landmark index of each feature pixel
    deltas: np.ndarray  # (C, F, 2) float32 offsets from the anchor

    @property
    def num_parts(self) -> int:
        return len(self.initial_shape)


def _column(reader: DlibReader) -> np.ndarray:
    rows, cols = -reader.integer(), -reader.integer()
    if cols != 1 or rows < 0:
        raise reader.fail(f"expected a column vector; got {rows}x{cols}")
    return np.array([reader.real() for _ in range(rows)], dtype=np.float32)


def read_shape_predictor(path: str | Path) -> ShapePredictor:
    """Read a dlib ``shape_predictor`` file (version 1); `DlibFormatError` names the offset."""
    path = Path(path)
    reader = DlibReader(path.read_bytes(), str(path))
    reader.int_version(range(1, 2), "shape_predictor")
    initial = _column(reader)
    split_a, split_b, thresholds, leaves = [], [], [], []
    for _ in range(reader.integer()):  # cascades
        cascade = []
        for _ in range(reader.integer()):  # trees
            splits = [
                (reader.integer(), reader.integer(), reader.real()) for _ in range(reader.integer())
            ]
            tree_leaves = [_column(reader) for _ in range(reader.integer())]
            if len(tree_leaves) != len(splits) + 1:
                raise reader.fail(f"a tree with {len(splits)} splits has {len(tree_leaves)} leaves")
            cascade.append((splits, tree_leaves))
        split_a.append([[s[0] for s in splits] for splits, _ in cascade])
        split_b.append([[s[1] for s in splits] for splits, _ in cascade])
        thresholds.append([[s[2] for s in splits] for splits, _ in cascade])
        leaves.append([np.stack(tree) for _, tree in cascade])
    anchors = [[reader.integer() for _ in range(reader.integer())] for _ in range(reader.integer())]
    deltas = [
        [(reader.real(), reader.real()) for _ in range(reader.integer())]
        for _ in range(reader.integer())
    ]
    if reader.pos != len(reader.data):
        raise reader.fail(f"{len(reader.data) - reader.pos} bytes left after the predictor")
    parts = len(initial) // 2
    try:
        return ShapePredictor(
            initial_shape=initial.reshape(parts, 2),
            split_a=np.array(split_a, dtype=np.int64),
            split_b=np.array(split_b, dtype=np.int64),
            thresholds=np.array(thresholds, dtype=np.float32),
            leaves=np.array(leaves, dtype=np.float32).reshape(
                len(leaves), -1, len(leaves[0][0]), parts, 2
            ),
            anchors=np.array(anchors, dtype=np.int64),
            deltas=np.array(deltas, dtype=np.float32),
        )
    except ValueError as exc:  # ragged cascades
        raise DlibFormatError(f"{path}: cascades of unequal size ({exc})") from exc


def load_shape_predictor(path: str | Path) -> ShapePredictor:
    """`read_shape_predictor` once per file content, then from a cached ``.npz``."""
    path = Path(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    cached = cache_dir() / f"dlib_shape_predictor-v1-{digest[:32]}.npz"
    if cached.is_file():
        with np.load(cached) as data:
            return ShapePredictor(**{key: data[key] for key in data.files})
    predictor = read_shape_predictor(path)
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f"{cached.stem}.{os.getpid()}.tmp.npz")
    np.savez(partial, **predictor.__dict__)
    partial.replace(cached)
    return predictor


def predict_landmarks(
    predictor: ShapePredictor, image: np.ndarray, box: tuple[int, int, int, int]
) -> np.ndarray:
    """Landmarks (P, 2) as integer (x, y) pixels for a grayscale uint8 `image` (H, W).

    `box` is dlib's rectangle (left, top, right, bottom), inclusive.
    """
    if image.ndim != 2 or image.dtype != np.uint8:
        raise ValueError(
            f"The 'image' parameter of predict_landmarks must be a grayscale uint8 (H, W) "
            f"array; got {image.dtype} {image.shape}."
        )
    left, top, right, bottom = box
    origin = np.array([left, top], dtype=np.float64)
    extent = np.array([right - left, bottom - top], dtype=np.float64)
    height, width = image.shape
    pixels = image.astype(np.float32)
    shape = predictor.initial_shape.copy()
    trees = np.arange(predictor.split_a.shape[1])
    depth = int(np.log2(predictor.split_a.shape[2] + 1))
    for cascade in range(len(predictor.split_a)):
        linear = similarity_transform(predictor.initial_shape, shape)[0].astype(np.float32)
        offsets = predictor.deltas[cascade] @ linear.T  # float32, as dlib
        points = offsets + shape[predictor.anchors[cascade]]
        where = np.floor(points.astype(np.float64) * extent + origin + 0.5).astype(np.int64)
        inside = (where[:, 0] >= 0) & (where[:, 0] < width) & (where[:, 1] >= 0)
        inside &= where[:, 1] < height
        values = np.zeros(len(where), dtype=np.float32)
        values[inside] = pixels[where[inside, 1], where[inside, 0]]
        node = np.zeros(len(trees), dtype=np.int64)
        for _ in range(depth):
            a = values[predictor.split_a[cascade, trees, node]]
            b = values[predictor.split_b[cascade, trees, node]]
            left_branch = a - b > predictor.thresholds[cascade, trees, node]
            node = np.where(left_branch, 2 * node + 1, 2 * node + 2)
        updates = predictor.leaves[cascade, trees, node - predictor.split_a.shape[2]]
        # dlib adds the trees' updates one after another in float32; a reduction over the
        # leading axis of [shape, u1, u2, ...] adds row by row in that order too
        shape = np.concatenate([shape[None], updates]).sum(axis=0, dtype=np.float32)
    return np.floor(shape.astype(np.float64) * extent + origin + 0.5).astype(np.int64)
