"""A participant's plan as the trial runner needs it."""

from studyapp.bubbles import bubbles_plan
from studyapp.models import Participant, Stimulus, Trial
from studyapp.screening import public_questions
from studyapp.timing import block_timing


def participant_plan(*, participant: Participant) -> dict:
    """Trials in order with their image URLs and whether each is already answered.

    ``min_exposure_ms``: how long a trial's images are on screen before a fresh press counts.
    ``timing``: each trial type's presentation settings (``studyapp.timing``).
    ``bubbles``: the Bubbles settings and answers (``studyapp.bubbles``); a Bubbles trial has
    its ``seed``, and once answered its outcome (``correct``: the runner's staircase resumes
    from them), never before.
    ``screening``: the session's screening state and what is still to check (questions
    without their answers).
    """
    trials = list(
        Trial.objects.filter(participant=participant)
        .order_by("index")
        .values(
            "index",
            "block",
            "trial_type",
            "role",
            "items",
            "bubbles_seed",
            "response__id",
            "response__correct",
        )
    )
    ids = {i for t in trials for i in t["items"]}
    images = {s.pk: s.image.url for s in Stimulus.objects.filter(pk__in=ids).only("pk", "image")}
    completed = participant.status == Participant.Status.COMPLETED
    study = participant.study
    return {
        "status": participant.status,
        "min_exposure_ms": study.min_exposure_ms,
        "require_fullscreen": study.require_fullscreen,
        "timing": {t: block_timing(study.timing, t) for t in study.trial_types},
        "screening": {
            "status": participant.screening,
            "min_width": study.min_viewport_width,
            "min_height": study.min_viewport_height,
            "desktop_only": study.device_requirement == study.DeviceRequirement.DESKTOP,
            "setup_checked": participant.screening_viewport_width is not None,
            "questions": public_questions(study.comprehension_questions),
            "attempts_left": study.comprehension_attempts - participant.comprehension_failures,
        },
        "trials": [
            {
                "index": t["index"],
                "block": t["block"],
                "type": t["trial_type"],
                "role": t["role"],
                "items": t["items"],
                "answered": t["response__id"] is not None,
                **(_bubbles_entry(t) if t["trial_type"] == "bubbles" else {}),
            }
            for t in trials
        ],
        "images": {str(pk): url for pk, url in images.items()},
        "bubbles": bubbles_plan(study=study) if "bubbles" in study.trial_types else None,
        "completion": {
            "completion_code": participant.study.completion_code,
            "redirect_url": participant.study.redirect_url,
        }
        if completed
        else None,
    }


def _bubbles_entry(trial: dict) -> dict:
    if trial["response__id"] is None:
        return {"seed": trial["bubbles_seed"]}
    return {"seed": trial["bubbles_seed"], "correct": trial["response__correct"]}
