"""A model grid: every pretraining x task (label column) x finetuning seed, finetuned in one call.

Crawford et al. (2020) compare models that differ in exactly one factor; `run_grid` trains
every cell of that design from files and writes the model table the analysis groups by
(``grid.json``: one row per model with its pretraining, task and seed). A cell whose
``spec.json`` already holds the same base, task, seed and settings is reused, so a second
run (or one with an extra seed) only trains what is missing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from modelsvc.finetuning import FinetuneSettings, finetune
from modelsvc.images import StimulusItem
from modelsvc.spec import ModelSpec
from modelsvc.validation import check_int, fail
from modelsvc.weights import save_checkpoint


@dataclass(frozen=True)
class GridCell:
    """One model of the grid."""

    pretraining: str
    task: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.pretraining}-{self.task}-seed{self.seed}"


def grid_cells(
    pretrainings: Sequence[str], tasks: Sequence[str], seeds: Sequence[int]
) -> list[GridCell]:
    """Every (pretraining, task, seed), pretraining-major; each list non-empty and distinct."""
    for name, values in (("pretrainings", pretrainings), ("tasks", tasks), ("seeds", seeds)):
        if len(values) == 0 or len(set(values)) != len(values):
            raise fail("grid_cells", name, "a non-empty list without repeats", list(values))
    for seed in seeds:
        check_int("grid_cells", "seeds", seed, minimum=0)
    return [GridCell(p, t, s) for p in pretrainings for t in tasks for s in seeds]


def cell_settings(cell: GridCell, hyper: Mapping[str, Any]) -> FinetuneSettings:
    """The cell's settings: its task and seed plus the shared `hyper`-parameters (any
    `FinetuneSettings` field but the label column and seed). A task that is also the group
    column is split without groups; the split seed is the task's unless `hyper` fixes one."""
    allowed = {f.name for f in fields(FinetuneSettings)} - {"label_column", "seed"}
    unknown = sorted(set(hyper) - allowed)
    if unknown:
        raise fail(
            "cell_settings", "hyper", f"FinetuneSettings fields of {sorted(allowed)}", unknown
        )
    group = hyper.get("group_column", FinetuneSettings.group_column)
    return FinetuneSettings(
        **{**hyper, "group_column": None if group == cell.task else group},
        label_column=cell.task,
        seed=cell.seed,
    )


def run_grid(
    bases: Mapping[str, ModelSpec],
    items: Sequence[StimulusItem],
    tasks: Sequence[str],
    seeds: Sequence[int],
    out: str | Path,
    hyper: Mapping[str, Any] | None = None,
    device=None,
    progress: bool = True,
) -> list[dict]:
    """Finetune every base (keyed by its pretraining's name) for every task and seed.

    `hyper` holds the shared hyper-parameters (see `cell_settings`). Writes
    ``<out>/<cell>/{model.pt,spec.json}`` and ``<out>/grid.json``; returns the table's rows.
    """
    out = Path(out)
    cells = grid_cells(list(bases), tasks, seeds)
    settings = {cell: cell_settings(cell, hyper or {}) for cell in cells}  # all checked first
    rows = []
    for cell in cells:
        base = bases[cell.pretraining]
        folder = out / cell.name
        spec = _reusable(folder / "spec.json", base, settings[cell])
        if spec is None:
            result = finetune(base, items, settings[cell], device=device, progress=progress)
            folder.mkdir(parents=True, exist_ok=True)
            named = result.spec.replace(name=cell.name)
            spec = save_checkpoint(folder / "model.pt", result.model, named)
            spec.save(folder / "spec.json")
        training = spec.training
        rows.append(
            {
                "model": cell.name,
                "pretraining": cell.pretraining,
                "task": cell.task,
                "seed": cell.seed,
                "split_seed": training["settings"]["split_seed"],
                "val_accuracy": training["val_accuracy"],
                "val_balanced_accuracy": training["val_balanced_accuracy"],
                "spec": str(folder / "spec.json"),
            }
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / "grid.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return rows


def _reusable(path: Path, base: ModelSpec, settings: FinetuneSettings) -> ModelSpec | None:
    """The spec at `path` if it was trained from `base` with `settings`, else None."""
    if not path.is_file():
        return None
    spec = ModelSpec.load(path)
    training = spec.training or {}
    same = (
        spec.parent == base.cache_key()
        and training.get("settings") == json.loads(json.dumps(asdict(settings)))
        and Path(spec.weights_path or "").is_file()
    )
    return spec if same else None
