"""The standard pipeline of a study: model outputs for every selected model, then the report.

    embeddings ─────────────────────────┐
    relevance ─┬─ masking (generalisation) ├─ report
               └─ decision weighting ──────┘

Every step reuses artifacts that already exist, so launching it again only computes what is new
(e.g. a report over the responses that arrived since).
"""

from django.db import transaction

from studyapp.models import AuditEvent, Job, Study
from studyapp.selectors.dashboard import pipeline_running
from studyapp.services.jobs import job_launch
from studyapp.services.studies import audit_record


@transaction.atomic
def pipeline_launch(
    *, study: Study, user, step_params: dict[str, dict] | None = None
) -> dict[str, Job]:
    """Launch the pipeline's jobs; ``step_params`` overrides parameters per step (job kind).

    The report step takes the study's ``analysis_settings`` unless overridden.
    """
    Study.objects.select_for_update().filter(pk=study.pk).first()  # one launch at a time
    models = list(study.face_models.order_by("pk"))
    if not models:
        raise ValueError("Choose the study's models first (under Models compared).")
    if pipeline_running(study=study):
        raise ValueError("The study's jobs are still running: launch the pipeline when they end.")
    params = {"report": study.analysis_settings, **(step_params or {})}

    def launch(kind: str, face_models, after=()) -> Job:
        return job_launch(
            kind=kind,
            stimulus_set=study.stimulus_set,
            face_models=face_models,
            params=params.get(kind, {}),
            study=study,
            user=user,
            after=list(after),
        )

    jobs = {
        "embeddings": launch(Job.Kind.EMBEDDINGS, models),
        "relevance": launch(Job.Kind.RELEVANCE, models),
    }
    jobs["masking"] = launch(Job.Kind.MASKING, models, after=[jobs["relevance"]])
    jobs["decision"] = launch(Job.Kind.DECISION, models, after=[jobs["relevance"]])
    jobs["report"] = launch(
        Job.Kind.REPORT, [], after=[jobs["embeddings"], jobs["masking"], jobs["decision"]]
    )
    audit_record(
        action=AuditEvent.Action.PIPELINE,
        user=user,
        study=study,
        jobs={name: job.pk for name, job in jobs.items()},
        models=[m.name for m in models],
    )
    return jobs
