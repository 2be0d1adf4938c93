"""Crawford et al. (2020) on real faces: the ORL faces (AT&T Laboratories Cambridge) through
the whole replication design, on the CPU, from files.

    .venv/bin/python benchmarks/replication.py [--seeds 1 2] [--epochs 40] [--out DIR]
                                               [--json results.json]

The dataset is read from ``$FACESIM_DATASETS_DIR/orl_faces`` or ``../shared/datasets/orl_faces``;
without it the script exits with status 2. The design is the demo's, at the ORL aspect ratio
(80 x 64 px, `small_cnn`):

1. two pretrainings of the whole network, on generated data only (nothing is downloaded):
   ``faces`` (24 generated identities, the "VGGFace analogue") and ``objects`` (the objectgen
   classes, the "ImageNet analogue");
2. the model grid: each pretraining finetuned (last two layers) for ``identity`` (40 people;
   split stratified by person) and ``gender`` (perceived sex; 4 female / 36 male people; split
   grouped by person, class-weighted loss) with every seed; the split seed is fixed per task,
   so seeds differ by initialisation, shuffling and dropout only;
3. epsilon_plus_flat relevance of every model for its own task's true labels on all 400 images,
   cross-model masking (every model's maps on every model, with a seeded random-mask baseline)
   and `analysis.replication.replication_analysis`: accuracies, the generalisation cells, the
   factor contrasts, map agreement and the claims with their verdicts.

Accuracy for the gender task is *balanced* accuracy on the validation people (the mean of the
female and male recall): with 36 of 40 people male, plain accuracy rewards answering "male"
(0.9 for a constant answer), balanced accuracy gives that 0.5. The masking outcomes are over all
400 images (training and validation people), so they describe what each model relies on.
A second run with the same ``--out`` reuses the pretrained and finetuned models, the relevance
maps and the masking outcomes (delete a step's folder to redo it).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import sys
import time
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from modelsvc_orl import INPUT_SIZE, orl_folder, orl_items

import facegen.__main__ as facegen_cli
import objectgen.__main__ as objectgen_cli
from analysis.generalisation_inference import CrossCorrect
from analysis.replication import replication_analysis
from modelsvc.artifacts import load_arrays
from modelsvc.cli import main as modelsvc_main

PRETRAINING_IDENTITIES = 24


def run_step(log: list[dict], name: str, argv: list[str]) -> dict:
    """One ``python -m modelsvc`` command in this process; its JSON summary and seconds."""
    start = time.perf_counter()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = modelsvc_main([*argv, "--quiet", "--device", "cpu"])
    if status != 0:
        raise SystemExit(f"step {name} failed (python -m modelsvc {' '.join(argv)})")
    seconds = time.perf_counter() - start
    log.append({"step": name, "seconds": round(seconds, 1)})
    print(f"  {name}: {seconds:.1f} s", flush=True)
    return json.loads(out.getvalue())


def write_metadata(folder: Path, path: Path) -> None:
    """metadata.csv for the ORL folder itself (``sN/i.pgm``): nothing is copied."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["filename", "identity", "gender"])
        for item in orl_items(folder):
            writer.writerow([item.key, item.labels["identity"], item.labels["gender"]])


def generated_sets(out: Path, log: list[dict]) -> dict[str, tuple[Path, str]]:
    """The two pretraining sets (folder, label column), written once."""
    sets = {
        "faces": (out / "pretraining_faces", "identity", facegen_cli.main,
                  ["--identities", str(PRETRAINING_IDENTITIES), "--per-identity", "8"]),
        "objects": (out / "pretraining_objects", "category", objectgen_cli.main,
                    ["--per-class", "8"]),
    }  # fmt: skip
    for name, (folder, _, generate, argv) in sets.items():
        if not (folder / "metadata.csv").is_file():
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                generate([str(folder), *argv, "--size", str(max(INPUT_SIZE))])
            log.append({"step": f"generate {name}", "seconds": round(time.perf_counter() - start)})
    return {name: (folder, label) for name, (folder, label, _, _) in sets.items()}


def pretrain(out: Path, args: argparse.Namespace, log: list[dict]) -> dict[str, Path]:
    """Both bases: the untrained small CNN trained whole on each generated set."""
    sets = generated_sets(out, log)
    untrained = out / "bases" / "untrained.json"
    if not untrained.is_file():
        run_step(log, "spec", ["spec", "--architecture", "small_cnn", "--num-classes",
                               str(PRETRAINING_IDENTITIES), "--input-size",
                               *map(str, INPUT_SIZE), "--seed", "0", "--name", "untrained",
                               "--out", str(untrained)])  # fmt: skip
    bases = {}
    for name, (folder, label) in sets.items():
        target = out / "bases" / name
        if not (target / "spec.json").is_file():
            run_step(log, f"pretrain {name}", [
                "finetune", "--images", str(folder / "images"), "--metadata",
                str(folder / "metadata.csv"), "--base", str(untrained), "--label-column", label,
                "--train-all", "--no-group", "--epochs", str(args.epochs), "--out", str(target),
            ])  # fmt: skip
        bases[name] = target / "spec.json"
    return bases


def run_design(orl: Path, args: argparse.Namespace) -> dict:
    """Every step of the design; returns the accuracies, tables and claims as plain data."""
    out, log = Path(args.out), []
    out.mkdir(parents=True, exist_ok=True)
    metadata = out / "orl_metadata.csv"
    write_metadata(orl, metadata)
    bases = pretrain(out, args, log)
    images = ["--images", str(orl), "--metadata", str(metadata)]
    run_step(log, "grid", [
        "grid", *images, *[a for name, spec in bases.items() for a in ("--base", f"{name}={spec}")],
        "--tasks", "identity,gender", "--seeds", ",".join(map(str, args.seeds)),
        "--train-last", "2", "--group-column", "identity", "--epochs", str(args.epochs),
        "--out", str(out / "grid"),
    ])  # fmt: skip
    grid = json.loads((out / "grid" / "grid.json").read_text(encoding="utf-8"))
    maps_paths = []
    for row in grid:
        target = out / "relevance" / row["model"]
        if not (target / "relevance.npz").is_file():
            run_step(log, f"relevance {row['model']}", [
                "relevance", *images, "--model", row["spec"], "--label-column", row["task"],
                "--out", str(target),
            ])  # fmt: skip
        maps_paths.append(target / "relevance.npz")
    if not (out / "generalisation" / "masking.npz").is_file():
        run_step(log, "mask", [
            "mask", "--images", str(orl), "--model", *[row["spec"] for row in grid],
            "--relevance", *map(str, maps_paths), "--out", str(out / "generalisation"),
        ])  # fmt: skip
    start = time.perf_counter()
    replication = analyse(out, grid, maps_paths, args)
    log.append({"step": "replication analysis", "seconds": round(time.perf_counter() - start, 1)})
    return {"grid": grid, "steps": log, **replication}


def analyse(out: Path, grid: list[dict], maps_paths: list[Path], args) -> dict:
    """`replication_analysis` on the files the steps wrote."""
    arrays, record = load_arrays(out / "generalisation" / "masking.npz")
    cross = CrossCorrect(
        correct=arrays["correct"],
        sources=tuple(record["sources"]),
        models=tuple(record["models"]),
        fractions=tuple(record["fractions"]),
        mode=record["parameters"]["mode"],
        unmasked_correct=arrays["unmasked_correct"],
    )
    info = pd.DataFrame(grid)[["model", "pretraining", "task", "seed"]]
    maps = {
        row["model"]: load_arrays(path)[0]["maps"]
        for row, path in zip(grid, maps_paths, strict=True)
    }
    result = replication_analysis(
        cross,
        info,
        maps=maps,
        n_boot=args.n_boot,
        n_permutations=args.n_permutations,
        random_state=0,
    )
    tables = {
        "accuracy": result.accuracy,
        "contrasts": result.contrasts,
        "levels": result.levels,
        "map_relations": result.map_relations,
        "claims": result.claims,
    }
    return {
        name: json.loads(table.to_json(orient="records"))
        for name, table in tables.items()
        if table is not None
    }


def report(result: dict) -> None:
    print("\nValidation accuracy (balanced: mean recall over classes)")
    for row in result["grid"]:
        print(
            f"  {row['model']:28s} accuracy {row['val_accuracy']:.3f}  balanced "
            f"{row['val_balanced_accuracy']:.3f}"
        )
    for name in ("contrasts", "claims"):
        if name in result:
            print(f"\n{name}")
            print(pd.DataFrame(result[name]).to_string(index=False, max_colwidth=60))
    total = sum(step["seconds"] for step in result["steps"])
    print(f"\nsteps: {json.dumps(result['steps'])}\ntotal {total:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--epochs", type=int, default=40, help="maximum epochs per training")
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--n-permutations", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="replication-orl", help="work folder (reused)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    orl = orl_folder()
    if orl is None:
        print("ORL faces not found (set FACESIM_DATASETS_DIR or add ../shared/datasets).")
        return 2
    torch.set_num_threads(args.threads)
    result = run_design(orl, args)
    report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
