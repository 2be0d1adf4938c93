"""Reads for the researcher's model and job pages."""

from django.db.models import Prefetch, QuerySet

from studyapp.models import FaceModel, Job, StimulusImport


def job_list() -> QuerySet[Job]:
    return Job.objects.select_related("stimulus_set", "study").prefetch_related(
        Prefetch("face_models", queryset=FaceModel.objects.only("pk", "name"))
    )


def model_list() -> QuerySet[FaceModel]:
    return FaceModel.objects.select_related("parent")


def jobs_waiting_for_queue(*, jobs: list[Job] | list[StimulusImport]) -> bool:
    """True if one of ``jobs`` (jobs, or stimulus imports) was released but its message has not
    reached the broker yet."""
    if not jobs:
        return False
    return (
        type(jobs[0])
        .objects.filter(pk__in=[job.pk for job in jobs], dispatch_state=Job.DispatchState.REQUESTED)
        .exists()
    )
