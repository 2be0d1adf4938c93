"""The message a researcher sees when a job was saved but the broker could not be reached."""

from django.contrib import messages
from django.http import HttpRequest

from studyapp.models import Job, StimulusImport
from studyapp.selectors.compute import jobs_waiting_for_queue

QUEUE_DOWN = (
    "The job queue is unreachable just now: the job is saved and will start when the queue is "
    "back (the workers send it again)."
)


def warn_if_queue_down(request: HttpRequest, jobs: list[Job] | list[StimulusImport]) -> None:
    if jobs_waiting_for_queue(jobs=jobs):
        messages.warning(request, QUEUE_DOWN)
