"""Numbers for a study's overview page."""

from django.db.models import Aggregate, Count, FloatField, Q

from studyapp.arrangement import arrangement_design_problems
from studyapp.bubbles import bubbles_design_problems
from studyapp.models import Participant, Response, Study
from studyapp.planning import design_problems


class Median(Aggregate):
    """PostgreSQL's ``percentile_cont(0.5)``: the median, computed in the database."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def screened_out_counts(*, study: Study) -> dict[str, int]:
    """Sessions ended at the screening, per reason (every reason named, 0 included)."""
    counts = dict(
        study.participants.filter(screening__in=Participant.SCREENED_OUT)
        .order_by()
        .values_list("screening")
        .annotate(n=Count("pk"))
    )
    return {reason: counts.get(reason, 0) for reason in Participant.SCREENED_OUT}


def study_summary(*, study: Study) -> dict:
    """Participants by state, responses, catch-trial failures and the median main-trial RT.

    ``screened_out``: sessions ended at the screening; ``screened_<reason>``: per reason.
    """
    screened = screened_out_counts(study=study)
    participants = study.participants.aggregate(
        started=Count("pk"),
        completed=Count("pk", filter=Q(status=Participant.Status.COMPLETED)),
        excluded=Count("pk", filter=Q(excluded=True)),
    )
    participants["screened_out"] = sum(screened.values())
    participants.update({f"screened_{reason}": n for reason, n in screened.items()})
    responses = Response.objects.filter(trial__participant__study=study).aggregate(
        total=Count("pk"),
        catch=Count("pk", filter=Q(trial__role="catch")),
        catch_failed=Count("pk", filter=Q(trial__role="catch", correct=False)),
    )
    median_rt = Response.objects.filter(
        trial__participant__study=study, trial__role="main"
    ).aggregate(median=Median("rt_ms"))["median"]
    return {
        **participants,
        "in_progress": participants["started"]
        - participants["completed"]
        - participants["screened_out"],
        "declined": study.declined_count,
        "responses": responses["total"],
        "catch_trials": responses["catch"],
        "catch_failures": responses["catch_failed"],
        "median_rt_ms": median_rt,
    }


def study_design_frozen(*, study: Study) -> bool:
    """True once a participant has started: the design fields then stay as they are."""
    return study.pk is not None and study.participants.exists()


def study_design_problems(*, study: Study) -> list[str]:
    """Why no participant could be given a trial plan in ``study`` (empty: all is well).

    ``study`` may be unsaved (a form's data), but needs its stimulus set.
    """
    problems = design_problems(
        trial_types=study.trial_types,
        main_trials=study.trials_per_participant,
        practice_trials=study.practice_trials,
        repeat_rate=study.repeat_rate,
        catch_rate=study.catch_rate,
        n_items=study.stimulus_set.stimuli.count(),
    )
    if "bubbles" in study.trial_types:
        problems += bubbles_design_problems(study=study)
    if "arrangement" in study.trial_types:
        problems += arrangement_design_problems(study=study)
    return problems
