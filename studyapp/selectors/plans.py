"""A participant's plan as the trial runner needs it."""

from studyapp.models import Participant, Stimulus, Trial
from studyapp.timing import block_timing


def participant_plan(*, participant: Participant) -> dict:
    """Trials in order with their image URLs and whether each is already answered.

    ``min_exposure_ms``: how long a trial's images are on screen before a fresh press counts.
    ``timing``: each trial type's presentation settings (``studyapp.timing``).
    """
    trials = list(
        Trial.objects.filter(participant=participant)
        .order_by("index")
        .values("index", "block", "trial_type", "role", "items", "response__id")
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
        "trials": [
            {
                "index": t["index"],
                "block": t["block"],
                "type": t["trial_type"],
                "role": t["role"],
                "items": t["items"],
                "answered": t["response__id"] is not None,
            }
            for t in trials
        ],
        "images": {str(pk): url for pk, url in images.items()},
        "completion": {
            "completion_code": participant.study.completion_code,
            "redirect_url": participant.study.redirect_url,
        }
        if completed
        else None,
    }
