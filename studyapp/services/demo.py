"""The built-in demo: generated faces, a researcher account and one live study per trial type."""

import secrets
import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

import facegen
from studyapp.models import StimulusSet, Study, StudyMembership, TrialType
from studyapp.services.stimuli import stimulus_set_import
from studyapp.stimulus_sources import files_from_folder

DEMO_SET_NAME = "Demo faces (generated)"
DEMO_USERNAME = "researcher"
DEMO_FACES = {"n_identities": 12, "images_per_identity": 4, "size": 128, "seed": 0}
DEMO_STUDIES = {
    TrialType.TRIPLET: "demo-triplets",
    TrialType.RATING: "demo-ratings",
    TrialType.AFC: "demo-afc",
}
CONSENT = """**Consent.** This is a demonstration of FaceSim Lab. You will judge the similarity of
generated (not real) faces for about five minutes. Your answers are stored under a pseudonym and
used only to demonstrate the software. You may stop at any time by closing the page."""
INSTRUCTIONS = """Look at each set of faces and answer as quickly and accurately as you can.
Use the **mouse** (or touch) or the **number keys**. There will be short breaks."""
DEBRIEF = """The faces were drawn by a small program from known features (face shape, eyes,
brows, nose, mouth, hair, glasses). We compare your similarity judgments with those of
neural networks trained on the same faces."""


def demo_stimulus_set() -> StimulusSet:
    """The generated demo faces (with labels and part masks), imported once."""
    existing = StimulusSet.objects.filter(name=DEMO_SET_NAME).first()
    if existing is not None:
        return existing
    with tempfile.TemporaryDirectory() as folder:
        facegen.write_dataset(folder, **DEMO_FACES)
        files = files_from_folder(
            Path(folder),
            max_files=settings.STIMULUS_MAX_FILES,
            max_total_bytes=settings.STIMULUS_MAX_UPLOAD_BYTES,
        )
        stimulus_set, _ = stimulus_set_import(
            name=DEMO_SET_NAME,
            description=f"facegen faces {DEMO_FACES}: labels identity, gender, glasses.",
            files=files,
        )
    return stimulus_set


def demo_researcher(password_file: Path):
    """A staff account for the demo; its random password is kept in ``password_file``."""
    if password_file.exists():
        password = password_file.read_text().strip()
    else:
        password = secrets.token_urlsafe(12)
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
    user, _ = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save()
    return user, password


@transaction.atomic
def demo_studies(*, stimulus_set: StimulusSet, owner) -> list[Study]:
    """One live study per trial type over the demo faces (kept as they are if they exist)."""
    studies = []
    for trial_type, slug in DEMO_STUDIES.items():
        study, _ = Study.objects.get_or_create(
            slug=slug,
            defaults={
                "title": f"Face similarity demo: {TrialType(trial_type).label}",
                "status": Study.Status.LIVE,
                "stimulus_set": stimulus_set,
                "trial_types": [trial_type],
                "trials_per_participant": 24,
                "target_participants": 100,
                "practice_trials": 2,
                "break_every": 12,
                "repeat_rate": 0.1,
                "catch_rate": 0.1,
                "consent_text": CONSENT,
                "instructions": INSTRUCTIONS,
                "debrief": DEBRIEF,
                "completion_code": "DEMO-" + slug.split("-")[1].upper(),
            },
        )
        StudyMembership.objects.get_or_create(
            study=study, user=owner, defaults={"role": StudyMembership.Role.OWNER}
        )
        studies.append(study)
    return studies
