"""Numbers behind a study's dashboard: progress over time and data quality per participant."""

from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import Coalesce, TruncHour

from studyapp.models import Participant, Response, Study, Trial
from studyapp.selectors.studies import Median


def participant_timeline(*, study: Study) -> list[dict]:
    """When each participant started and completed, and whether they are excluded."""
    return list(
        study.participants.order_by("started_at").values("started_at", "completed_at", "excluded")
    )


def responses_per_hour(*, study: Study) -> list[tuple]:
    return list(
        Response.objects.filter(trial__participant__study=study)
        .annotate(hour=TruncHour("received_at"))
        .values("hour")
        .annotate(n=Count("pk"))
        .order_by("hour")
        .values_list("hour", "n")
    )


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
