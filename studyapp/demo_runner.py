"""Run the demo study end to end (used by ``manage.py demo`` and its test), showing progress:
redrawn bars on a terminal, one line per finished step when the output is a log or a pipe.

Faces → two pretrainings (generated faces; generated objects) → a model grid finetuned for two
tasks × two seeds on each (8 models) → simulated participants through
the HTTP interface (triplets from a known structure, Bubbles trials from the faces' eyes) →
the standard pipeline → report. Workers must be running (``bin/demo``
starts one) and the web server must answer at ``base_url`` for the simulated participants.
"""

import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from studyapp.bots import ParticipantBot
from studyapp.models import Artifact, FaceModel, Job, Participant, Study
from studyapp.selectors.reports import latest_report
from studyapp.services.demo import (
    ARRANGEMENT_STUDY,
    DEMO_GROUP_SETTINGS,
    DEMO_GROUPS,
    DEMO_PRETRAININGS,
    PIPELINE_STUDY,
    DemoConfig,
    DemoSets,
    arrangement_policy,
    demo_base_model,
    demo_researcher,
    demo_stimulus_sets,
    demo_studies,
    dissection_job,
    finetune_job,
    finetuning_params,
    odd_one_out_policy,
    pretraining_params,
    truth_dissimilarity,
)
from studyapp.services.demo_bubbles import EyesObservers
from studyapp.services.job_graph import pipeline_launch
from studyapp.services.model_grid import model_grid_launch

DEMO_STEPS = {
    "masking": {"fractions": [0.05, 0.1, 0.2, 0.3, 0.5]},
    "decision": {"fractions": [0.05, 0.1, 0.2, 0.3, 0.5]},
    "report": {
        "methods": ["spearman", "pearson"],
        "n_boot": 200,
        "n_permutations": 1000,
        "n_splits": 50,
        "embedding_dims": [2, 4, 8],
        "embedding_folds": 3,
        **DEMO_GROUP_SETTINGS,
    },
}


@dataclass(frozen=True)
class DemoResult:
    study: Study
    username: str
    password: str
    models: list[FaceModel]
    report: Artifact | None


class JobFailed(RuntimeError):
    pass


def redraw_bars() -> bool:
    """Progress bars only on a terminal: in a CI log or through ``| tee`` every redraw would be
    a line of its own, so there each finished step prints one line instead."""
    return sys.stdout.isatty() and sys.stderr.isatty()


def step_done(text: str) -> None:
    print(text, flush=True)


def wait_for_jobs(jobs: Iterable[Job], *, progress: bool, timeout: float = 3600) -> None:
    """Poll until every job finished, with one progress bar per job (or one line per finished
    job, see `redraw_bars`); raise if one failed."""
    jobs = list(jobs)
    bars_shown = progress and redraw_bars()
    lines = progress and not bars_shown
    bars = {
        job.pk: tqdm(total=1, desc=_label(job), disable=not bars_shown, leave=True) for job in jobs
    }
    reported = set()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for job in jobs:
                job.refresh_from_db()
                bar = bars[job.pk]
                bar.total = max(job.progress_total, 1)
                bar.n = (
                    job.progress_total if job.status == Job.Status.SUCCEEDED else job.progress_done
                )
                bar.set_postfix_str(job.status, refresh=False)
                bar.refresh()
                if lines and job.is_finished and job.pk not in reported:
                    reported.add(job.pk)
                    done = f"{job.progress_done}/{job.progress_total}"
                    step_done(f"{_label(job).rstrip()}: {job.status} ({done})")
            failed = [
                job for job in jobs if job.status in (Job.Status.FAILED, Job.Status.CANCELLED)
            ]
            if failed:
                raise JobFailed("; ".join(f"job #{j.pk} {j.kind}: {j.error}" for j in failed))
            if all(job.is_finished for job in jobs):
                return
            time.sleep(0.5)
        raise JobFailed(f"jobs still running after {timeout} s")
    finally:
        for bar in bars.values():
            bar.close()


def _label(job: Job) -> str:
    models = ", ".join(job.face_models.values_list("name", flat=True)) or job.study.slug
    return f"{job.kind} · {models}"[:48].ljust(48)


def _model(name: str) -> FaceModel:
    return FaceModel.objects.get(name=name)


def train_models(config: DemoConfig, sets: DemoSets, owner, *, progress: bool) -> list[FaceModel]:
    """Both pretrained CNNs, then the model grid: each finetuned for every task and seed."""
    pretrainings = {
        kind: (getattr(sets, field), label_column)
        for kind, (field, label_column) in DEMO_PRETRAININGS.items()
    }
    names = {kind: f"Demo small CNN, {kind}-pretrained{config.suffix}" for kind in pretrainings}
    jobs = [
        finetune_job(
            base=demo_base_model(config),
            stimulus_set=stimulus_set,
            name=names[kind],
            owner=owner,
            **pretraining_params(config, label_column),
        )
        for kind, (stimulus_set, label_column) in pretrainings.items()
    ]
    wait_for_jobs(jobs, progress=progress)
    bases = []
    for kind, name in names.items():
        FaceModel.objects.filter(name=name).update(pretraining=kind)
        bases.append(_model(name))
    jobs = model_grid_launch(
        bases=bases,
        stimulus_set=sets.faces,
        tasks=list(config.tasks),
        seeds=list(config.seeds),
        params=finetuning_params(config),
        user=owner,
    )
    wait_for_jobs(jobs, progress=progress)
    return [_model(job.params["name"]) for job in jobs]


def simulate_participants(
    study: Study, config: DemoConfig, base_url: str, *, progress: bool
) -> int:
    """Bots answer the study's triplets (or arrangements) from the known structure until enough
    have completed; they take turns between the age groups of ``DEMO_GROUPS`` (questionnaire
    and weights). Bubbles trials (if the study has them) they answer from the eyes
    (``EyesObservers``)."""
    done = study.participants.filter(status=Participant.Status.COMPLETED).count()
    missing = max(0, config.participants - done)
    stimuli = list(study.stimulus_set.stimuli.order_by("pk").values_list("pk", "labels"))
    arranging = study.trial_types == ["arrangement"]
    policy = arrangement_policy if arranging else odd_one_out_policy
    noise = config.placement_noise if arranging else config.choice_noise
    groups = [
        (
            {"age_band": band, "handedness": "right"},
            policy(
                [pk for pk, _ in stimuli],
                truth_dissimilarity(stimuli, weights=weights),
                noise,
            ),
        )
        for band, weights in DEMO_GROUPS.items()
    ]
    right = [question["answer"] for question in study.comprehension_questions]
    observers = EyesObservers(study) if "bubbles" in study.trial_types else None
    bots = []
    for n in range(done, done + missing):
        answers, answer = groups[n % len(groups)]
        if observers is not None:
            answer = observers.participant(answer)
        bots.append(
            ParticipantBot(
                base_url,
                study.slug,
                f"demo-bot-{n}",
                answer=answer,
                questionnaire=answers,
                seed=n,
                comprehension_answers=right,
            )
        )
    bars_shown = progress and redraw_bars()
    with (
        ThreadPoolExecutor(4) as pool,
        tqdm(total=missing, desc="simulated participants", disable=not bars_shown) as bar,
    ):
        for _ in pool.map(lambda bot: bot.run(), bots):
            bar.update()
    if progress and not bars_shown:
        step_done(f"simulated participants: {missing} completed")
    return missing


def run_demo(
    *,
    base_url: str,
    password_file: Path,
    config: DemoConfig | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    steps: dict[str, dict] | None = None,
) -> DemoResult:
    config = config or DemoConfig()
    log("Generating and importing the demo faces …")
    sets = demo_stimulus_sets(config)
    user, password = demo_researcher(password_file)
    studies = demo_studies(stimulus_set=sets.faces, owner=user, config=config)
    study = next(s for s in studies if s.slug == PIPELINE_STUDY + config.suffix)
    n_models = 2 * len(config.tasks) * len(config.seeds)
    log(
        f"Training the models (2 pretrainings, then a grid of 2 × {len(config.tasks)} tasks × "
        f"{len(config.seeds)} seeds = {n_models} models) …"
    )
    models = train_models(config, sets, user, progress=progress)
    study.face_models.set(models)
    log("Simulated participants take part through the web interface …")
    simulate_participants(study, config, base_url, progress=progress)
    log("Dissecting the models' units on the faces' Face Dictionary …")
    wait_for_jobs([dissection_job(study=study, models=models, owner=user)], progress=progress)
    log("Running the standard pipeline (embeddings, relevance, masking, report) …")
    jobs = pipeline_launch(study=study, user=user, step_params=steps or DEMO_STEPS)
    wait_for_jobs(jobs.values(), progress=progress)
    arrangement = next(s for s in studies if s.slug == ARRANGEMENT_STUDY + config.suffix)
    arrangement.face_models.set(models)
    log("Simulated participants arrange faces; its report reuses the models' results …")
    simulate_participants(arrangement, config, base_url, progress=progress)
    jobs = pipeline_launch(study=arrangement, user=user, step_params=steps or DEMO_STEPS)
    wait_for_jobs(jobs.values(), progress=progress)
    return DemoResult(study, user.username, password, models, latest_report(study=study))
