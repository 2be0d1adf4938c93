"""Command line: ``python -m modelsvc {spec,finetune,grid,embed,relevance,mask,compare,dissect,
dissect-bias}``.

Each command reads an image folder (plus a metadata CSV where labels are needed) and writes
``.npz`` arrays with a JSON record next to them (see `modelsvc.artifacts`). Unreadable images
are skipped and listed under ``"failed"`` in the record.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from modelsvc.architectures import ARCHITECTURES, get_architecture
from modelsvc.artifacts import load_arrays, save_arrays
from modelsvc.builtin import BUILTIN_MODELS, builtin_spec
from modelsvc.comparison import compare_maps
from modelsvc.device import pick_device
from modelsvc.dissection.activations import DEFAULT_TOP_FRACTION
from modelsvc.dissection.bias import BiasSettings, write_bias_experiment
from modelsvc.dissection.dictionary import DEFAULT_MIN_POSITIVES
from modelsvc.dissection.files import dissect_folder
from modelsvc.embeddings import POOLINGS, extract_embeddings
from modelsvc.finetuning import FinetuneSettings, finetune
from modelsvc.generalisation import (
    BASELINES,
    CrossMasking,
    cross_model_masking,
    summarise_generalisation,
)
from modelsvc.grid import run_grid
from modelsvc.image_runs import map_over_images
from modelsvc.images import StimulusItem, discover_images, read_metadata
from modelsvc.labels import class_indices
from modelsvc.masking import (
    DEFAULT_FRACTIONS,
    FILLS,
    MODES,
    MaskingSettings,
    mean_fill_value,
)
from modelsvc.relevance import BACKENDS, METHODS, compute_relevance
from modelsvc.similarity import METRICS, dissimilarity_matrix
from modelsvc.spec import WEIGHTS_FORMATS, ModelSpec
from modelsvc.validation import check_fractions
from modelsvc.version import code_version
from modelsvc.weights import load_model, save_checkpoint

DTYPES = {
    "model": None,
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        summary = args.handler(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0


# ----------------------------------------------------------------------------- commands
def _spec(args: argparse.Namespace) -> dict:
    arch = get_architecture(args.architecture)
    spec = ModelSpec(
        architecture=args.architecture,
        num_classes=args.num_classes,
        input_size=tuple(args.input_size or arch.input_size),
        mean=tuple(args.mean),
        std=tuple(args.std),
        layers=tuple(args.layers.split(",")) if args.layers else arch.layers,
        weights_path=str(Path(args.weights).resolve()) if args.weights else None,
        weights_format=args.weights_format if args.weights else None,
        seed=args.seed,
        name=args.name or args.architecture,
    )
    load_model(spec)  # fail now, not in a later command, if the weights do not fit
    path = spec.save(args.out)
    return {"spec": str(path), "cache_key": spec.cache_key()}


def _finetune(args: argparse.Namespace) -> dict:
    base = _base_spec(args)
    items = read_metadata(args.metadata, args.images, args.filename_column)
    settings = FinetuneSettings(
        label_column=args.label_column,
        seed=args.seed,
        split_seed=args.split_seed,
        train_last=None if args.train_all else args.train_last,
        val_fraction=args.val_fraction,
        group_column=None if args.no_group else args.group_column,
        max_epochs=args.epochs,
        patience=args.patience,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
    )
    result = finetune(base, items, settings, device=args.device, progress=not args.quiet)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    spec = save_checkpoint(out / "model.pt", result.model, result.spec)
    spec.save(out / "spec.json")
    training = spec.training or {}
    return {
        "spec": str(out / "spec.json"),
        "val_accuracy": training.get("val_accuracy"),
        "val_balanced_accuracy": training.get("val_balanced_accuracy"),
        "best_epoch": training.get("best_epoch"),
        "epochs_run": len(training.get("history", [])),
    }


def _grid(args: argparse.Namespace) -> dict:
    bases = {}
    for text in args.base:
        name, _, path = text.partition("=")
        if not name or not path or name in bases:
            raise ValueError(f"--base takes distinct NAME=SPEC.json pairs; got {text!r}.")
        bases[name] = ModelSpec.load(path)
    hyper = {
        "split_seed": args.split_seed,
        "train_last": None if args.train_all else args.train_last,
        "val_fraction": args.val_fraction,
        "group_column": None if args.no_group else args.group_column,
        "max_epochs": args.epochs,
        "patience": args.patience,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
    }
    rows = run_grid(
        bases,
        read_metadata(args.metadata, args.images, args.filename_column),
        _names(args.tasks),
        [int(seed) for seed in _names(args.seeds)],
        args.out,
        hyper,
        device=args.device,
        progress=not args.quiet,
    )
    return {"grid": str(Path(args.out) / "grid.json"), "models": rows}


def _embed(args: argparse.Namespace) -> dict:
    spec, model = _load(args)
    items = _items(args)
    layers = args.layers.split(",") if args.layers else list(spec.layers)
    run = map_over_images(
        items,
        spec.input_size,
        lambda images, _: extract_embeddings(model, spec, images, layers, args.pooling),
        args.batch_size,
        progress=not args.quiet,
        description="embed",
    )
    _require_images(run.keys)
    out = Path(args.out)
    record = {
        "method": "embeddings",
        "parameters": {"layers": layers, "pooling": args.pooling},
        "code_version": code_version("embeddings"),
        "model": spec.cache_key(),
        "model_name": spec.name,
        "stimulus_ids": run.keys,
        "failed": run.failure_record(),
    }
    save_arrays(
        out / "embeddings.npz", {k: v.astype(np.float16) for k, v in run.value.items()}, record
    )
    matrices = {
        layer: dissimilarity_matrix(run.value[layer], run.keys, args.metric, layer).matrix
        for layer in layers
    }
    save_arrays(
        out / "dissimilarity.npz",
        {k: v.astype(np.float32) for k, v in matrices.items()},
        {**record, "method": "dissimilarity", "metric": args.metric},
    )
    return {
        "embeddings": str(out / "embeddings.npz"),
        "images": len(run.keys),
        "failed": len(run.failures),
    }


def _relevance(args: argparse.Namespace) -> dict:
    spec, model = _load(args)
    items = _items(args)
    targets = _targets(items, spec, args.label_column)
    records: list[dict] = []

    def compute(images: torch.Tensor, indices: list[int]) -> dict[str, np.ndarray]:
        result = compute_relevance(
            model,
            spec,
            images,
            method=args.method,
            targets=None if targets is None else targets[indices],
            backend=args.backend,
            dtype=DTYPES[args.dtype],
        )
        records.append(result.record())
        return {"maps": result.maps, "logits": result.logits, "targets": result.targets}

    run = map_over_images(
        items, spec.input_size, compute, args.batch_size, not args.quiet, "relevance"
    )
    _require_images(run.keys)
    record = {
        **records[0],
        "backend": sorted({r["backend"] for r in records}),
        "target_source": "predicted" if targets is None else "labels",
        "model": spec.cache_key(),
        "model_name": spec.name,
        "model_spec": str(Path(args.model).resolve()),
        "stimulus_ids": run.keys,
        "images_dir": str(Path(args.images).resolve()),
        "failed": run.failure_record(),
    }
    save_arrays(Path(args.out) / "relevance.npz", run.value, record)
    return {
        "relevance": str(Path(args.out) / "relevance.npz"),
        "images": len(run.keys),
        "failed": len(run.failures),
        "backend": record["backend"],
    }


def _mask(args: argparse.Namespace) -> dict:
    if len(args.model) != len(args.relevance):
        raise ValueError(
            f"Give one --relevance file per --model; got {len(args.model)} models and "
            f"{len(args.relevance)} relevance files."
        )
    check_fractions("mask", "fractions", args.fractions)  # fail before any work
    device = pick_device(args.device)
    loaded = [_load_spec_model(path, device) for path in args.model]
    stems = [Path(path).stem for path in args.model]
    names = _distinct([spec.name or stem for (spec, _), stem in zip(loaded, stems, strict=True)])
    common, arrays = _aligned_relevance(args.relevance, names)
    items = [StimulusItem(key, Path(args.images) / key) for key in common]
    size = loaded[0][0].input_size
    fill_value = None
    if args.fill == "mean":
        fill_value = mean_fill_value(
            items, size, batch_size=args.batch_size, progress=not args.quiet
        )
    settings = MaskingSettings(
        fractions=tuple(args.fractions),
        mode=args.mode,
        fill=args.fill,
        fill_value=fill_value,
        blur_sigma=args.blur_sigma,
        seed=args.seed,
    )
    models = {name: (model, spec) for name, (spec, model) in zip(names, loaded, strict=True)}
    sources: list[tuple[str, ...]] = []

    def compute(images: torch.Tensor, indices: list[int]) -> dict[str, np.ndarray]:
        part = cross_model_masking(
            models,
            images,
            {name: arrays[name]["maps"][indices] for name in names},
            {name: arrays[name]["targets"][indices] for name in names},
            [common[i] for i in indices],
            settings,
            baselines=args.baselines,
        )
        sources[:] = [part.sources]
        return {  # image axis first, as map_over_images expects
            "correct": part.correct.transpose(2, 0, 1, 3),
            "target_logit": part.target_logit.transpose(2, 0, 1, 3),
            "unmasked_correct": part.unmasked_correct.T,
        }

    run = map_over_images(items, size, compute, args.batch_size, not args.quiet, "mask")
    _require_images(run.keys)
    cross = CrossMasking(
        sources=sources[0],
        models=tuple(names),
        correct=run.value["correct"].transpose(1, 2, 0, 3),
        target_logit=run.value["target_logit"].transpose(1, 2, 0, 3),
        unmasked_correct=run.value["unmasked_correct"].T,
    )
    summary = summarise_generalisation(cross, settings.fractions)
    result = {
        "correct": cross.correct,
        "target_logit": cross.target_logit,
        "unmasked_correct": cross.unmasked_correct,
        "accuracy": summary.accuracy,
        "mean_target_logit": summary.mean_target_logit,
        "auc": summary.auc,
        "asymmetry": summary.asymmetry,
        "asymmetry_auc": summary.asymmetry_auc,
        "unmasked_accuracy": summary.unmasked_accuracy,
    }
    record = {
        "method": "relevance_masking",
        "parameters": settings.record(size),
        **summary.record(),
        "model_keys": [spec.cache_key() for spec, _ in loaded],
        "relevance_files": [str(Path(p).resolve()) for p in args.relevance],
        "stimulus_ids": run.keys,
        "failed": run.failure_record(),
    }
    save_arrays(Path(args.out) / "masking.npz", result, record)
    return {
        "masking": str(Path(args.out) / "masking.npz"),
        "sources": list(summary.sources),
        "models": list(summary.models),
        "auc": np.round(summary.auc, 4).tolist(),
    }


def _compare(args: argparse.Namespace) -> dict:
    if args.names:
        names = args.names.split(",")
    else:
        records = [load_arrays(path)[1] for path in args.relevance]
        parents = [Path(path).parent.name for path in args.relevance]
        names = _distinct([r.get("model_name") or p for r, p in zip(records, parents, strict=True)])
    if len(names) != len(args.relevance) or len(set(names)) != len(names):
        raise ValueError(f"--names needs one distinct name per relevance file; got {names}.")
    common, arrays = _aligned_relevance(args.relevance, names)
    maps = {name: arrays[name]["maps"] for name in names}
    comparison = compare_maps(maps, tuple(args.fractions))
    summary = comparison.summary()
    arrays = {
        "spearman": comparison.spearman,
        "pearson": comparison.pearson,
        "iou": comparison.iou,
        **{f"mean_{k}": v for k, v in summary.items()},
    }
    record = {"method": "relevance_comparison", **comparison.record(), "stimulus_ids": common}
    save_arrays(Path(args.out) / "comparison.npz", arrays, record)
    return {
        "comparison": str(Path(args.out) / "comparison.npz"),
        "models": names,
        "mean_spearman": np.round(summary["spearman"], 4).tolist(),
    }


# ----------------------------------------------------------------------------- helpers
def _dissect(args: argparse.Namespace) -> dict:
    spec, model = _load(args)
    bad = [item for item in args.local if item.count("=") != 1 or item.startswith("=")]
    if bad:
        raise ValueError(f"--local takes COLUMN=PART; got {bad}.")
    local = dict(item.split("=") for item in args.local)
    path = dissect_folder(
        args.set,
        model=model,
        spec=spec,
        layers=_names(args.layers),
        out=args.out,
        local_columns=local,
        global_columns=args.global_column,
        top_fraction=args.top_fraction,
        min_positives=args.min_positives,
        baseline_seed=None if args.no_baseline else args.baseline_seed,
        batch_size=args.batch_size,
    )
    return {"dissection": str(path)}


def _dissect_bias(args: argparse.Namespace) -> dict:
    settings = BiasSettings(
        identities=args.identities,
        images_per_identity=args.per_identity,
        data_seed=args.data_seed,
        bias_rate=args.bias_rate,
        seeds=tuple(int(seed) for seed in _names(args.seeds)),
        dictionary_identities=args.dictionary_identities,
        dictionary_seed=args.dictionary_seed,
        layers=tuple(_names(args.layers)),
        min_auc=args.min_auc,
        n_permutations=args.permutations,
        n_bootstrap=args.bootstrap,
    )
    return write_bias_experiment(
        settings, out=args.out, device=args.device, progress=not args.quiet
    )


def _distinct(names: list[str]) -> list[str]:
    """`names`, prefixed by their position when they are not all different."""
    return names if len(set(names)) == len(names) else [f"{i}:{n}" for i, n in enumerate(names)]


def _aligned_relevance(paths: Sequence[str], names: Sequence[str]):
    """Stimulus ids present in every relevance file, and each file's arrays in that order."""
    loaded = [load_arrays(path) for path in paths]
    shared = set.intersection(*(set(record["stimulus_ids"]) for _, record in loaded))
    common = [key for key in loaded[0][1]["stimulus_ids"] if key in shared]
    _require_images(common)
    aligned = {}
    for name, (arrays, record) in zip(names, loaded, strict=True):
        rows = {key: i for i, key in enumerate(record["stimulus_ids"])}
        order = [rows[key] for key in common]
        aligned[name] = {key: value[order] for key, value in arrays.items()}
    return common, aligned


def _base_spec(args: argparse.Namespace) -> ModelSpec:
    if args.base.endswith(".json"):
        return ModelSpec.load(args.base)
    arch = get_architecture(args.base)
    return ModelSpec(
        architecture=args.base,
        num_classes=1,
        input_size=tuple(args.input_size or arch.input_size),
        layers=arch.layers,
        seed=args.seed,
        name=f"{args.base}-random",
    )


def _load_spec_model(path: str, device: torch.device):
    spec = ModelSpec.load(path)
    return spec, load_model(spec, device)


def _load(args: argparse.Namespace):
    if getattr(args, "architecture", None):
        spec = builtin_spec(args.architecture)
        return spec, load_model(spec, pick_device(args.device))
    return _load_spec_model(args.model, pick_device(args.device))


def _items(args: argparse.Namespace) -> list[StimulusItem]:
    if args.metadata:
        return read_metadata(args.metadata, args.images, args.filename_column)
    return discover_images(args.images)


def _targets(items, spec: ModelSpec, label_column: str | None) -> np.ndarray | None:
    """Class indices from the labels (column `label_column`, default the spec's task)."""
    column = label_column or spec.task
    if column is None or not items or column not in items[0].labels:
        if label_column is not None:
            raise ValueError(f"The metadata has no column {label_column!r}.")
        return None
    labels = [item.labels[column] for item in items]
    targets = class_indices(labels, spec.class_names)
    unknown = sorted({label for label, target in zip(labels, targets, strict=True) if target < 0})
    if unknown:
        raise ValueError(
            f"Labels {unknown} in column {column!r} are not classes of model {spec.name!r} "
            f"({list(spec.class_names)})."
        )
    return targets


def _require_images(keys: Sequence[str]) -> None:
    if len(keys) == 0:
        raise ValueError("No image could be loaded (or no stimulus ids are shared).")


def _names(text: str) -> list[str]:
    return [part for part in text.split(",") if part]


def _floats(text: str) -> list[float]:
    return [float(part) for part in text.split(",")]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m modelsvc", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        sub.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda")
        sub.add_argument("--batch-size", type=int, default=16)
        sub.add_argument("--quiet", action="store_true", help="no progress bars")
        return sub

    def images(sub: argparse.ArgumentParser, metadata_required: bool = False) -> None:
        sub.add_argument("--images", required=True, help="image folder")
        sub.add_argument("--metadata", required=metadata_required, help="CSV with labels")
        sub.add_argument("--filename-column", default="filename")

    sub = command("spec", _spec, "write a model spec JSON (checks that the weights load)")
    sub.add_argument("--architecture", required=True, choices=sorted(ARCHITECTURES))
    sub.add_argument("--num-classes", type=int, required=True)
    sub.add_argument("--weights", help="local weights file (omit for random weights)")
    sub.add_argument("--weights-format", choices=WEIGHTS_FORMATS, default="torchvision")
    sub.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"))
    sub.add_argument("--mean", type=float, nargs=3, default=[0.485, 0.456, 0.406])
    sub.add_argument("--std", type=float, nargs=3, default=[0.229, 0.224, 0.225])
    sub.add_argument("--layers", help="comma-separated layer names of interest")
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--name")
    sub.add_argument("--out", required=True, help="spec JSON path")

    def training(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--split-seed", type=int, help="train/validation split (default: task's)")
        sub.add_argument("--group-column", default="identity")
        sub.add_argument("--no-group", action="store_true", help="split without groups")
        sub.add_argument("--train-last", type=int, default=1, help="trainable conv/linear layers")
        sub.add_argument("--train-all", action="store_true", help="train every layer")
        sub.add_argument("--val-fraction", type=float, default=0.25)
        sub.add_argument("--epochs", type=int, default=60)
        sub.add_argument("--patience", type=int, default=15)
        sub.add_argument("--learning-rate", type=float, default=1e-3)

    sub = command("finetune", _finetune, "train a new head on a labelled image folder")
    images(sub, metadata_required=True)
    architectures = ", ".join(sorted(ARCHITECTURES))
    base_help = f"base spec JSON, or an architecture ({architectures}) for random weights"
    sub.add_argument("--base", required=True, help=base_help)
    sub.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"))
    sub.add_argument("--label-column", required=True)
    sub.add_argument("--seed", type=int, default=0, help="initialisation, shuffling, dropout")
    training(sub)
    sub.add_argument("--out", required=True, help="output folder (model.pt, spec.json)")

    sub = command("grid", _grid, "finetune every pretraining x task x seed (the model grid)")
    images(sub, metadata_required=True)
    sub.add_argument(
        "--base", action="append", required=True, metavar="NAME=SPEC.json",
        help="a pretrained base model, named by its pretraining (repeat for each)",
    )  # fmt: skip
    sub.add_argument("--tasks", required=True, help="comma-separated label columns")
    sub.add_argument("--seeds", required=True, help="comma-separated finetuning seeds")
    training(sub)
    sub.add_argument("--out", required=True, help="output folder (a folder per model, grid.json)")

    sub = command("embed", _embed, "layer embeddings and dissimilarity matrices")
    images(sub)
    model = sub.add_mutually_exclusive_group(required=True)
    model.add_argument("--model", help="model spec JSON")
    model.add_argument(
        "--architecture", choices=sorted(BUILTIN_MODELS), help="a built-in pretrained model"
    )
    sub.add_argument("--layers", help="comma-separated layer names (default: the spec's)")
    sub.add_argument("--pooling", choices=POOLINGS, default="gap")
    sub.add_argument("--metric", choices=METRICS, default="correlation")
    sub.add_argument("--out", required=True)

    sub = command("relevance", _relevance, "relevance maps (LRP or gradient baselines)")
    images(sub)
    sub.add_argument("--model", required=True, help="model spec JSON")
    sub.add_argument("--method", choices=sorted(METHODS), default="epsilon_plus_flat")
    sub.add_argument("--backend", choices=BACKENDS, default="auto")
    sub.add_argument(
        "--dtype",
        choices=sorted(DTYPES),
        default="model",
        help="fast-path compute dtype, e.g. bfloat16 on a GPU (default: the model's)",
    )
    target_help = "targets from this label column (default: the model's task, else predicted)"
    sub.add_argument("--label-column", help=target_help)
    sub.add_argument("--out", required=True)

    mask_help = "relevance masking; several models give the generalisation matrix (A -> B)"
    sub = command("mask", _mask, mask_help)
    sub.add_argument("--images", required=True, help="image folder the relevance was made on")
    sub.add_argument("--model", nargs="+", required=True, help="model spec JSONs")
    sub.add_argument("--relevance", nargs="+", required=True, help="relevance.npz per model")
    sub.add_argument("--fractions", type=_floats, default=list(DEFAULT_FRACTIONS))
    sub.add_argument("--mode", choices=MODES, default="keep")
    sub.add_argument("--fill", choices=FILLS, default="mean")
    sub.add_argument("--blur-sigma", type=float)
    sub.add_argument("--baselines", type=_names, default=["random"], help=f"from {BASELINES}")
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--out", required=True)

    dissect_help = "per-image unit counts for network dissection (pair with analysis.dissection)"
    sub = command("dissect", _dissect, dissect_help)
    sub.add_argument("--set", required=True, help="folder: images/, masks/, parts.json, CSV")
    sub.add_argument("--model", required=True, help="model spec JSON")
    sub.add_argument("--layers", required=True, help="comma-separated convolutional layers")
    local_help = "COLUMN=PART: a metadata column that is a local attribute of a part"
    sub.add_argument("--local", action="append", default=[], metavar="COLUMN=PART", help=local_help)
    global_help = "a metadata column that is a global concept (repeatable)"
    sub.add_argument("--global-column", action="append", default=[], help=global_help)
    sub.add_argument("--top-fraction", type=float, default=DEFAULT_TOP_FRACTION)
    sub.add_argument("--min-positives", type=int, default=DEFAULT_MIN_POSITIVES)
    sub.add_argument("--baseline-seed", type=int, default=0, help="random-weights copy seed")
    sub.add_argument("--no-baseline", action="store_true", help="skip the random-weights copy")
    sub.add_argument("--out", required=True)

    bias_help = "planted glasses-gender bias: train biased and control models, dissect, compare"
    sub = command("dissect-bias", _dissect_bias, bias_help)
    defaults = BiasSettings()
    sub.add_argument("--identities", type=int, default=defaults.identities)
    sub.add_argument("--per-identity", type=int, default=defaults.images_per_identity)
    sub.add_argument("--data-seed", type=int, default=defaults.data_seed)
    rate_help = "glasses share in one gender (1 - rate in the other; control: 0.5 in both)"
    sub.add_argument("--bias-rate", type=float, default=defaults.bias_rate, help=rate_help)
    seeds_help = "comma-separated finetuning seeds (at least 2)"
    sub.add_argument("--seeds", default=",".join(map(str, defaults.seeds)), help=seeds_help)
    sub.add_argument("--dictionary-identities", type=int, default=defaults.dictionary_identities)
    sub.add_argument("--dictionary-seed", type=int, default=defaults.dictionary_seed)
    sub.add_argument("--layers", default=",".join(defaults.layers))
    sub.add_argument("--min-auc", type=float, default=defaults.min_auc, help="global pairing")
    sub.add_argument("--permutations", type=int, default=defaults.n_permutations)
    sub.add_argument("--bootstrap", type=int, default=defaults.n_bootstrap)
    sub.add_argument("--out", required=True, help="folder: summary.json, shares.csv, figure")

    sub = command("compare", _compare, "compare relevance maps between models")
    sub.add_argument("--relevance", nargs="+", required=True, help="relevance.npz per model")
    sub.add_argument("--names", help="comma-separated model names")
    sub.add_argument("--fractions", type=_floats, default=list(DEFAULT_FRACTIONS))
    sub.add_argument("--out", required=True)
    return parser
