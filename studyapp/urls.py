"""Participant pages, participant JSON API and researcher pages."""

urlpatterns: list = []
