"""dlib's CNN face detector (``mmod_human_face_detector.dat``) read from dlib's file and run in
torch, with dlib 19.24's image pyramid, sliding-window scores and non-max suppression.

The network (dlib's ``dnn_mmod_face_detection_ex``): three 5x5/2 convolutions (16, 32, 32
filters, no padding) and three 5x5 convolutions (45 filters, padding 2), each followed by an
affine layer (the file's batch norms, folded as dlib folds them) and a ReLU, then one 9x9
convolution (padding 4) whose output is the detection score of an 80x80 window per position.

Detection as ``net(image)`` does it (``input_rgb_image_pyramid<pyramid_down<6>>`` and
``loss_mmod_::to_label``):
- the RGB image minus the mean colour, divided by 256, is the first level of a tiled pyramid;
  each further level is the previous one resized to 5/6 of its size (dlib's float bilinear
  ``resize_image``, reproduced in float32 here) and placed in one zero-padded canvas
  (`pyramid_rects`: 10 px between levels, 11 px around), down to levels 5 px high;
- the network runs once on the canvas; every output position scoring above the threshold (0)
  is an 80x80 window around input position ``8 * (col, row) + 14``, mapped back to the image
  through the nearest pyramid level (``p * 6/5 + 0.3`` per level) and rounded to integer pixels;
- windows are taken best first, skipping any that overlaps a kept one by more than the file's
  threshold (dlib's overlap: intersection over the area of the box around both).
Boxes are dlib rectangles (left, top, right, bottom), inclusive, and may reach past the image.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from modelsvc.dlib_format import DlibNetwork, DlibReader, read_network

#: The detector's layers from the input to the output, as written in the file.
MMOD_LAYER_KINDS = ("con", "affine", "relu") * 6 + ("con",)
PYRAMID_STEP = 6  # pyramid_down<6>: each level is 5/6 of the previous one
_MIN_LEVEL_HEIGHT = 5

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Detection:
    """One face: dlib's rectangle (left, top, right, bottom), inclusive, and its score."""

    box: Box
    score: float


def _input_rgb_image_pyramid(reader: DlibReader) -> dict[str, Any]:
    version = reader.version(("input_rgb_image_pyramid", "input_rgb_image_pyramid2"), "input layer")
    mean = tuple(reader.real() for _ in range(3))
    if version == "input_rgb_image_pyramid":
        padding, outer = 10, 11  # dlib's defaults, not stored in the first version
    else:
        padding, outer = reader.integer(), reader.integer()
    return {"mean_rgb": mean, "padding": padding, "outer_padding": outer}


def _loss_mmod(reader: DlibReader) -> dict[str, Any]:
    reader.version(("loss_mmod_",), "loss_mmod_")
    version = reader.int_version(range(1, 5), "mmod_options")
    if version == 1:
        windows = [(reader.integer(), reader.integer())]
    else:
        windows = []
        for _ in range(reader.integer()):
            window_version = reader.int_version(range(1, 3), "detector window")
            windows.append((reader.integer(), reader.integer()))
            if window_version == 2:
                reader.string()  # label
    for _ in range(3):  # losses per false alarm and per miss, truth-match IoU
        reader.real()
    nms = {"iou": reader.real(), "covered": reader.real()}
    reader.real()  # overlaps_ignore
    reader.real()
    if version >= 3:
        reader.integer()  # assume_image_pyramid
    if version >= 4:
        if reader.boolean():
            raise reader.fail("bounding-box regression (not supported)")
        reader.real()  # its lambda
    if len(windows) != 1:
        raise reader.fail(f"{len(windows)} detector windows (one is supported)")
    return {"window": windows[0], "nms": nms}


def read_mmod_detector(path: str | Path) -> DlibNetwork:
    """Read ``mmod_human_face_detector.dat`` (or a file of the same network)."""
    return read_network(
        path, MMOD_LAYER_KINDS, read_input=_input_rgb_image_pyramid, read_loss=_loss_mmod
    )


class DlibFaceDetector(nn.Module):
    """The detector's convolutions (the score map) and its settings from the file."""

    def __init__(self, network: DlibNetwork) -> None:
        super().__init__()
        modules: list[nn.Module] = []
        channels = 3
        for layer in network.layers:
            if layer.kind == "con":
                conv = nn.Conv2d(
                    channels,
                    layer.config["filters"],
                    layer.config["kernel"],
                    stride=layer.config["stride"],
                    padding=layer.config["padding"],
                )
                conv.weight.data = torch.from_numpy(layer.arrays["weight"].copy())
                conv.bias.data = torch.from_numpy(layer.arrays["bias"].copy())
                channels = conv.out_channels
                modules.append(conv)
            elif layer.kind == "affine":
                affine = nn.Conv2d(channels, channels, 1, groups=channels)
                affine.weight.data = torch.from_numpy(layer.arrays["gamma"].reshape(-1, 1, 1, 1))
                affine.bias.data = torch.from_numpy(layer.arrays["beta"].copy())
                modules.append(affine)
            else:
                modules.append(nn.ReLU())
        self.layers = nn.Sequential(*modules).eval()
        self.mean_rgb = np.array(network.input["mean_rgb"], dtype=np.float32)
        self.padding = network.input["padding"], network.input["outer_padding"]
        self.window = network.loss["window"]
        self.nms = network.loss["nms"]
        convs = [m for m in modules if isinstance(m, nn.Conv2d) and m.groups == 1]
        self.stride, self.offset = 1, 0.0  # output position -> input position, as dlib maps it
        for conv in reversed(convs):
            self.offset = self.offset * conv.stride[0] - conv.padding[0] + conv.kernel_size[0] // 2
            self.stride *= conv.stride[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    def fits(self, height: int, width: int) -> bool:
        """Whether a canvas this size leaves every convolution at least one output."""
        for conv in self.layers:
            if isinstance(conv, nn.Conv2d):
                (kernel, _), (stride, _), (padding, _) = conv.kernel_size, conv.stride, conv.padding
                if min(height, width) + 2 * padding < kernel:
                    return False
                height = (height + 2 * padding - kernel) // stride + 1
                width = (width + 2 * padding - kernel) // stride + 1
        return True


@lru_cache(maxsize=4)
def load_face_detector(path: str | Path) -> DlibFaceDetector:
    """The detector of `path` (read once per process)."""
    return DlibFaceDetector(read_mmod_detector(path))


def pyramid_rects(height: int, width: int, padding: int = 10, outer: int = 11):
    """dlib's tiled pyramid layout: (canvas height, width) and per level (left, top, w, h)."""
    sizes = [(width, height)]
    rate = (PYRAMID_STEP - 1.0) / PYRAMID_STEP
    while True:
        height, width = math.floor(rate * height), math.floor(rate * width)
        if height * width == 0 or height < _MIN_LEVEL_HEIGHT:
            break
        sizes.append((width, height))
    first_w, first_h = sizes[0]
    total = sum(h + padding for _, h in sizes) - 2 * padding
    column, previous = 0, 0
    for w, h in sizes:  # the first column runs until the rest fits beside the levels above
        if w <= first_w - previous - padding and (column - first_h) * 2 >= total - first_h:
            break
        column += h + padding
        previous = w
    column -= padding
    rects, y = [], outer
    while y < column + outer and len(rects) < len(sizes):
        w, h = sizes[len(rects)]
        rects.append((outer, y, w, h))
        y += h + padding
    y -= padding
    while len(rects) < len(sizes):  # the second column, bottom up, right-aligned
        w, h = sizes[len(rects)]
        left, top = outer + first_w - w, y - h
        if top <= outer + first_h - 1 and y - 1 >= outer:  # would overlap the first level
            break
        rects.append((left, top, w, h))
        y -= h + padding
    return (column + 2 * outer, first_w + 2 * outer), rects


def _running_sum(start: float, step: float, count: int, dtype=np.float64) -> np.ndarray:
    """``start + step``, ``+ step``, ... (`count` values) added one at a time, as a loop does."""
    series = np.full(count + 1, step, dtype=dtype)
    series[0] = start
    return np.add.accumulate(series, dtype=dtype)[1:]


def resize_bilinear(source: np.ndarray, height: int, width: int) -> np.ndarray:
    """dlib's float ``resize_image`` of (C, H, W) float32 planes, in its float32 arithmetic
    (four columns at a time in single precision, the remaining columns in double)."""
    channels, src_h, src_w = source.shape
    x_scale = (src_w - 1) / max(width - 1, 1)
    y_scale = (src_h - 1) / max(height - 1, 1)
    ys = _running_sum(-y_scale, y_scale, height)
    top = np.floor(ys).astype(np.int64)
    bottom = np.minimum(top + 1, src_h - 1)
    tb = ys - top
    # SIMD part: lane j starts at float(-4 x_scale + j x_scale), adds float(4 x_scale) per step
    steps = width // 4 + 2
    xs = np.stack(
        [
            _running_sum(-4 * x_scale + j * x_scale, 4 * x_scale, steps, np.float32)
            for j in range(4)
        ],
        axis=1,
    )  # (steps, 4)
    left = xs.astype(np.int32)  # truncation
    blocks = int(np.argmax(left[:, 3] + 1 >= src_w)) if (left[:, 3] + 1 >= src_w).any() else steps
    simd_cols = 4 * blocks
    out = np.empty((channels, height, width), dtype=np.float32)
    if simd_cols:
        x = xs[:blocks].reshape(-1)
        lx = left[:blocks].reshape(-1).astype(np.int64)
        lr = x - lx.astype(np.float32)
        inv_lr = np.float32(1) - lr
        tb32, inv_tb32 = tb.astype(np.float32)[:, None], (1 - tb).astype(np.float32)[:, None]
        weights = (inv_tb32 * inv_lr, inv_tb32 * lr, tb32 * inv_lr, tb32 * lr)
        for channel in range(channels):
            plane = source[channel]
            corners = (
                plane[top][:, lx],
                plane[top][:, lx + 1],
                plane[bottom][:, lx],
                plane[bottom][:, lx + 1],
            )
            value = weights[0] * corners[0] + weights[1] * corners[1]
            value = value + weights[2] * corners[2]
            out[channel, :, :simd_cols] = value + weights[3] * corners[3]
    if simd_cols < width:
        x = _running_sum(-x_scale + simd_cols * x_scale, x_scale, width - simd_cols)
        lx = np.floor(x).astype(np.int64)
        rx = np.minimum(lx + 1, src_w - 1)
        lr = (x - lx).astype(np.float32)
        inv_lr = np.float32(1) - lr
        for channel in range(channels):
            plane = source[channel]
            upper = inv_lr * plane[top][:, lx] + lr * plane[top][:, rx]
            lower = inv_lr * plane[bottom][:, lx] + lr * plane[bottom][:, rx]
            value = (1 - tb)[:, None] * upper.astype(np.float64) + tb[:, None] * lower
            out[channel, :, simd_cols:] = value.astype(np.float32)
    return out


def tiled_pyramid(detector: DlibFaceDetector, image: np.ndarray):
    """The (3, H, W) float32 canvas of an RGB uint8 image's pyramid and its level rects."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(
            f"The 'image' parameter of detect_faces must be an RGB uint8 (H, W, 3) array; "
            f"got {image.dtype} {image.shape}."
        )
    (canvas_h, canvas_w), rects = pyramid_rects(*image.shape[:2], *detector.padding)
    canvas = np.zeros((3, canvas_h, canvas_w), dtype=np.float32)
    left, top, w, h = rects[0]
    first = (image.astype(np.float32) - detector.mean_rgb) / np.float32(256)
    canvas[:, top : top + h, left : left + w] = first.transpose(2, 0, 1)
    for (pl, pt, pw, ph), (left, top, w, h) in itertools.pairwise(rects):
        source = canvas[:, pt : pt + ph, pl : pl + pw]
        canvas[:, top : top + h, left : left + w] = resize_bilinear(source, h, w)
    return canvas, rects


def _nearest_level(rects: list[tuple[int, int, int, int]], x: float, y: float) -> int:
    """dlib's ``nearest_rect`` for the point (x, y) rounded to integer pixels."""
    px, py = math.floor(x + 0.5), math.floor(y + 0.5)
    best, best_distance = 0, math.inf
    for index, (left, top, w, h) in enumerate(rects):
        nx, ny = min(max(px, left), left + w - 1), min(max(py, top), top + h - 1)
        if (nx, ny) == (px, py):
            return index
        distance = math.hypot(nx - px, ny - py)
        if distance < best_distance:
            best, best_distance = index, distance
    return best


def _overlaps(a: Box, b: Box, iou: float, covered: float) -> bool:
    """dlib's ``test_box_overlap`` (intersection over the area of the box around both)."""
    inner_w = min(a[2], b[2]) - max(a[0], b[0]) + 1
    inner_h = min(a[3], b[3]) - max(a[1], b[1]) + 1
    if inner_w <= 0 or inner_h <= 0:
        return False
    inner = inner_w * inner_h
    outer = (max(a[2], b[2]) - min(a[0], b[0]) + 1) * (max(a[3], b[3]) - min(a[1], b[1]) + 1)
    area_a = (a[2] - a[0] + 1) * (a[3] - a[1] + 1)
    area_b = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    return inner / outer > iou or inner / area_a > covered or inner / area_b > covered


def detect_faces(
    detector: DlibFaceDetector, image: np.ndarray, *, threshold: float = 0.0
) -> list[Detection]:
    """The faces in an RGB uint8 (H, W, 3) `image`, best first, as dlib's ``net(image)``."""
    canvas, rects = tiled_pyramid(detector, image)
    if not detector.fits(*canvas.shape[1:]):
        return []  # too small a photo for the network: no face
    with torch.inference_mode():
        scores = detector(torch.from_numpy(canvas)[None])[0, 0].double().numpy()
    rows, cols = np.nonzero(scores > threshold)
    half_w, half_h = (detector.window[0] - 1) / 2, (detector.window[1] - 1) / 2
    ratio = PYRAMID_STEP / (PYRAMID_STEP - 1.0)
    candidates = []
    for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
        x = col * detector.stride + detector.offset
        y = row * detector.stride + detector.offset
        level = _nearest_level(rects, x, y)
        corners = [x - half_w - rects[level][0], y - half_h - rects[level][1]]
        corners += [x + half_w - rects[level][0], y + half_h - rects[level][1]]
        for _ in range(level):
            corners = [value * ratio + 0.3 for value in corners]
        box = tuple(math.floor(value + 0.5) for value in corners)
        candidates.append(Detection(box, float(scores[row, col])))  # type: ignore[arg-type]
    candidates.sort(key=lambda detection: -detection.score)
    kept: list[Detection] = []
    for candidate in candidates:
        nms = detector.nms
        if not any(_overlaps(k.box, candidate.box, nms["iou"], nms["covered"]) for k in kept):
            kept.append(candidate)
    return kept
