"""dlib's face-recognition network in modelsvc: ORL face verification and speed against dlib's C++.

    .venv/bin/python benchmarks/dlib_faces.py [--throughput-images 20] [--json out.json]

- Verification: the 128-D descriptors of all 400 ORL photos, every same-person pair (1,800)
  and different-person pair (78,000); accuracy, TPR and FPR at dlib's Euclidean threshold
  0.6 and the ROC AUC of -distance. Three times: "resized" (the platform's loader: each photo
  resized to 150x150), "aligned" (dlib's 5 landmarks in a fixed face box, then dlib's aligned
  150 px chip with padding 0.25) and "detected" (the import's "align and crop": the CNN
  detector's box, 5 landmarks, the same chip; ``--only detected-verification`` runs just this).
- Throughput: images per second of the ported network (torch, one thread, one image at a
  time and batches of 16) and of dlib's own C++ (compiled from
  ``tests/integration/modelsvc/dlib/dlib_embed.cpp``, one image at a time, dlib's CPU path
  with the system's BLAS, one thread) on the same chips, in the same run; their ratio.
- Landmarks: faces per second of the 68-point predictor in numpy and in dlib's C++ on the same
  grayscale ORL photos and face box, and their agreement (mean pixel error).
- Detection (``--only detection`` runs just this): images per second of the ported CNN face
  detector (torch, one thread) and of dlib's C++ (``dlib_detect.cpp``, one thread) on the same
  ORL (92x112) and OMI (256x256) photos, and their agreement (faces per photo, box IoU).

Needs the ORL set (``$FACESIM_DATASETS_DIR`` or ``../shared/datasets``) and the
face-recognition-models package; the C++ part needs libdlib-dev and g++ (skipped otherwise).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy.stats import rankdata

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from modelsvc import load_batch, load_model
from modelsvc.builtin import builtin_spec
from modelsvc.dlib_align import extract_face_chip
from modelsvc.dlib_detector import detect_faces, load_face_detector
from modelsvc.dlib_landmarks import load_shape_predictor, predict_landmarks
from modelsvc.face_prep import NoFaceFound, load_face_models, prepare_face
from modelsvc.images import normalize
from tests.integration.modelsvc import dlib_oracle

THRESHOLD = 0.6
ORL_BOX = (10, 20, 81, 100)  # (left, top, right, bottom) around the face in a 92x112 photo


def datasets_dir() -> Path:
    root = os.environ.get("FACESIM_DATASETS_DIR")
    return Path(root) if root else Path(__file__).resolve().parents[2] / "shared" / "datasets"


def orl_paths() -> list[Path] | None:
    folder = datasets_dir() / "orl_faces"
    if not folder.is_dir():
        return None
    return [
        folder / f"s{person}" / f"{shot}.pgm" for person in range(1, 41) for shot in range(1, 11)
    ]


def verification(descriptors: np.ndarray, people: np.ndarray) -> dict:
    """Accuracy/TPR/FPR at the 0.6 threshold and ROC AUC over all pairs."""
    upper = np.triu_indices(len(people), k=1)
    distances = np.linalg.norm(descriptors[:, None] - descriptors[None], axis=-1)[upper]
    same = (people[:, None] == people[None])[upper]
    accepted = distances < THRESHOLD
    ranks = rankdata(-distances)
    positives, negatives = int(same.sum()), int((~same).sum())
    auc = (ranks[same].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    return {
        "pairs_same": positives,
        "pairs_different": negatives,
        "threshold": THRESHOLD,
        "accuracy": float((accepted == same).mean()),
        "balanced_accuracy": float((accepted[same].mean() + (~accepted[~same]).mean()) / 2),
        "tpr": float(accepted[same].mean()),
        "fpr": float(accepted[~same].mean()),
        "roc_auc": float(auc),
        "mean_distance_same": float(distances[same].mean()),
        "mean_distance_different": float(distances[~same].mean()),
    }


def torch_throughput(model, inputs: torch.Tensor, *, batch_size: int, repeats: int) -> float:
    with torch.inference_mode():
        model(inputs[:batch_size])  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            for first in range(0, len(inputs), batch_size):
                model(inputs[first : first + batch_size])
        return repeats * len(inputs) / (time.perf_counter() - start)


def aligned_inputs(paths: list[Path], spec) -> torch.Tensor:
    """dlib's aligned chips of the photos (5 landmarks in `ORL_BOX`), normalised for `spec`."""
    model = Path(spec.weights_path).with_name("shape_predictor_5_face_landmarks.dat")
    predictor = load_shape_predictor(model)
    chips = []
    for path in paths:
        with Image.open(path) as photo:
            gray, rgb = np.asarray(photo.convert("L")), np.asarray(photo.convert("RGB"))
        chips.append(extract_face_chip(rgb, predict_landmarks(predictor, gray, ORL_BOX)))
    pixels = torch.from_numpy(np.stack(chips)).permute(0, 3, 1, 2).float() / 255
    return normalize(pixels, spec)


def detected_inputs(paths: list[Path], spec) -> tuple[torch.Tensor, int]:
    """The import's aligned chips (`modelsvc.face_prep`), normalised; and the photos without a
    face (their chip is all zeros)."""
    models = load_face_models(part_masks=False)
    chips, missed = [], 0
    for path in paths:
        with Image.open(path) as photo:
            rgb = np.asarray(photo.convert("RGB"))
        try:
            chips.append(prepare_face(models, rgb, align=True, part_masks=False).image)
        except NoFaceFound:
            chips.append(np.zeros((150, 150, 3), dtype=np.uint8))
            missed += 1
    pixels = torch.from_numpy(np.stack(chips)).permute(0, 3, 1, 2).float() / 255
    return normalize(pixels, spec), missed


def detected_verification(model, paths: list[Path], spec, people: np.ndarray) -> dict:
    start = time.perf_counter()
    inputs, missed = detected_inputs(paths, spec)
    prepare_seconds = time.perf_counter() - start
    found = verification(embed(model, inputs), people)
    return {**found, "photos_without_a_face": missed, "prepare_400_seconds": prepare_seconds}


def embed(model, inputs: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return torch.cat([model(inputs[i : i + 16]) for i in range(0, len(inputs), 16)]).numpy()


def landmarks(paths: list[Path], spec, repeats: int) -> dict:
    """68-point landmarks: faces/s in numpy and in dlib's C++, and their mean pixel error."""
    model = Path(spec.weights_path).with_name("shape_predictor_68_face_landmarks.dat")
    start = time.perf_counter()
    predictor = load_shape_predictor(model)
    images = np.stack([np.asarray(Image.open(path).convert("L")) for path in paths])
    out = {"load_seconds (first time: parse and cache)": time.perf_counter() - start}
    start = time.perf_counter()
    for _ in range(repeats):
        ours = np.stack([predict_landmarks(predictor, image, ORL_BOX) for image in images])
    out["ours_faces_per_second"] = repeats * len(images) / (time.perf_counter() - start)
    reason = dlib_oracle.missing()
    if reason:
        out["dlib_cpp"] = f"not measured: {reason}"
        return out
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        binary = dlib_oracle.compile_reference(folder, "dlib_landmarks")
        expected = dlib_oracle.reference_landmarks(binary, model, images, ORL_BOX, folder)
        data = folder / "images.gray"
        command = [str(binary), str(model), str(data), str(len(images)), "112", "92"]
        command += [*(str(v) for v in ORL_BOX), str(repeats * 5)]
        out["dlib_cpp_faces_per_second"] = float(dlib_oracle.run(command))
    out["mean_pixel_error_vs_dlib"] = float(np.linalg.norm(ours - expected, axis=-1).mean())
    return out


def box_iou(a, b) -> float:
    """Intersection over union of two inclusive (left, top, right, bottom) boxes."""
    inner_w = max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1)
    inner_h = max(0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
    areas = [(r[2] - r[0] + 1) * (r[3] - r[1] + 1) for r in (a, b)]
    return inner_w * inner_h / (sum(areas) - inner_w * inner_h)


def detection(paths: list[Path], count: int, repeats: int) -> dict:
    """The CNN face detector: images/s here and in dlib's C++, and their agreement."""
    model = builtin_spec("dlib_resnet29").weights_path
    model = Path(model).with_name("mmod_human_face_detector.dat")
    detector = load_face_detector(model)
    omi = [datasets_dir() / "omi_faces" / "images" / f"{i}.jpg" for i in range(1, count + 1)]
    sets = {"orl_92x112": paths[:: max(1, len(paths) // count)][:count], "omi_256x256": omi}
    out = {}
    for name, files in sets.items():
        images = np.stack([np.asarray(Image.open(path).convert("RGB")) for path in files])
        start = time.perf_counter()
        for _ in range(repeats):
            ours = [detect_faces(detector, image) for image in images]
        result = {
            "images": len(images),
            "ours_images_per_second": repeats * len(images) / (time.perf_counter() - start),
        }
        reason = dlib_oracle.missing()
        if reason:
            result["dlib_cpp"] = f"not measured: {reason}"
            out[name] = result
            continue
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            binary = dlib_oracle.compile_reference(folder, "dlib_detect")
            theirs = dlib_oracle.reference_detections(binary, model, images, folder)
            speed = dlib_oracle.reference_detections(binary, model, images, folder, repeats=1)
        result["dlib_cpp_images_per_second"] = speed
        result["ratio_dlib_over_ours"] = speed / result["ours_images_per_second"]
        result["photos_with_the_same_number_of_faces"] = sum(
            len(a) == len(b) for a, b in zip(ours, theirs, strict=True)
        )
        ious = [
            box_iou(face.box, box)
            for a, b in zip(ours, theirs, strict=True)
            for face, (box, _) in zip(a, b, strict=False)
        ]
        result["faces_dlib"] = sum(len(b) for b in theirs)
        result["min_box_iou"] = min(ious, default=None)
        result["max_abs_score_difference"] = max(
            (
                abs(face.score - score)
                for a, b in zip(ours, theirs, strict=True)
                for face, (_, score) in zip(a, b, strict=False)
            ),
            default=None,
        )
        out[name] = result
    return out


def emit(result: dict, path: str | None) -> int:
    """Print the result as JSON (and write it to `path`)."""
    print(json.dumps(result, indent=2))
    if path:
        Path(path).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--throughput-images", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", choices=["detection", "detected-verification"])
    parser.add_argument("--json")
    args = parser.parse_args()
    paths = orl_paths()
    if paths is None:
        print("ORL faces not found (../shared/datasets/orl_faces)", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    if args.only == "detection":
        found = detection(paths, args.throughput_images, args.repeats)
        return emit(found, args.json)
    spec = builtin_spec("dlib_resnet29")
    model = load_model(spec)
    people = np.repeat(np.arange(40), 10)
    if args.only == "detected-verification":
        found = detected_verification(model, paths, spec, people)
        return emit(found, args.json)
    batch = load_batch(paths, spec.input_size).images
    inputs = normalize(batch, spec)
    start = time.perf_counter()
    descriptors = embed(model, inputs)
    embed_seconds = time.perf_counter() - start
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
        "verification_resized": verification(descriptors, people),
        "verification_aligned": verification(embed(model, aligned_inputs(paths, spec)), people),
        "verification_detected": detected_verification(model, paths, spec, people),
        "embed_400_seconds": embed_seconds,
    }
    sample = inputs[: args.throughput_images]
    speed = {
        "images": len(sample),
        "ours_one_at_a_time": torch_throughput(model, sample, batch_size=1, repeats=args.repeats),
        "ours_batch_16": torch_throughput(model, sample, batch_size=16, repeats=args.repeats),
    }
    reason = dlib_oracle.missing()
    if reason:
        speed["dlib_cpp"] = f"not measured: {reason}"
    else:
        chips = (batch[: args.throughput_images] * 255).round().to(torch.uint8)
        chips = chips.permute(0, 2, 3, 1).numpy()
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            binary = dlib_oracle.compile_reference(folder)
            weights = Path(spec.weights_path)
            speed["dlib_cpp"] = dlib_oracle.reference_throughput(
                binary, weights, chips, folder, repeats=args.repeats
            )
            reference = dlib_oracle.reference_embeddings(binary, weights, chips, folder)
            speed["max_abs_difference_vs_dlib"] = float(
                np.abs(reference - descriptors[: len(chips)]).max()
            )
        speed["ratio_dlib_over_ours_one_at_a_time"] = (
            speed["dlib_cpp"] / speed["ours_one_at_a_time"]
        )
    result["throughput_images_per_second"] = speed
    result["landmarks_68"] = landmarks(paths[: args.throughput_images], spec, args.repeats)
    result["detection"] = detection(paths, args.throughput_images, args.repeats)
    return emit(result, args.json)


if __name__ == "__main__":
    sys.exit(main())
