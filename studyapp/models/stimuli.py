"""Stimulus sets and their images."""

from django.conf import settings
from django.db import models

from studyapp.storage import stimulus_storage

from .compute import Dispatched


class StimulusSet(models.Model):
    """A named collection of face images with optional label columns and part masks."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    label_columns = models.JSONField(default=list, blank=True, help_text="Label columns, in order.")
    part_names = models.JSONField(
        default=list, blank=True, help_text="Names of the values in the part masks, if any."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Stimulus(models.Model):
    """One image of a set; files are content-addressed (sha256), so identical images share one."""

    stimulus_set = models.ForeignKey(StimulusSet, on_delete=models.CASCADE, related_name="stimuli")
    name = models.CharField(max_length=255, help_text="Path in the imported folder, no extension.")
    image = models.FileField(upload_to="stimuli/", max_length=255, storage=stimulus_storage)
    part_mask = models.FileField(upload_to="masks/", max_length=255, blank=True)
    sha256 = models.CharField(max_length=64, help_text="Of the original file's bytes.")
    original_format = models.CharField(max_length=10)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    labels = models.JSONField(default=dict, blank=True)
    preparation = models.JSONField(
        default=dict,
        blank=True,
        help_text="How the stored image and part mask were made from the uploaded photo "
        "(face detection, alignment, landmarks); empty when stored as uploaded.",
    )

    class Meta:
        ordering = ["stimulus_set", "name"]
        verbose_name_plural = "stimuli"
        constraints = [
            models.UniqueConstraint(fields=["stimulus_set", "name"], name="stimulus_unique_name"),
            models.UniqueConstraint(
                fields=["stimulus_set", "sha256"], name="stimulus_unique_image"
            ),
            models.CheckConstraint(
                condition=models.Q(width__gt=0, height__gt=0), name="stimulus_positive_size"
            ),
            models.CheckConstraint(
                condition=models.Q(sha256__regex=r"^[0-9a-f]{64}$"), name="stimulus_sha256_hex"
            ),
        ]
        # The public image route looks a file up by name on every participant's image request.
        indexes = [models.Index(fields=["image"], name="stimulus_image_idx")]

    def __str__(self) -> str:
        return f"{self.stimulus_set.name}/{self.name}"


class StimulusImport(Dispatched):
    """An import with the face options ("align and crop", "derive part masks"), which take a
    fraction of a second per photo: the upload is staged as one zip and a worker imports it
    (``services.stimulus_imports``)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    FINISHED = (Status.SUCCEEDED, Status.FAILED)

    name = models.CharField(max_length=200, help_text="Of the stimulus set it creates.")
    description = models.TextField(blank=True)
    options = models.JSONField(
        default=dict, help_text="label_from_folder, align_faces and derive_part_masks."
    )
    upload = models.CharField(
        max_length=255, blank=True, help_text="The staged zip (private); emptied once finished."
    )
    metadata_csv = models.BinaryField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    problems = models.JSONField(default=list, blank=True, help_text="Why nothing was imported.")
    duplicates = models.PositiveIntegerField(default=0, help_text="Duplicate images skipped.")
    stimulus_set = models.ForeignKey(
        StimulusSet, on_delete=models.SET_NULL, null=True, blank=True, related_name="imports"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"import of {self.name} ({self.get_status_display().lower()})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED
