"""Researcher pages (staff only): a study's overview and its response export."""

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render

from studyapp.models import Study
from studyapp.selectors.exports import responses_csv_chunks
from studyapp.selectors.studies import study_summary


@staff_member_required
def study_overview(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_object_or_404(Study.objects.select_related("stimulus_set"), slug=slug)
    return render(
        request,
        "research/study_overview.html",
        {"study": study, "summary": study_summary(study=study)},
    )


@staff_member_required
def responses_csv(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    study = get_object_or_404(Study, slug=slug)
    response = StreamingHttpResponse(
        responses_csv_chunks(study=study), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{study.slug}-responses.csv"'
    return response
