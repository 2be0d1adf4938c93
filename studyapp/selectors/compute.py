"""Reads for the researcher's model and job pages."""

from django.db.models import Prefetch, QuerySet

from studyapp.models import FaceModel, Job


def job_list() -> QuerySet[Job]:
    return Job.objects.select_related("stimulus_set", "study").prefetch_related(
        Prefetch("face_models", queryset=FaceModel.objects.only("pk", "name"))
    )


def model_list() -> QuerySet[FaceModel]:
    return FaceModel.objects.select_related("parent")
