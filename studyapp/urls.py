"""Participant pages, participant JSON API and researcher pages."""

from django.urls import path

from studyapp.views import health, participant_api, participant_pages, research

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("s/<slug:slug>/", participant_pages.study_start, name="study-start"),
    path("s/<slug:slug>/consent", participant_pages.study_consent, name="study-consent"),
    path("p/<str:token>/", participant_pages.participant_runner, name="participant-runner"),
    path("api/p/<str:token>/plan", participant_api.plan, name="api-plan"),
    path("api/p/<str:token>/responses", participant_api.responses, name="api-responses"),
    path("api/p/<str:token>/client", participant_api.client, name="api-client"),
    path("api/p/<str:token>/complete", participant_api.complete, name="api-complete"),
    path("research/studies/<slug:slug>/", research.study_overview, name="research-study"),
    path(
        "research/studies/<slug:slug>/responses.csv",
        research.responses_csv,
        name="research-responses-csv",
    ),
]
