"""ORL faces (AT&T Laboratories Cambridge): identity and gender CNNs trained on the CPU,
their validation accuracies, and the relevance generalisation matrix between them.

    .venv/bin/python benchmarks/modelsvc_orl.py [--seeds 0 1] [--json results.json]

The dataset is read from ``$FACESIM_DATASETS_DIR/orl_faces`` or ``../shared/datasets/orl_faces``
(relative to the repository); without it the script exits with status 2.

Per seed, three `SmallCNN` models (80x64 px, the ORL aspect ratio), a small version of the
pretraining x task design:

- ``identity``: trained from scratch on identity (40 classes, stratified 75/25 split of each
  person's 10 images);
- ``gender``: trained from scratch on perceived sex (4 female / 36 male people; split
  grouped by person, class-weighted loss; balanced accuracy is the fair score);
- ``gender_ft``: the identity network with a new head trained on perceived sex (same
  grouped split; the identity trunk has seen every person, with identity labels only).

Then epsilon_plus_flat relevance for each model's true labels on all 400 images, and
masking with the dataset-mean fill: "remove" (most relevant pixels replaced) and "keep"
(only the most relevant pixels kept), masks from each model evaluated on every model, with
a seeded random-mask baseline. The masking accuracies are over all 400 images (training
and validation), so they describe what each model relies on, not generalisation to new
people.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from modelsvc import (
    DEFAULT_FRACTIONS,
    FinetuneSettings,
    MaskingSettings,
    ModelSpec,
    StimulusItem,
    compute_relevance,
    cross_model_masking,
    dataset_mean,
    finetune,
    image_channel_means,
    load_batch,
    save_checkpoint,
    summarise_generalisation,
)

INPUT_SIZE = (80, 64)
MODES = ("remove", "keep")


def orl_folder() -> Path | None:
    """The ORL folder if present (``FACESIM_DATASETS_DIR`` or the shared datasets folder)."""
    root = os.environ.get("FACESIM_DATASETS_DIR")
    base = (
        Path(root) if root else Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"
    )
    folder = base / "orl_faces"
    return folder if (folder / "subjects.csv").is_file() else None


def orl_items(folder: Path) -> list[StimulusItem]:
    """400 items ``sN/i.pgm`` with labels identity (``sN``) and gender (perceived sex)."""
    with open(folder / "subjects.csv", newline="", encoding="utf-8") as handle:
        sex = {row["subject"]: row["perceived_sex"] for row in csv.DictReader(handle)}
    return [
        StimulusItem(
            f"{subject}/{i}.pgm",
            folder / subject / f"{i}.pgm",
            {"identity": subject, "gender": sex[subject]},
        )
        for subject in sorted(sex, key=lambda s: int(s[1:]))
        for i in range(1, 11)
    ]


#: (model name, label column, trainable layers: None = all, from scratch; 1 = new head on
#: the identity network)
MODELS = (("identity", "identity", None), ("gender", "gender", None), ("gender_ft", "gender", 1))


def run_seed(items: list[StimulusItem], seed: int, args: argparse.Namespace, workdir: Path) -> dict:
    scratch = ModelSpec("small_cnn", 1, input_size=INPUT_SIZE, seed=seed, name="scratch")
    models, training = {}, {}
    for name, task, train_last in MODELS:
        if name not in args.models:
            continue
        base = scratch
        if train_last is not None:
            model, spec = models["identity"]
            base = save_checkpoint(workdir / f"identity-{seed}.pt", model, spec)
        start = time.perf_counter()
        settings = FinetuneSettings(task, seed=seed, train_last=train_last, max_epochs=args.epochs)
        result = finetune(base, items, settings, progress=False)
        record = result.spec.training
        training[name] = {
            "task": task,
            "train_last": train_last,
            "val_accuracy": record["val_accuracy"],
            "val_balanced_accuracy": record["val_balanced_accuracy"],
            "best_epoch": record["best_epoch"],
            "epochs_run": len(record["history"]),
            "val_images": len(record["split"]["val"]),
            "seconds": time.perf_counter() - start,
        }
        models[name] = (result.model, result.spec)
    images = load_batch([item.path for item in items], INPUT_SIZE).images
    keys = [item.key for item in items]
    maps, targets = {}, {}
    for name, (model, spec) in models.items():
        labels = np.array([spec.class_names.index(item.labels[spec.task]) for item in items])
        relevance = compute_relevance(model, spec, images, targets=labels)
        maps[name], targets[name] = relevance.maps, relevance.targets
    fill = dataset_mean(image_channel_means(images))
    masking = {}
    for mode in args.modes:
        settings = MaskingSettings(
            fractions=tuple(args.fractions), mode=mode, fill="mean", fill_value=fill, seed=seed
        )
        cross = cross_model_masking(models, images, maps, targets, keys, settings)
        summary = summarise_generalisation(cross, settings.fractions)
        masking[mode] = {
            "sources": list(summary.sources),
            "models": list(summary.models),
            "fractions": list(summary.fractions),
            "accuracy": summary.accuracy.round(4).tolist(),
            "auc": summary.auc.round(4).tolist(),
            "asymmetry_auc": summary.asymmetry_auc.round(4).tolist(),
            "unmasked_accuracy": summary.unmasked_accuracy.round(4).tolist(),
        }
    return {"seed": seed, "training": training, "masking": masking}


def report(result: dict) -> None:
    print(f"seed {result['seed']}")
    for name, t in result["training"].items():
        print(
            f"  {name:9s} val accuracy {t['val_accuracy']:.3f}, balanced "
            f"{t['val_balanced_accuracy']:.3f} ({t['val_images']} val images, best epoch "
            f"{t['best_epoch']} of {t['epochs_run']}, {t['seconds']:.0f} s)"
        )
    for mode, m in result["masking"].items():
        print(
            f"  {mode}: area under the accuracy-vs-fraction curve (rows: mask source, "
            f"columns: evaluated model {m['models']}); unmasked {m['unmasked_accuracy']}"
        )
        for source, row in zip(m["sources"], m["auc"], strict=True):
            print(f"    {source:10s} " + "  ".join(f"{v:.3f}" for v in row))
        print(f"    accuracy at fractions {m['fractions']}:")
        for source, rows in zip(m["sources"], m["accuracy"], strict=True):
            print(f"      {source:10s} " + "  ".join(json.dumps(r) for r in rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--epochs", type=int, default=60, help="maximum epochs per model")
    names = [name for name, _, _ in MODELS]
    parser.add_argument("--models", nargs="+", choices=names, default=names)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--fractions", type=float, nargs="+", default=list(DEFAULT_FRACTIONS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    if "gender_ft" in args.models and "identity" not in args.models:
        parser.error("gender_ft is finetuned from the identity model: add identity to --models")
    folder = orl_folder()
    if folder is None:
        print("ORL faces not found (set FACESIM_DATASETS_DIR or add ../shared/datasets).")
        return 2
    torch.set_num_threads(args.threads)
    items = orl_items(folder)
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        for seed in args.seeds:
            results.append(run_seed(items, seed, args, Path(workdir)))
            report(results[-1])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
