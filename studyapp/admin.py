"""Django admin: the researcher's back office for every model, plus the stimulus importer."""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from studyapp.forms import StimulusForm, StimulusImportForm, StudyForm, form_field_options
from studyapp.models import (
    Artifact,
    AuditEvent,
    FaceModel,
    Job,
    Participant,
    ParticipantAttribute,
    Response,
    Stimulus,
    StimulusImport,
    StimulusSet,
    Study,
    Trial,
)
from studyapp.payloads import declared_length, declared_size
from studyapp.services.jobs import job_cancel, job_retry
from studyapp.services.participants import participant_sessions_erase
from studyapp.services.resource_deletion import face_model_delete, stimulus_set_delete
from studyapp.services.stimuli import StimulusImportRejected, stimulus_set_import
from studyapp.services.stimulus_imports import stimulus_import_stage
from studyapp.services.studies import (
    study_create,
    study_delete,
    study_set_status,
    study_update,
)
from studyapp.stimulus_sources import UnsafeSource, files_from_uploads, files_from_zip
from studyapp.uploads import SpooledUploadHandler
from studyapp.views.job_messages import warn_if_queue_down


def private_file_name(field_file) -> str:
    """A private file's name (it has no URL: views that check the study role serve it)."""
    return field_file.name or "—"


class SafeActionsMixin:
    """A selection of rows that are not ids is refused with a message (Django itself answers
    500 when an action filters on ``pk__in=['abc']``)."""

    def response_action(self, request, queryset):
        try:
            for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
                self.model._meta.pk.to_python(value)
        except ValidationError:
            self.message_user(request, "The selection is not a list of row ids.", messages.ERROR)
            return None  # the change list then redirects to itself
        return super().response_action(request, queryset)


class ModelAdmin(SafeActionsMixin, admin.ModelAdmin):
    """Django's ModelAdmin with `SafeActionsMixin`."""


class ReadOnlyAdmin(ModelAdmin):
    """Rows written only by the platform (trials, responses): view, never edit."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(StimulusSet)
class StimulusSetAdmin(ModelAdmin):
    list_display = ["name", "stimulus_count", "label_columns", "created_at"]
    search_fields = ["name"]
    readonly_fields = ["label_columns", "part_names", "created_at"]
    change_list_template = "admin/studyapp/stimulusset/change_list.html"

    def delete_model(self, request, obj: StimulusSet) -> None:
        stimulus_set_delete(stimulus_set=obj, user=request.user)  # its files too

    def delete_queryset(self, request, queryset) -> None:
        for stimulus_set in queryset:
            stimulus_set_delete(stimulus_set=stimulus_set, user=request.user)

    def has_add_permission(self, request) -> bool:
        return False  # sets are created by importing files (see import_view)

    @admin.display(description="stimuli")
    def stimulus_count(self, obj: StimulusSet) -> int:
        return obj.stimuli.count()

    def get_urls(self):
        # CSRF is checked inside the view, after the size check: the CSRF middleware would
        # otherwise parse (and spool) the whole body before the view can refuse it.
        view = self.admin_site.admin_view(csrf_exempt(self.import_view))
        return [path("import/", view, name="studyapp_stimulusset_import"), *super().get_urls()]

    def import_view(self, request):
        declared = declared_length(request)
        if declared > settings.STIMULUS_MAX_UPLOAD_BYTES:
            # Refuse before Django reads (and spools to disk) the whole body.
            limit = settings.STIMULUS_MAX_UPLOAD_BYTES
            problems = [f"upload: {declared_size(declared)}; the limit is {limit:,} bytes"]
            return self._import_page(request, StimulusImportForm(), problems, status=413)
        request.upload_handlers = [SpooledUploadHandler(request)]  # before the body is read
        return csrf_protect(self._import)(request)

    def _import(self, request):
        form = StimulusImportForm(request.POST or None, request.FILES or None)
        problems = []
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            limits = {
                "max_files": settings.STIMULUS_MAX_FILES,
                "max_total_bytes": settings.STIMULUS_MAX_UPLOAD_BYTES,
            }
            upload = {
                "name": data["name"],
                "description": data["description"],
                "metadata_csv": data["metadata"].read() if data["metadata"] else None,
            }
            options = {
                key: data[key] for key in ("label_from_folder", "align_faces", "derive_part_masks")
            }
            on_worker = data["align_faces"] or data["derive_part_masks"]  # seconds per photo
            try:
                if data["archive"]:
                    files = files_from_zip(data["archive"], **limits)
                else:
                    files = files_from_uploads(data["images"], **limits)
                if on_worker:
                    staged = stimulus_import_stage(
                        files=files, options=options, user=request.user, **upload
                    )
                else:
                    stimulus_set, report = stimulus_set_import(files=files, **upload, **options)
            except UnsafeSource as error:
                problems = [f"upload: {error}"]
            except StimulusImportRejected as rejected:
                problems = [str(p) for p in rejected.problems]
            else:
                if on_worker:
                    messages.success(request, f"The import of “{staged.name}” is under way.")
                    warn_if_queue_down(request, [staged])
                    return redirect("admin:studyapp_stimulusimport_change", staged.pk)
                note = f"Imported {report.created} stimuli into “{stimulus_set.name}”."
                if report.duplicates:
                    note += f" Skipped {len(report.duplicates)} duplicate images."
                messages.success(request, note)
                return redirect("admin:studyapp_stimulusset_change", stimulus_set.pk)
        return self._import_page(request, form, problems)

    def _import_page(self, request, form, problems, status=200):
        context = {
            **self.admin_site.each_context(request),
            "title": "Import a stimulus set",
            "form": form,
            "problems": problems,
            "opts": self.model._meta,
        }
        return render(request, "admin/studyapp/stimulusset/import.html", context, status=status)


@admin.register(StimulusImport)
class StimulusImportAdmin(ReadOnlyAdmin):
    """Imports run by a worker (with the face options): progress, then the set or the problems;
    the page reloads itself while the import runs."""

    list_display = ["name", "status", "progress", "stimulus_set", "created_by", "created_at"]
    list_filter = ["status"]
    fields = [
        "name",
        "description",
        "status",
        "progress",
        "stimulus_set",
        "duplicates",
        "problem_list",
        "options",
        "dispatch_state",
        "created_by",
        "created_at",
        "finished_at",
    ]
    readonly_fields = fields
    change_form_template = "admin/studyapp/stimulusimport/change_form.html"

    def has_delete_permission(self, request, obj=None) -> bool:
        return (obj is None or obj.is_finished) and super().has_delete_permission(request, obj)

    @admin.display(description="photos checked")
    def progress(self, obj: StimulusImport) -> str:
        return f"{obj.progress_done} of {obj.progress_total or '?'}"

    @admin.display(description="problems (nothing was imported)")
    def problem_list(self, obj: StimulusImport) -> str:
        if not obj.problems:
            return "—"
        items = format_html_join("", "<li>{}</li>", ((p,) for p in obj.problems))
        return format_html('<ul id="import-problems">{}</ul>', items)


@admin.register(Stimulus)
class StimulusAdmin(ModelAdmin):
    form = StimulusForm
    list_display = ["name", "stimulus_set", "thumbnail", "width", "height", "labels"]
    list_filter = ["stimulus_set"]
    search_fields = ["name"]
    readonly_fields = [
        "stimulus_set",
        "name",
        "thumbnail",
        "image",
        "part_mask_file",
        "sha256",
        "original_format",
        "width",
        "height",
        "preparation",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    # Trial plans and answers name stimuli: they go only with their set (the set's deletion
    # needs the delete permission on them, so the single-stimulus ways are closed instead).
    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_view(self, request, object_id, extra_context=None):
        raise PermissionDenied("A stimulus is deleted with its stimulus set.")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "show_delete": False}
        return super().change_view(request, object_id, form_url, extra_context)

    exclude = ["part_mask"]

    @admin.display(description="image")
    def thumbnail(self, obj: Stimulus) -> str:
        return format_html('<img src="{}" alt="" height="48">', obj.image.url)

    @admin.display(description="part mask")
    def part_mask_file(self, obj: Stimulus) -> str:
        return private_file_name(obj.part_mask)


@admin.register(Study)
class StudyAdmin(ModelAdmin):
    form = StudyForm
    list_display = ["title", "slug", "status", "stimulus_set", "trial_types", "links"]
    list_filter = ["status"]
    search_fields = ["title", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["status", "declined_count", "created_at", "updated_at"]
    actions = ["make_live", "make_closed"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "status", "stimulus_set", "face_models"]}),
        (
            "Trials",
            {
                "fields": [
                    "trial_types",
                    "rating_scale",
                    "trials_per_participant",
                    "target_participants",
                    "practice_trials",
                    "break_every",
                    "repeat_rate",
                    "catch_rate",
                    "adaptive_batch",
                    "min_exposure_ms",
                    "min_rt_ms",
                ]
            },
        ),
        (
            "Presentation",
            {"fields": ["timing", "bubbles", "arrangement", "require_fullscreen"]},
        ),
        (
            "Screening",
            {
                "fields": [
                    "min_viewport_width",
                    "min_viewport_height",
                    "device_requirement",
                    "comprehension_questions",
                    "comprehension_attempts",
                ]
            },
        ),
        ("Texts (Markdown)", {"fields": ["consent_text", "instructions", "debrief"]}),
        ("Questionnaire", {"fields": ["questionnaire"]}),
        ("Analysis", {"fields": ["analysis_settings"]}),
        ("Completion", {"fields": ["completion_code", "redirect_url"]}),
        ("Record", {"fields": ["declined_count", "created_at", "updated_at"]}),
    ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        kwargs = {**form_field_options(db_field), **kwargs}  # as in StudyForm
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.display(description="links")
    def links(self, obj: Study) -> str:
        return format_html(
            '<a href="{}">overview</a> · <a href="{}">participant link</a>',
            reverse("research-study", args=[obj.slug]),
            reverse("study-start", args=[obj.slug]),
        )

    def save_model(self, request, obj, form, change) -> None:
        """Through the services: a new study gets its author as owner; design freezes hold."""
        if change:
            study_update(form=form)
        else:
            study_create(owner=request.user, form=form)

    @admin.action(description="Open the selected studies (live)")
    def make_live(self, request, queryset) -> None:
        self._set_status(request, queryset, Study.Status.LIVE)

    @admin.action(description="Close the selected studies")
    def make_closed(self, request, queryset) -> None:
        self._set_status(request, queryset, Study.Status.CLOSED)

    def _set_status(self, request, queryset, status: str) -> None:
        for study in queryset.select_related("stimulus_set"):
            try:
                study_set_status(study=study, status=status, user=request.user)
            except ValueError as error:  # e.g. a design its stimulus set cannot plan
                self.message_user(request, str(error), messages.ERROR)

    def delete_model(self, request, obj: Study) -> None:
        study_delete(study=obj, user=request.user)  # audited, like the dashboard's delete

    def delete_queryset(self, request, queryset) -> None:
        for study in queryset:
            study_delete(study=study, user=request.user)


@admin.register(Participant)
class ParticipantAdmin(ModelAdmin):
    list_display = [
        "pseudonym_short",
        "study",
        "source",
        "status",
        "screening",
        "excluded",
        "started_at",
    ]
    list_filter = ["study", "status", "screening", "excluded", "source"]
    search_fields = ["pseudonym"]
    fields = [
        "study",
        "pseudonym",
        "source",
        "status",
        "plan_seed",
        "block_order",
        "started_at",
        "last_seen_at",
        "completed_at",
        "questionnaire_at",
        "client_info",
        "screening",
        "screening_viewport_width",
        "screening_viewport_height",
        "comprehension_failures",
        "excluded",
        "exclusion_reason",
        "refused_responses",
    ]
    # Exclusions are made on the study's dashboard, through the audited service.
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="pseudonym")
    def pseudonym_short(self, obj: Participant) -> str:
        return obj.pseudonym[:12] + "…"

    def delete_model(self, request, obj: Participant) -> None:
        # audited erasure: the study's reports hold the session's rows and go too
        participant_sessions_erase(
            sessions=Participant.objects.filter(pk=obj.pk), user=request.user
        )

    def delete_queryset(self, request, queryset) -> None:
        participant_sessions_erase(sessions=queryset, user=request.user)


@admin.register(Trial)
class TrialAdmin(ReadOnlyAdmin):
    list_display = ["participant", "index", "block", "trial_type", "role", "items"]
    list_filter = ["trial_type", "role", "participant__study"]
    list_select_related = ["participant__study"]


@admin.register(Response)
class ResponseAdmin(ReadOnlyAdmin):
    list_display = ["trial", "choice", "rating", "rt_ms", "correct", "received_at"]
    list_filter = ["trial__participant__study", "trial__role", "correct"]
    list_select_related = ["trial__participant__study"]


@admin.register(ParticipantAttribute)
class ParticipantAttributeAdmin(ReadOnlyAdmin):
    list_display = ["participant", "key", "value", "source", "recorded_at"]
    list_filter = ["source", "participant__study"]
    list_select_related = ["participant__study"]
    search_fields = ["key", "value"]


@admin.register(FaceModel)
class FaceModelAdmin(ModelAdmin):
    list_display = ["name", "architecture", "pretraining", "task", "seed", "parent", "created_at"]
    list_filter = ["architecture", "pretraining", "task"]
    search_fields = ["name"]
    readonly_fields = [
        "architecture",
        "task",
        "seed",
        "parent",
        "weights_file",
        "weights_path",
        "weights_sha256",
        "spec",
        "created_by",
        "created_at",
    ]

    exclude = ["weights"]

    def has_add_permission(self, request) -> bool:
        return False  # registered through research/models/, which loads the weights first

    def delete_model(self, request, obj: FaceModel) -> None:
        face_model_delete(face_model=obj, user=request.user)  # its weights and artifacts too

    def delete_queryset(self, request, queryset) -> None:
        for face_model in queryset:
            face_model_delete(face_model=face_model, user=request.user)

    @admin.display(description="weights")
    def weights_file(self, obj: FaceModel) -> str:
        return private_file_name(obj.weights)


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "kind",
        "status",
        "stimulus_set",
        "progress_done",
        "progress_total",
        "created_at",
    ]
    list_filter = ["kind", "status"]
    actions = ["cancel", "retry"]

    @admin.action(description="Cancel the selected jobs")
    def cancel(self, request, queryset) -> None:
        for job in queryset:
            job_cancel(job=job)

    @admin.action(description="Retry the selected failed or cancelled jobs")
    def retry(self, request, queryset) -> None:
        retried = [
            job_retry(job=job)
            for job in queryset.filter(status__in=[Job.Status.FAILED, Job.Status.CANCELLED])
        ]
        warn_if_queue_down(request, retried)


@admin.register(Artifact)
class ArtifactAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "kind",
        "face_model",
        "stimulus_set",
        "method",
        "code_version",
        "created_at",
    ]
    list_filter = ["kind", "stimulus_set"]
    exclude = ["file"]
    readonly_fields = ["download"]

    @admin.display(description="file")
    def download(self, obj: Artifact) -> str:
        """Through the download view, which checks the study role and audits the export."""
        url = reverse("research-artifact-download", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.file.name)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit log (README: admin → Audit events): read only, and never deleted here."""

    list_display = ("created_at", "action", "study_slug", "user", "detail")
    list_filter = ("action",)
    search_fields = ("study_slug", "user__username")
    date_hierarchy = "created_at"

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# Django's own user and group admins, with the same guard on action selections.
for _model, _admin in ((User, UserAdmin), (Group, GroupAdmin)):
    admin.site.unregister(_model)
    admin.site.register(_model, type(_admin.__name__, (SafeActionsMixin, _admin), {}))
