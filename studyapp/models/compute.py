"""Face models, compute jobs (split into batches) and the artifacts they produce."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q


class FaceModel(models.Model):
    """A network with its weights, described by a ``modelsvc.ModelSpec`` (stored in ``spec``)."""

    class Pretraining(models.TextChoices):
        IMAGENET = "imagenet", "ImageNet"
        VGGFACE = "vggface", "VGG-Face"
        FACEREC_DLIB = "facerec_dlib", "Face recognition (dlib, ~3 M real faces)"
        FACEGEN = "facegen", "Generated faces"
        OBJECTGEN = "objectgen", "Generated objects"
        NONE = "none", "None (random initialisation)"
        OTHER = "other", "Other"

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    architecture = models.CharField(max_length=50)
    pretraining = models.CharField(
        max_length=20, choices=Pretraining.choices, default=Pretraining.OTHER
    )
    task = models.CharField(
        max_length=100, blank=True, help_text="Label column the output layer predicts."
    )
    seed = models.PositiveIntegerField(default=0)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    weights = models.FileField(upload_to="weights/", max_length=255, blank=True)
    weights_path = models.CharField(
        max_length=500, blank=True, help_text="A weights file on the server (instead of upload)."
    )
    weights_sha256 = models.CharField(max_length=64, blank=True)
    spec = models.JSONField(help_text="The modelsvc.ModelSpec, as JSON.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(weights="") | Q(weights_path=""), name="facemodel_one_weights_source"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Dispatched(models.Model):
    """The newest broker message that runs this row (see ``services.dispatch``).

    Each send gets the next ``dispatch`` number; a worker runs only the newest message, so an old
    copy that surfaces after a re-send is skipped. The state says how far that message got.
    """

    class DispatchState(models.TextChoices):
        NONE = "", "Not sent"
        REQUESTED = "requested", "Waiting to reach the broker"
        SENT = "sent", "In the broker's queue"
        TAKEN = "taken", "Taken by a worker"

    dispatch = models.PositiveIntegerField(default=0)
    dispatch_state = models.CharField(
        max_length=10, choices=DispatchState.choices, default=DispatchState.NONE, blank=True
    )
    dispatch_at = models.DateTimeField(null=True, blank=True, help_text="When the state changed.")

    class Meta:
        abstract = True


class Job(Dispatched):
    """A computation over a stimulus set, run by Celery workers in batches."""

    class Kind(models.TextChoices):
        FINETUNE = "finetune", "Finetune a model"
        EMBEDDINGS = "embeddings", "Embeddings and similarity matrices"
        RELEVANCE = "relevance", "Relevance maps (LRP)"
        MASKING = "masking", "Relevance masking and generalisation"
        DECISION = "decision", "Similarity on relevance-masked images"
        DISSECTION = "dissection", "Network dissection (Face Dictionary)"
        MAPS = "maps", "Relevance maps compared across models"
        REPORT = "report", "Correlation report"
        ADAPTIVE = "adaptive", "Adaptive triplet selection (fit and choose)"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    stimulus_set = models.ForeignKey(
        "studyapp.StimulusSet", on_delete=models.PROTECT, related_name="jobs"
    )
    face_models = models.ManyToManyField(FaceModel, related_name="jobs", blank=True)
    study = models.ForeignKey(
        "studyapp.Study", on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs"
    )
    params = models.JSONField(default=dict, blank=True)
    depends_on = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="dependents",
        help_text="Jobs that must succeed before this one starts.",
    )
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    note = models.TextField(blank=True, help_text="E.g. that existing artifacts were reused.")
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    worker_host = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress_done__lte=F("progress_total")), name="job_progress_bounded"
            ),
        ]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def percent(self) -> int:
        if self.progress_total:
            return round(100 * self.progress_done / self.progress_total)
        return 100 if self.status == self.Status.SUCCEEDED else 0

    def status_record(self) -> dict:
        """What the researcher pages' progress bars show and poll."""
        return {
            "id": self.pk,
            "status": self.status,
            "done": self.progress_done,
            "total": self.progress_total,
            "percent": self.percent,
            "error": self.error,
            "note": self.note,
            "finished": self.is_finished,
        }

    @property
    def waiting_for_queue(self) -> bool:
        """Saved, but its message has not reached the broker yet (it is re-sent when it can be)."""
        return self.dispatch_state == self.DispatchState.REQUESTED


class JobBatch(Dispatched):
    """One sub-task of a job: a few stimuli, processed and stored together."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="batches")
    index = models.PositiveIntegerField()
    face_model = models.ForeignKey(
        FaceModel,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        help_text="The model this batch runs (empty when a batch uses all the job's models).",
    )
    stimulus_ids = ArrayField(models.BigIntegerField())
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    result = models.FileField(upload_to="jobs/", max_length=255, blank=True)
    result_sha256 = models.CharField(max_length=64, blank=True)
    failures = models.JSONField(default=list, blank=True, help_text="Items that failed, why.")
    items_done = models.PositiveIntegerField(
        default=0, help_text="Items counted into the job's progress so far (while it runs)."
    )
    error = models.TextField(blank=True)
    worker_host = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="jobbatch_unique_index"),
            models.CheckConstraint(
                condition=~Q(status="done") | ~Q(result=""), name="jobbatch_done_has_result"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job} batch {self.index}"


class Artifact(models.Model):
    """A stored result (arrays in a ``.npz`` file, summary numbers here), unique by its inputs.

    Its file is private (``STORAGES["default"]``). Artifacts with a ``study`` were made from
    that study's participant data and are deleted with it; the others hold model outputs
    shared by every study on the same stimulus set and models.
    """

    class Kind(models.TextChoices):
        CHECKPOINT = "checkpoint", "Finetuned checkpoint"
        EMBEDDINGS = "embeddings", "Embeddings"
        SIMILARITY = "similarity", "Dissimilarity matrices"
        RELEVANCE = "relevance", "Relevance maps"
        MASKING = "masking", "Masking and generalisation"
        MASKED_SIMILARITY = "masked_similarity", "Dissimilarity matrices on masked images"
        DISSECTION = "dissection", "Network dissection counts"
        MAP_COMPARISON = "map_comparison", "Relevance maps compared across models"
        REPORT = "report", "Correlation report"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    face_model = models.ForeignKey(
        FaceModel, on_delete=models.CASCADE, null=True, blank=True, related_name="artifacts"
    )
    stimulus_set = models.ForeignKey(
        "studyapp.StimulusSet", on_delete=models.CASCADE, related_name="artifacts"
    )
    method = models.CharField(max_length=100)
    params = models.JSONField(default=dict, blank=True)
    params_hash = models.CharField(max_length=64, help_text="sha256 of the canonical params.")
    code_version = models.CharField(max_length=100)
    file = models.FileField(upload_to="artifacts/", max_length=255)
    sha256 = models.CharField(max_length=64)
    summary = models.JSONField(default=dict, blank=True)
    job = models.ForeignKey(
        Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="artifacts"
    )
    study = models.ForeignKey(
        "studyapp.Study",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="artifacts",
        help_text="The study it was made from (reports: participant data); empty when shared.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "study",
                    "kind",
                    "face_model",
                    "stimulus_set",
                    "method",
                    "params_hash",
                    "code_version",
                ],
                name="artifact_unique_inputs",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.method} ({self.face_model or 'all models'})"
