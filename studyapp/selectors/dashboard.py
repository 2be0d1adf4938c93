"""Numbers behind a study's dashboard: progress over time and data quality per participant."""

from datetime import datetime, timedelta

from django.db.models import Count, F, Max, Min, Q, Sum
from django.db.models.functions import Coalesce, TruncDay, TruncHour, TruncMinute

from studyapp.models import Job, Participant, Response, Study, Trial
from studyapp.selectors.reports import latest_report
from studyapp.selectors.studies import Median, study_summary


def participant_timeline(*, study: Study) -> list[dict]:
    """When each participant started and completed, and whether they are excluded."""
    return list(
        study.participants.order_by("started_at").values("started_at", "completed_at", "excluded")
    )


# The bucket of the responses chart: the smallest that keeps the study's span to a readable
# number of bars (at most 180 minutes, 168 hours, then days).
BUCKETS = (
    ("minute", timedelta(hours=3), TruncMinute),
    ("hour", timedelta(days=7), TruncHour),
    ("day", None, TruncDay),
)


def responses_over_time(*, study: Study) -> tuple[str, list[tuple[datetime, int]]]:
    """(unit, [(bucket start, responses)]): responses per minute, hour or day."""
    responses = Response.objects.filter(trial__participant__study=study)
    span = responses.aggregate(first=Min("received_at"), last=Max("received_at"))
    if span["first"] is None:
        return "hour", []
    unit, trunc = next(
        (unit, trunc)
        for unit, longest, trunc in BUCKETS
        if longest is None or span["last"] - span["first"] <= longest
    )
    counts = (
        responses.annotate(bucket=trunc("received_at"))
        .values("bucket")
        .annotate(n=Count("pk"))
        .order_by("bucket")
        .values_list("bucket", "n")
    )
    return unit, list(counts)


def main_trial_rts(*, study: Study, limit: int = 200_000) -> list[float]:
    return list(
        Response.objects.filter(trial__participant__study=study, trial__role="main").values_list(
            "rt_ms", flat=True
        )[:limit]
    )


# Dashboard name -> Response field summed per participant.
VISIBILITY_SUMS = {
    "hidden": "hidden_count",
    "blurs": "blur_count",
    "fullscreen_exits": "fullscreen_exits",
    "interrupted": "interrupted_attempts",
}


def participant_quality(*, study: Study) -> list[dict]:
    """Per participant: answered trials, catch accuracy, median RT, repeat agreement, dropout,
    and over all answered trials: tab switches, window blurs, full-screen exits, answers after
    the deadline and interrupted attempts. Sessions ended at the screening are not dropouts.

    Agreement: a repeated triplet/2AFC trial gets the same choice; a repeated rating differs
    by at most one sixth of the scale. Dropout: the last answered position of a session that
    did not complete, as a fraction of its planned trials.
    """
    rows = {
        p["pk"]: {**p, "catch_total": 0, "catch_correct": 0, "repeats": 0, "agreements": 0}
        for p in study.participants.annotate(
            planned=Count("trials"),
            answered=Count("trials__response"),
            last_answered=Max("trials__index", filter=Q(trials__response__isnull=False)),
            median_rt=Median("trials__response__rt_ms", filter=Q(trials__role="main")),
            **{
                name: Coalesce(Sum(f"trials__response__{field}"), 0)
                for name, field in VISIBILITY_SUMS.items()
            },
            too_slow=Count("trials__response", filter=Q(trials__response__too_slow=True)),
        ).values(
            "pk",
            "pseudonym",
            "status",
            "excluded",
            "exclusion_reason",
            "screening",
            "planned",
            "answered",
            "last_answered",
            "median_rt",
            *VISIBILITY_SUMS,
            "too_slow",
        )
    }
    catches = (
        Response.objects.filter(trial__participant__study=study, trial__role="catch")
        .values("trial__participant")
        .annotate(total=Count("pk"), correct=Count("pk", filter=Q(correct=True)))
    )
    for row in catches:
        rows[row["trial__participant"]].update(
            catch_total=row["total"], catch_correct=row["correct"]
        )
    low, high = study.rating_range
    tolerance = (high - low) / 6
    repeats = Trial.objects.filter(
        participant__study=study,
        role="repeat",
        response__isnull=False,
        repeat_of__response__isnull=False,
    ).values(
        "participant",
        first_choice=F("repeat_of__response__choice"),
        second_choice=F("response__choice"),
        first_rating=F("repeat_of__response__rating"),
        second_rating=F("response__rating"),
    )
    for row in repeats:
        entry = rows[row["participant"]]
        entry["repeats"] += 1
        if row["first_choice"] is not None:
            entry["agreements"] += row["first_choice"] == row["second_choice"]
        else:
            entry["agreements"] += abs(row["first_rating"] - row["second_rating"]) <= tolerance
    for entry in rows.values():
        entry["catch_accuracy"] = (
            entry["catch_correct"] / entry["catch_total"] if entry["catch_total"] else None
        )
        entry["agreement"] = entry["agreements"] / entry["repeats"] if entry["repeats"] else None
        entry["screened_out"] = entry["screening"] in Participant.SCREENED_OUT
        incomplete = (
            entry["status"] != Participant.Status.COMPLETED
            and entry["planned"]
            and not entry["screened_out"]
        )
        entry["dropout_at"] = (
            ((entry["last_answered"] or -1) + 1) / entry["planned"] if incomplete else None
        )
    return sorted(rows.values(), key=lambda r: r["pk"])


def catch_failed_participants(*, study: Study) -> int:
    """How many participants failed at least one catch trial."""
    return (
        Response.objects.filter(trial__participant__study=study, trial__role="catch", correct=False)
        .values("trial__participant")
        .distinct()
        .count()
    )


def pipeline_running(*, study: Study) -> bool:
    """True while a job of the study has not finished (the pipeline is not launched again then)."""
    return study.jobs.exclude(status__in=Job.FINISHED).exists()


def live_status(*, study: Study) -> dict:
    """What the dashboard polls: progress and quality numbers, the pipeline's state and the
    newest report. ``version`` changes whenever the charts or the participant table would."""
    summary = study_summary(study=study)
    report = latest_report(study=study)
    progress = {
        name: summary[name]
        for name in ("started", "completed", "in_progress", "excluded", "declined", "responses")
    }
    return {
        "status": study.status,
        "progress": progress,
        "quality": {
            "catch_failures": summary["catch_failures"],
            "catch_trials": summary["catch_trials"],
            "median_rt_ms": summary["median_rt_ms"],
            "flagged": catch_failed_participants(study=study),
        },
        "version": "-".join(str(value) for value in progress.values()),
        "pipeline": {
            "running": pipeline_running(study=study),
            "models": study.face_models.count(),
        },
        "report": (
            {"id": report.pk, "created_at": report.created_at.isoformat()} if report else None
        ),
    }
