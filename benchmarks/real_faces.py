"""A real face network against real human data: dlib's ResNet on OMI and ORL (issue 17).

    .venv/bin/python benchmarks/real_faces.py [--faces 200] [--splits 8] [--boot 200]
        [--spec extra_model.json ...] [--no-demo] [--json out.json]

OMI (One Million Impressions, 1,004 StyleGAN2 faces, ~41 human ratings per face and attribute):
- Human reference: the dissimilarity of the faces' attribute profiles (z-scored mean ratings on
  the 34 attributes, correlation distance: `analysis.human.profiles`). The set has no participant
  ids, so each face's ratings of each attribute are dealt at random into `--splits` parts; every
  part gives a profile matrix, and these matrices stand in for participants in the platform's
  statistics: leave-one-out noise ceiling (`analysis.noise_ceiling`) and the dual bootstrap over
  parts and faces (`analysis.dual_bootstrap`). The repeat block (faces rated twice) gives a
  second, independent reliability: normal-vs-repeat profile matrices, Spearman-Brown corrected.
- Models: dlib_resnet29 (the built-in network: aligned 150 px chips from 5 landmarks in a fixed
  face box, since there is no detector yet; OMI faces are FFHQ-aligned so one box fits all),
  per layer; controls: the same architecture with random weights, and the chips' pixels; and any
  ModelSpec JSON given with ``--spec`` (e.g. a demo CNN exported from the platform), on the
  photos resized by the platform's loader.
- The demo CNNs (``--demo``, on by default): trained here as ``manage.py demo`` trains them, from
  its own `DemoConfig`, generated data and settings (`studyapp.services.demo`; fixed seeds):
  the small CNN pretrained on generated identities (facegen) and on generated objects
  (objectgen), and the model grid's cells of the first seed: each pretrained CNN finetuned on
  the demo faces for gender and identity. dlib's network goes through the same grid cells (a
  classifier on its descriptor, the grid's shared settings), so the table also has a
  finetuned dlib child (its ``fc`` and ``classifier`` layers; the blocks below are frozen and
  equal the base's). The CNNs see the OMI photos resized to their 64 px; dlib's children the
  same aligned chips as dlib.
ORL (40 people x 10 grey photos): dlib's verification at its 0.6 threshold (as in
`benchmarks/dlib_faces.py`), and LRP relevance of the identity decision per landmark-derived
part. The decision: dlib's descriptor scored against each person's mean descriptor (a
nearest-class-mean head folded into the network's bias-free fc layer, so the network itself is
unchanged), explained for the true person; parts from the 68 landmarks found in each chip.

Needs ../shared/datasets (or $FACESIM_DATASETS_DIR) and face-recognition-models.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from analysis import dual_bootstrap, noise_ceiling, spearman_brown
from analysis.compare import compare
from analysis.human.profiles import profile_dissimilarity
from analysis.matrices import ParticipantMatrices, SimilarityMatrix
from analysis.relevance import relevance_mass_per_part
from benchmarks.dlib_faces import ORL_BOX, orl_paths, verification
from modelsvc import compute_relevance, extract_embeddings, load_batch, load_model
from modelsvc.builtin import builtin_spec
from modelsvc.dlib_align import extract_face_chip
from modelsvc.dlib_landmarks import load_shape_predictor, predict_landmarks
from modelsvc.dlib_parts import LANDMARK_PART_NAMES, part_label_map
from modelsvc.finetuning import FinetuneSettings, finetune
from modelsvc.grid import cell_settings, grid_cells
from modelsvc.images import read_metadata
from modelsvc.similarity import dissimilarity_matrix
from modelsvc.spec import ModelSpec
from modelsvc.weights import save_checkpoint

OMI_BOX = (66, 84, 190, 208)  # (left, top, right, bottom) of the face in a 256 px OMI photo
CHIP_FACE_BOX = (25, 25, 124, 124)  # the face square in dlib's 150 px chip with padding 0.25


def datasets() -> Path:
    root = os.environ.get("FACESIM_DATASETS_DIR")
    return Path(root) if root else Path(__file__).resolve().parents[2] / "shared" / "datasets"


def omi_ratings(n_faces: int, seed: int) -> tuple[pd.DataFrame, list[str]]:
    """The individual ratings of `n_faces` faces drawn at random among those rated in full."""
    folder = datasets() / "omi_faces"
    ratings = pd.read_csv(folder / "attribute_ratings.csv.gz")
    attributes = sorted(ratings["attribute"].unique())
    cells = ratings.groupby(["stimulus", "attribute"]).size().unstack()
    complete = cells.index[cells.notna().all(axis=1) & (cells >= 2).all(axis=1)].to_numpy()
    chosen = np.sort(np.random.default_rng(seed).choice(complete, n_faces, replace=False))
    return ratings[ratings["stimulus"].isin(chosen)], attributes


def human_matrices(
    ratings: pd.DataFrame, attributes: list[str], n_splits: int, seed: int
) -> tuple[ParticipantMatrices, SimilarityMatrix, dict]:
    """Split-profile matrices (the pseudo-participants), the all-ratings matrix, reliability."""
    rng = np.random.default_rng(seed)
    ratings = ratings.assign(order=rng.random(len(ratings))).sort_values("order")
    ratings["part"] = ratings.groupby(["stimulus", "attribute"]).cumcount() % n_splits

    def profiles(rows: pd.DataFrame) -> pd.DataFrame:
        return rows.groupby(["stimulus", "attribute"])["rating"].mean().unstack()[attributes]

    full = profile_dissimilarity(profiles(ratings), name="all ratings")
    parts = []
    for part in range(n_splits):
        matrix = profile_dissimilarity(profiles(ratings[ratings["part"] == part]))
        parts.append(matrix.reorder(full.stimuli).upper())
    human = ParticipantMatrices.from_dense(
        np.stack(parts), [f"split-{k}" for k in range(n_splits)], full.stimuli
    )
    kinds = {k: ratings[ratings["rating_type"] == k] for k in ("normal", "repeat")}
    retest = float("nan")
    if all(len(rows) for rows in kinds.values()):
        normal, repeat = (profiles(rows) for rows in kinds.values())
        both = normal.dropna().index.intersection(repeat.dropna().index)
        if len(both) >= 10:
            retest = compare(
                profile_dissimilarity(normal.loc[both]),
                profile_dissimilarity(repeat.loc[both]),
                "spearman",
            )
    reliability = {
        "ratings": len(ratings),
        "ratings_per_face_and_attribute_median": float(
            ratings.groupby(["stimulus", "attribute"]).size().median()
        ),
        "normal_vs_repeat_spearman": retest,
        "normal_vs_repeat_spearman_brown": float(spearman_brown(retest)),
    }
    return human, full, reliability


def omi_chips(faces: list[str], spec: ModelSpec) -> torch.Tensor:
    """dlib's aligned 150 px chips of the OMI photos, pixels in [0, 1]."""
    predictor = load_shape_predictor(
        Path(spec.weights_path).with_name("shape_predictor_5_face_landmarks.dat")
    )
    chips = []
    for face in faces:
        with Image.open(datasets() / "omi_faces" / "images" / f"{face}.jpg") as photo:
            gray, rgb = np.asarray(photo.convert("L")), np.asarray(photo.convert("RGB"))
        chips.append(extract_face_chip(rgb, predict_landmarks(predictor, gray, OMI_BOX)))
    return torch.from_numpy(np.stack(chips)).permute(0, 3, 1, 2).float() / 255


def randomised(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """The same architecture with freshly initialised weights (a control for training)."""
    torch.manual_seed(seed)
    fresh = copy.deepcopy(model)
    for module in fresh.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return fresh.eval()


def layer_matrices(
    name: str, model, spec: ModelSpec, images: torch.Tensor, faces: list[str]
) -> dict[str, object]:
    """One correlation-distance matrix per layer of interest, keyed "name/layer"."""
    features: dict[str, list[np.ndarray]] = {}
    for first in range(0, len(images), 32):
        batch = extract_embeddings(model, spec, images[first : first + 32])
        for layer, values in batch.items():
            features.setdefault(layer, []).append(values)
    return {
        f"{name}/{layer}": dissimilarity_matrix(np.concatenate(values), faces, layer=layer)
        for layer, values in features.items()
    }


def photo_matrices(name: str, model, spec: ModelSpec, faces: list[str]) -> dict[str, object]:
    """`layer_matrices` on the OMI photos resized to the model's input by the platform's loader."""
    photos = [datasets() / "omi_faces" / "images" / f"{face}.jpg" for face in faces]
    return layer_matrices(name, model, spec, load_batch(photos, spec.input_size).images, faces)


def demo_models(folder: Path, dlib: ModelSpec) -> tuple[dict, dict, dict]:
    """The demo's CNNs and dlib's grid children, trained as ``manage.py demo`` trains its models.

    Returns (CNNs by name, dlib children by name; each ``(model, spec)``, and their training
    record: validation accuracy per model).
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()  # only to read the demo's configuration; no database is used
    from studyapp.services.demo import (
        DEMO_PRETRAININGS,
        DemoConfig,
        demo_base_spec,
        demo_generated_sets,
        finetuning_params,
        pretraining_params,
    )

    config = DemoConfig()
    items = {}
    for field, (generator, _, options) in demo_generated_sets(config).items():
        root = generator.write_dataset(folder / field, **options)
        items[field] = read_metadata(root / "metadata.csv", root / "images")
    bases, record = {}, {}
    for kind, (field, label_column) in DEMO_PRETRAININGS.items():
        settings = FinetuneSettings(**pretraining_params(config, label_column))
        result = finetune(demo_base_spec(config), items[field], settings, progress=False)
        name = f"demo CNN {kind}-pretrained"
        bases[kind] = save_checkpoint(folder / f"{kind}.pt", result.model, result.spec)
        record[name] = result.spec.training["val_accuracy"]
    cnns = {f"demo CNN {kind}-pretrained": (load_model(spec), spec) for kind, spec in bases.items()}
    children = {}
    grid = {**bases, "dlib": dlib}
    for cell in grid_cells(list(grid), list(config.tasks), list(config.seeds[:1])):
        settings = cell_settings(cell, finetuning_params(config))
        result = finetune(grid[cell.pretraining], items["faces"], settings, progress=False)
        label = "dlib_resnet29" if cell.pretraining == "dlib" else f"demo CNN {cell.pretraining}"
        name = f"{label} -> {cell.task}, seed {cell.seed}"
        record[name] = result.spec.training["val_accuracy"]
        if cell.pretraining == "dlib":
            children[name] = (result.model, result.spec.replace(layers=("fc", "classifier")))
        else:
            cnns[name] = (result.model, result.spec)
    return cnns, children, record


def omi_comparison(args) -> dict:
    ratings, attributes = omi_ratings(args.faces, args.seed)
    human, full, reliability = human_matrices(ratings, attributes, args.splits, args.seed)
    faces = list(human.stimuli)
    spec = builtin_spec("dlib_resnet29")
    network = load_model(spec)
    chips = omi_chips(faces, spec)
    models = layer_matrices("dlib_resnet29", network, spec, chips, faces)
    models |= layer_matrices("random_dlib_resnet29", randomised(network, 0), spec, chips, faces)
    models["pixels/chip"] = dissimilarity_matrix(chips.flatten(1).numpy(), faces, layer="chip")
    for path in args.spec:
        extra = ModelSpec.load(path)
        models |= photo_matrices(Path(path).stem, load_model(extra), extra, faces)
    demo_accuracy = {}
    if args.demo:
        with tempfile.TemporaryDirectory() as folder:
            cnns, children, demo_accuracy = demo_models(Path(folder), spec)
        for name, (model, model_spec) in cnns.items():
            models |= photo_matrices(name, model, model_spec, faces)
        for name, (model, model_spec) in children.items():
            models |= layer_matrices(name, model, model_spec, chips, faces)
    ceiling = noise_ceiling(human, "spearman")
    boot = dual_bootstrap(models, human, "spearman", n_boot=args.boot, random_state=args.seed)
    table = boot.table()
    table["spearman_vs_all_ratings"] = [
        compare(SimilarityMatrix(m.matrix, m.stimulus_ids), full, "spearman")
        for m in models.values()
    ]
    columns = ["model", "layer", "evaluation", "ci_low", "ci_high", "p_zero"]
    return {
        "faces": len(faces),
        "attributes": len(attributes),
        "splits": args.splits,
        "n_boot": args.boot,
        "reliability": reliability,
        "noise_ceiling_spearman": {"lower": ceiling.lower, "upper": ceiling.upper},
        "demo_val_accuracy": demo_accuracy,
        "models": table[[*columns, "spearman_vs_all_ratings"]].to_dict("records"),
    }


def orl_relevance(paths: list[Path], n_people: int) -> dict:
    """Verification and relevance share per part of dlib's identity decision on ORL."""
    paths = paths[: 10 * n_people]
    spec = builtin_spec("dlib_resnet29")
    network = load_model(spec)
    folder = Path(spec.weights_path)
    five = load_shape_predictor(folder.with_name("shape_predictor_5_face_landmarks.dat"))
    many = load_shape_predictor(folder.with_name("shape_predictor_68_face_landmarks.dat"))
    chips, masks = [], []
    for path in paths:
        with Image.open(path) as photo:
            gray, rgb = np.asarray(photo.convert("L")), np.asarray(photo.convert("RGB"))
        chip = extract_face_chip(rgb, predict_landmarks(five, gray, ORL_BOX))
        chip_gray = np.asarray(Image.fromarray(chip).convert("L"))
        landmarks = predict_landmarks(many, chip_gray, CHIP_FACE_BOX)
        chips.append(chip)
        masks.append(part_label_map(landmarks, chip.shape[:2]))
    images = torch.from_numpy(np.stack(chips)).permute(0, 3, 1, 2).float() / 255
    people = np.repeat(np.arange(n_people), 10)
    descriptors = extract_embeddings(network, spec, images, layers=[spec.layers[-1]])
    descriptors = next(iter(descriptors.values()))
    prototypes = np.stack([descriptors[people == p].mean(0) for p in range(n_people)])
    head = copy.deepcopy(network)
    fc = head.fc
    folded = torch.nn.Linear(fc.in_features, n_people, bias=False)
    folded.weight.data = torch.from_numpy(prototypes).float() @ fc.weight.data
    head.fc = folded
    start = time.perf_counter()
    maps = np.concatenate(
        [
            compute_relevance(head, spec, images[i : i + 16], targets=people[i : i + 16]).maps
            for i in range(0, len(images), 16)
        ]
    )
    seconds = time.perf_counter() - start
    labels = dict(enumerate(LANDMARK_PART_NAMES))
    mass = relevance_mass_per_part(maps, np.stack(masks), labels)
    summary = mass.groupby("part")[["relevance_share", "area_share", "enrichment"]].mean()
    return {
        "verification_aligned": verification(descriptors, people),
        "relevance_seconds": seconds,
        "images": len(paths),
        "nearest_mean_accuracy": float((np.argmax(descriptors @ prototypes.T, 1) == people).mean()),
        "relevance_share_per_part": summary.round(4).to_dict("index"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=200)
    parser.add_argument("--splits", type=int, default=8)
    parser.add_argument("--boot", type=int, default=200)
    parser.add_argument("--orl-people", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spec", action="append", default=[], help="extra ModelSpec JSON")
    parser.add_argument(
        "--demo",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="train and compare the demo CNNs and dlib's grid children (default: on)",
    )
    parser.add_argument("--json")
    args = parser.parse_args()
    if not (datasets() / "omi_faces" / "attribute_ratings.csv.gz").exists():
        print(f"OMI faces not found under {datasets()}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
        "omi": omi_comparison(args),
    }
    paths = orl_paths()
    result["orl"] = orl_relevance(paths, args.orl_people) if paths else "ORL faces not found"
    result["seconds"] = time.perf_counter() - start
    print(json.dumps(result, indent=2, default=float))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
