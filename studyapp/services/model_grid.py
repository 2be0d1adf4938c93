"""A model grid: pretrained bases x tasks (label columns) x finetuning seeds, in one action.

Each cell is a finetune job; its new model records the base's pretraining, its task and seed
(see ``tasks.computations.finetune``), the attributes the analysis groups models by. The
split seed stays the task's default, so models of one task differ by initialisation only.
"""

from django.db import transaction

from modelsvc.grid import GridCell, cell_settings, grid_cells
from studyapp.models import FaceModel, Job, StimulusSet
from studyapp.services.jobs import job_launch


def grid_child_name(base: FaceModel, task: str, seed: int) -> str:
    """The name of the model a grid cell creates."""
    return f"{base.name} → {task}, seed {seed}"


def model_grid_launch(
    *,
    bases: list[FaceModel],
    stimulus_set: StimulusSet,
    tasks: list[str],
    seeds: list[int],
    params: dict | None = None,
    user=None,
) -> list[Job]:
    """One finetune job per base x task x seed (all or none); finished cells are reused.

    `params` are shared `FinetuneSettings` fields (e.g. ``train_last``, ``max_epochs``); a bad
    grid, an unknown label column or a bad setting raises ValueError naming it.
    """
    by_name = {base.name: base for base in bases}
    cells = grid_cells(list(by_name), list(tasks), list(seeds))
    _check_label_columns(stimulus_set, tasks)
    params = dict(params or {})
    jobs_params = []
    for cell in cells:
        settings = cell_settings(cell, params)  # validates every value before anything starts
        jobs_params.append(_job_params(cell, by_name[cell.pretraining], params, settings))
    with transaction.atomic():
        return [
            job_launch(
                kind=Job.Kind.FINETUNE,
                stimulus_set=stimulus_set,
                face_models=[by_name[cell.pretraining]],
                params=job_params,
                user=user,
            )
            for cell, job_params in zip(cells, jobs_params, strict=True)
        ]


def _job_params(cell: GridCell, base: FaceModel, params: dict, settings) -> dict:
    return {
        **params,
        "name": grid_child_name(base, cell.task, cell.seed),
        "label_column": cell.task,
        "seed": cell.seed,
        "group_column": settings.group_column,
    }


def _check_label_columns(stimulus_set: StimulusSet, tasks: list[str]) -> None:
    """Every task must be a label of every stimulus of the set."""
    labelled = [set(labels) for labels in stimulus_set.stimuli.values_list("labels", flat=True)]
    shared = set.intersection(*labelled) if labelled else set()
    missing = [task for task in tasks if task not in shared]
    if missing:
        raise ValueError(
            f"The 'tasks' of a model grid must be label columns of every image of "
            f"{stimulus_set.name!r} ({sorted(shared)}); got {missing}."
        )
