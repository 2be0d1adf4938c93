"""Celery tasks: thin adapters between studyapp rows and modelsvc/analysis."""
