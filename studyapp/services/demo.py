"""The built-in demo study, from generated faces to the correlation report.

Everything is created once and found again on later runs (names and slugs are fixed; compute
jobs reuse their artifacts), so running the demo twice only redoes what is missing.

The design follows Crawford et al. (2020) in miniature: a small CNN is pretrained twice, on a
separate set of generated identities (the "VGG-Face analogue") and on generated non-face
objects (``objectgen``, the "ImageNet analogue"); both are then finetuned on the demo faces for
two tasks (gender, identity) with two seeds each, as one model grid (8 models); simulated
participants answer a short questionnaire and judge triplets from a known similarity structure,
in two age groups with a planted difference (the older group weights the faces' gender more);
the pipeline then compares the models with them, per participant group and across the faces'
gender.
"""

import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

import facegen
import objectgen
from analysis.human.arrangement import simulate_arrangement
from modelsvc import ModelSpec
from studyapp.models import FaceModel, Job, StimulusSet, Study, StudyMembership, TrialType
from studyapp.questionnaire import parse_spec
from studyapp.services.demo_bubbles import pipeline_study_bubbles
from studyapp.services.face_models import face_model_register
from studyapp.services.jobs import job_launch
from studyapp.services.stimuli import stimulus_set_import
from studyapp.services.studies import study_set_status
from studyapp.stimulus_sources import files_from_folder

DEMO_USERNAME = "researcher"
DEMO_STUDIES = {
    TrialType.TRIPLET: "demo-triplets",
    TrialType.RATING: "demo-ratings",
    TrialType.AFC: "demo-afc",
    TrialType.ARRANGEMENT: "demo-arrangement",
}
PIPELINE_STUDY = "demo-triplets"
ARRANGEMENT_STUDY = "demo-arrangement"  # answered by the simulated participants too
# Design changes per trial type: a multi-arrangement session is a few long trials.
DEMO_DESIGNS = {
    TrialType.ARRANGEMENT: {
        "trials_per_participant": 6,
        "practice_trials": 1,
        "repeat_rate": 0,
        "catch_rate": 0,
        "arrangement": {"subset_size": 8},
    }
}
CONSENT = """**Consent.** This is a demonstration of FaceSim Lab. You will judge the similarity of
generated (not real) faces for about five minutes. Your answers are stored under a pseudonym and
used only to demonstrate the software. You may stop at any time by closing the page."""
INSTRUCTIONS = """Look at each set of faces and answer as quickly and accurately as you can.
Use the **mouse** (or touch) or the **number keys**. There will be short breaks."""
# A fixation cross before every trial, and feedback on the practice trials.
DEMO_TIMING = {"fixation_ms": 500, "iti_ms": 200, "practice_feedback": True}
DEMO_QUESTIONNAIRE = "age_band required\ngender\nhandedness\ncountry"
# The simulated participants' groups: the questionnaire answer each gives and how much its
# judgments weight the faces' labels (group B weights gender four times as much as group A).
DEMO_GROUPS = {
    "18-24": {"identity": 3.0, "gender": 1.0, "glasses": 0.5},
    "45-54": {"identity": 3.0, "gender": 4.0, "glasses": 0.5},
}
# The report groups participants by the questionnaire's age band and the faces by gender.
DEMO_GROUP_SETTINGS = {"participant_groups": ["age_band"], "stimulus_groups": ["gender"]}
# Network dissection of every demo model: the ReLU after each convolution of the small CNN,
# on the Face Dictionary of the generated faces (concepts from their generator parameters).
DEMO_DISSECTION = {"layers": ["features.4", "features.7", "features.10"]}
DEBRIEF = """The faces were drawn by a small program from known features (face shape, eyes,
brows, nose, mouth, hair, glasses). We compare your similarity judgments with those of
neural networks trained on the same faces."""


# The two pretrainings of the demo's CNN: the `DemoSets` field trained on and its label column.
DEMO_PRETRAININGS = {
    FaceModel.Pretraining.FACEGEN: ("pretraining_faces", "identity"),
    FaceModel.Pretraining.OBJECTGEN: ("pretraining_objects", "category"),
}


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo; the tests use a tiny one."""

    identities: int = 12
    images_per_identity: int = 4
    image_size: int = 128
    pretraining_identities: int = 24
    object_classes: int = len(objectgen.CLASSES)
    images_per_object_class: int = 4
    tasks: tuple[str, ...] = ("gender", "identity")
    seeds: tuple[int, ...] = (1, 2)
    max_epochs: int = 40
    participants: int = 16
    # per block (the pipeline study: triplets, Bubbles); 80 Bubbles trials each find the eyes
    # of both genders in 10/10 simulated demos, 40 in 9/10
    trials_per_participant: int = 80
    choice_noise: float = 0.4
    placement_noise: float = 0.05  # arena radii (arrangement trials)
    suffix: str = ""  # keeps a test's demo apart from a real one

    @property
    def bubbles_sigma(self) -> float:
        """The apertures' size in pixels: an eye is about two apertures wide."""
        return self.image_size / 20

    @property
    def set_name(self) -> str:
        return f"Demo faces (generated){self.suffix}"

    @property
    def pretraining_set_name(self) -> str:
        return f"Demo pretraining faces (generated){self.suffix}"

    @property
    def object_set_name(self) -> str:
        return f"Demo pretraining objects (generated){self.suffix}"


@dataclass(frozen=True)
class DemoSets:
    """The demo faces and the two pretraining sets (other identities; non-face objects)."""

    faces: StimulusSet
    pretraining_faces: StimulusSet
    pretraining_objects: StimulusSet


def _import_generated(name: str, generator, description: str, **options) -> StimulusSet:
    """The set called `name`, or a new one written by `generator.write_dataset(**options)`."""
    existing = StimulusSet.objects.filter(name=name).first()
    if existing is not None:
        return existing
    with tempfile.TemporaryDirectory() as folder:
        generator.write_dataset(folder, **options)
        files = files_from_folder(
            Path(folder),
            max_files=settings.STIMULUS_MAX_FILES,
            max_total_bytes=settings.STIMULUS_MAX_UPLOAD_BYTES,
        )
        stimulus_set, _ = stimulus_set_import(
            name=name, description=f"{description} {options}", files=files
        )
    return stimulus_set


def demo_generated_sets(config: DemoConfig) -> dict[str, tuple[object, str, dict]]:
    """What the demo generates, per `DemoSets` field: (generator module, description, options
    of its ``write_dataset``); `benchmarks/real_faces.py` trains the demo CNNs from it too."""
    faces = "facegen faces, labels identity, gender, glasses:"
    return {
        "faces": (
            facegen,
            faces,
            {
                "n_identities": config.identities,
                "images_per_identity": config.images_per_identity,
                "size": config.image_size,
                "seed": 0,
            },
        ),
        "pretraining_faces": (
            facegen,
            faces,
            {
                "n_identities": config.pretraining_identities,
                "images_per_identity": config.images_per_identity,
                "size": config.image_size,
                "seed": 1,
            },
        ),
        "pretraining_objects": (
            objectgen,
            "objectgen non-face objects, labels category, shape, texture:",
            {
                "n_classes": config.object_classes,
                "images_per_class": config.images_per_object_class,
                "size": config.image_size,
                "seed": 0,
            },
        ),
    }


def demo_stimulus_sets(config: DemoConfig) -> DemoSets:
    """The demo faces (with part masks) and the two pretraining sets."""
    names = {
        "faces": config.set_name,
        "pretraining_faces": config.pretraining_set_name,
        "pretraining_objects": config.object_set_name,
    }
    return DemoSets(
        **{
            field: _import_generated(names[field], generator, description, **options)
            for field, (generator, description, options) in demo_generated_sets(config).items()
        }
    )


def demo_researcher(password_file: Path):
    """A researcher account for the demo; its random password is kept in ``password_file``."""
    if password_file.exists():
        password = password_file.read_text().strip()
    else:
        password = secrets.token_urlsafe(12)
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
    user, _ = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
    user.is_staff = True
    user.set_password(password)
    user.save()
    return user, password


@transaction.atomic
def demo_studies(*, stimulus_set: StimulusSet, owner, config: DemoConfig) -> list[Study]:
    """One live study per trial type over the demo faces (kept as they are if they exist);
    the pipeline study also has a block of Bubbles trials (``demo_bubbles``)."""
    studies = []
    for trial_type, slug in DEMO_STUDIES.items():
        bubbles = {}
        if slug == PIPELINE_STUDY:
            bubbles = pipeline_study_bubbles(
                trials_per_participant=config.trials_per_participant, sigma=config.bubbles_sigma
            )
        study, created = Study.objects.get_or_create(
            slug=slug + config.suffix,
            defaults={
                "title": f"Face similarity demo: {TrialType(trial_type).label}",
                "stimulus_set": stimulus_set,
                "trial_types": [trial_type],
                "trials_per_participant": config.trials_per_participant,
                "target_participants": 200,
                "practice_trials": 2,
                "break_every": 20,
                "repeat_rate": 0.1,
                "catch_rate": 0.05,
                "timing": DEMO_TIMING,
                "questionnaire": parse_spec(DEMO_QUESTIONNAIRE),
                "analysis_settings": DEMO_GROUP_SETTINGS,
                "consent_text": CONSENT,
                "instructions": INSTRUCTIONS,
                "debrief": DEBRIEF,
                "completion_code": "DEMO-" + slug.split("-")[1].upper(),
                **DEMO_DESIGNS.get(trial_type, {}),
                **bubbles,
            },
        )
        StudyMembership.objects.get_or_create(
            study=study, user=owner, defaults={"role": StudyMembership.Role.OWNER}
        )
        if created:
            study_set_status(study=study, status=Study.Status.LIVE, user=owner)
        studies.append(study)
    return studies


def demo_base_model(config: DemoConfig) -> FaceModel:
    """The small CNN before any training (random initialisation, seed 0)."""
    name = f"Demo small CNN, untrained{config.suffix}"
    existing = FaceModel.objects.filter(name=name).first()
    if existing is not None:
        return existing
    return face_model_register(
        name=name, spec=demo_base_spec(config), pretraining=FaceModel.Pretraining.NONE
    )


def demo_base_spec(config: DemoConfig) -> ModelSpec:
    """The spec of the demo's small CNN before training (random initialisation, seed 0)."""
    return ModelSpec(
        architecture="small_cnn",
        num_classes=config.pretraining_identities,
        input_size=(64, 64),
        layers=("features.11", "classifier.1"),
        seed=0,
    )


def finetune_job(*, base: FaceModel, stimulus_set: StimulusSet, name: str, owner, **params) -> Job:
    """Launch (or find the finished) finetuning of ``base``; the new model is called ``name``."""
    return job_launch(
        kind=Job.Kind.FINETUNE,
        stimulus_set=stimulus_set,
        face_models=[base],
        params={"name": name, **params},
        user=owner,
    )


def dissection_job(*, study: Study, models: list[FaceModel], owner) -> Job:
    """Launch (or find the finished) dissection of the study's models on its faces."""
    return job_launch(
        kind=Job.Kind.DISSECTION,
        stimulus_set=study.stimulus_set,
        face_models=models,
        params=DEMO_DISSECTION,
        study=study,
        user=owner,
    )


def pretraining_params(config: DemoConfig, label_column: str) -> dict:
    """Training of the whole network on a pretraining set's classes (identities, objects)."""
    return {
        "label_column": label_column,
        "seed": 0,
        "train_last": None,
        "group_column": None,
        "max_epochs": config.max_epochs,
    }


def finetuning_params(config: DemoConfig) -> dict:
    """The grid's shared settings: the last two layers on the demo faces; gender keeps
    identities apart in validation (the identity task is split without groups)."""
    return {"train_last": 2, "max_epochs": config.max_epochs, "group_column": "identity"}


def truth_dissimilarity(
    stimuli: list[tuple[int, dict]], seed: int = 0, weights: dict[str, float] | None = None
) -> np.ndarray:
    """The known structure the simulated participants answer from.

    Faces differ by the labels in ``weights`` (default: most by identity, then gender, then
    glasses), plus a small stable per-face offset (so the matrix is not just three levels).
    """
    weights = weights or DEMO_GROUPS["18-24"]
    rng = np.random.default_rng(seed)
    labels = [lab for _, lab in stimuli]
    jitter = rng.normal(scale=0.3, size=(len(stimuli), 3))
    d = np.zeros((len(stimuli), len(stimuli)))
    for i, a in enumerate(labels):
        for j, b in enumerate(labels):
            if i != j:
                d[i, j] = sum(
                    w * (a.get(label) != b.get(label)) for label, w in weights.items()
                ) + np.linalg.norm(jitter[i] - jitter[j])
    return d


def odd_one_out_policy(ids: list[int], dissimilarity: np.ndarray, noise: float):
    """A bot answer rule: keep pair (a, b) together with probability ∝ exp(-d_ab / T).

    T = noise · SD(d), the choice model of ``analysis.simulate``; the odd one is the third item.
    An attentive participant never misses a catch trial: when an image is shown twice, the
    other one is the odd one out.
    """
    index = {pk: i for i, pk in enumerate(ids)}
    temperature = noise * dissimilarity[np.triu_indices(len(ids), 1)].std()

    def answer(trial: dict, rating, rng) -> dict:
        items = trial["items"]
        pairs = [(0, 1, 2), (0, 2, 1), (1, 2, 0)]  # (kept, kept, odd) by position
        for a, b, odd in pairs:
            if items[a] == items[b]:
                return {"choice": items[odd]}
        scores = np.array([-dissimilarity[index[items[a]], index[items[b]]] for a, b, _ in pairs])
        weights = np.exp((scores - scores.max()) / temperature)
        pick = rng.choices(range(3), weights=weights.tolist())[0]
        return {"choice": items[pairs[pick][2]]}

    return answer


def arrangement_policy(ids: list[int], dissimilarity: np.ndarray, noise: float):
    """A bot answer rule for arrangement trials: the subset's known dissimilarities laid out
    in the arena by classical MDS, scaled to fill it, plus placement noise of SD ``noise``
    arena radii (``analysis.human.arrangement.simulate_arrangement``)."""
    index = {pk: i for i, pk in enumerate(ids)}

    def answer(trial: dict, rating, rng) -> dict:
        items = trial["items"]
        laid_out = simulate_arrangement(
            dissimilarity,
            [index[pk] for pk in items],
            noise=noise,
            random_state=rng.getrandbits(32),
        )
        positions = {
            str(pk): [float(v) for v in xy]
            for pk, xy in zip(items, laid_out.positions, strict=True)
        }
        moves = [[250.0 * (k + 1), int(pk), *xy] for k, (pk, xy) in enumerate(positions.items())]
        return {"arrangement": {"positions": positions, "moves": moves}}

    return answer
