"""What adaptive triplet selection reads: answered triplets, completed sessions, states."""

from django.db.models import QuerySet

from studyapp.models import AdaptiveState, Job, Participant, Study, Trial


def fitted_participants(*, study: Study) -> QuerySet[Participant]:
    """Completed, kept (not excluded) sessions: their answers go into a fit."""
    return study.participants.filter(status=Participant.Status.COMPLETED, excluded=False)


def triplet_answers(*, study: Study) -> list[tuple[list[int], int]]:
    """(items, chosen odd one) of every answered main and repeat triplet trial of the
    fitted sessions; catch trials say nothing about similarity."""
    rows = (
        Trial.objects.filter(
            participant__in=fitted_participants(study=study),
            trial_type="triplet",
            role__in=["main", "repeat"],
            response__choice__isnull=False,
        )
        .order_by("participant_id", "index")
        .values_list("items", "response__choice")
    )
    return list(rows)


def newest_state(*, study: Study) -> AdaptiveState | None:
    return study.adaptive_states.order_by("-version").first()


def fit_launched(*, study: Study, participants: int) -> bool:
    """A fit job of this study is queued or running, or one was launched for this number of
    completed sessions (so a fit that failed is not launched again at every start)."""
    jobs = Job.objects.filter(study=study, kind=Job.Kind.ADAPTIVE)
    pending = jobs.filter(status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
    return pending.exists() or jobs.filter(params__participants=participants).exists()
