"""Participant pages, participant JSON API and researcher pages."""

from django.urls import path, re_path, register_converter

from studyapp.tokens import SessionTokenConverter
from studyapp.views import (
    health,
    media,
    participant_api,
    participant_pages,
    research,
    research_compute,
    research_models,
)

register_converter(SessionTokenConverter, "token")

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("media/stimuli/<path:path>", media.stimulus_image, name="stimulus-image"),
    path("s/<slug:slug>/", participant_pages.study_start, name="study-start"),
    path("s/<slug:slug>/consent", participant_pages.study_consent, name="study-consent"),
    path("p/<token:token>/", participant_pages.participant_runner, name="participant-runner"),
    path(
        "p/<token:token>/questionnaire",
        participant_pages.participant_questionnaire,
        name="participant-questionnaire",
    ),
    path("api/p/<token:token>/plan", participant_api.plan, name="api-plan"),
    path("api/p/<token:token>/responses", participant_api.responses, name="api-responses"),
    path("api/p/<token:token>/client", participant_api.client, name="api-client"),
    path("api/p/<token:token>/screening", participant_api.screening, name="api-screening"),
    path(
        "api/p/<token:token>/comprehension",
        participant_api.comprehension,
        name="api-comprehension",
    ),
    path("api/p/<token:token>/complete", participant_api.complete, name="api-complete"),
    path("research/", research.home, name="research-home"),
    path("research/studies/new", research.study_new, name="research-study-new"),
    path("research/studies/<slug:slug>/", research.study_dashboard, name="research-study"),
    path("research/studies/<slug:slug>/edit", research.study_edit, name="research-study-edit"),
    path(
        "research/studies/<slug:slug>/status", research.study_status, name="research-study-status"
    ),
    path("research/studies/<slug:slug>/clone", research.study_copy, name="research-study-clone"),
    path(
        "research/studies/<slug:slug>/models", research.study_models, name="research-study-models"
    ),
    path(
        "research/studies/<slug:slug>/participants/<int:participant_id>/exclusion",
        research.participant_exclusion,
        name="research-participant-exclusion",
    ),
    path("research/studies/<slug:slug>/members", research.study_members, name="research-members"),
    path(
        "research/studies/<slug:slug>/delete", research.study_remove, name="research-study-delete"
    ),
    re_path(
        r"^research/studies/(?P<slug>[-\w]+)/charts/(?P<name>participants|responses|rts|dropout)\.png$",
        research.study_chart,
        name="research-study-chart",
    ),
    path("research/studies/<slug:slug>/pipeline", research.pipeline, name="research-pipeline"),
    path("research/studies/<slug:slug>/report/", research.report_file, name="research-report"),
    path(
        "research/studies/<slug:slug>/report/<path:name>",
        research.report_file,
        name="research-report-file",
    ),
    path(
        "research/studies/<slug:slug>/responses.csv",
        research.responses_csv,
        name="research-responses-csv",
    ),
    path(
        "research/studies/<slug:slug>/participants.csv",
        research.participants_csv,
        name="research-participants-csv",
    ),
    path(
        "research/studies/<slug:slug>/participant-attributes.csv",
        research.attributes_csv,
        name="research-attributes-csv",
    ),
    path(
        "research/studies/<slug:slug>/participant-attributes",
        research.attributes_attach,
        name="research-attributes-attach",
    ),
    path("research/models/grid/", research_compute.model_grid, name="research-model-grid"),
    path("research/models/", research_models.models, name="research-models"),
    path(
        "research/models/weights.json",
        research_models.weights_inspect,
        name="research-models-weights",
    ),
    path("research/jobs/", research_compute.jobs, name="research-jobs"),
    path("research/jobs/status.json", research_compute.jobs_status, name="research-jobs-status"),
    path("research/jobs/<int:job_id>/", research_compute.job_detail, name="research-job"),
    re_path(
        r"^research/jobs/(?P<job_id>\d+)/(?P<action>cancel|retry)$",
        research_compute.job_action,
        name="research-job-action",
    ),
    path(
        "research/artifacts/<int:artifact_id>/",
        research_compute.artifact_detail,
        name="research-artifact",
    ),
    path(
        "research/artifacts/<int:artifact_id>/download",
        research_compute.artifact_download,
        name="research-artifact-download",
    ),
    path(
        "research/jobs/<int:job_id>/dissection/<slug:name>.png",
        research_compute.job_dissection_figure,
        name="research-job-dissection-figure",
    ),
    path(
        "research/artifacts/<int:artifact_id>/dissection/<slug:name>.png",
        research_compute.artifact_dissection_figure,
        name="research-artifact-dissection-figure",
    ),
    path(
        "research/artifacts/<int:artifact_id>/overlay/<int:stimulus_id>.png",
        research_compute.relevance_overlay,
        name="research-relevance-overlay",
    ),
]
