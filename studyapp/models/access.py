"""Who may do what with a study (roles), and the audit log of sensitive actions."""

from django.conf import settings
from django.db import models


class StudyMembership(models.Model):
    """A researcher's role in a study: owner (everything), collaborator (run it), viewer (read)."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        COLLABORATOR = "collaborator", "Collaborator"
        VIEWER = "viewer", "Viewer"

    study = models.ForeignKey(
        "studyapp.Study", on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="study_memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "role", "user"]
        constraints = [
            models.UniqueConstraint(fields=["study", "user"], name="membership_unique_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.role} · {self.study}"


class AuditEvent(models.Model):
    """An export, status change, deletion or other sensitive action, and who did it."""

    class Action(models.TextChoices):
        EXPORT = "export", "Export or download"
        STATUS = "status", "Status change"
        DELETE = "delete", "Deletion"
        MEMBERSHIP = "membership", "Membership change"
        PIPELINE = "pipeline", "Pipeline launched"
        DATA_DELETION = "data_deletion", "Participant data deleted on request"
        CLONE = "clone", "Study cloned"
        EXCLUSION = "exclusion", "Participant excluded or re-included"
        MODELS = "models", "Models compared changed"
        ATTACH = "attach", "Participant attributes attached"

    action = models.CharField(max_length=20, choices=Action.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    study = models.ForeignKey("studyapp.Study", on_delete=models.SET_NULL, null=True, blank=True)
    study_slug = models.CharField(
        max_length=50, blank=True, help_text="Kept after the study is deleted."
    )
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["study_slug", "created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.study_slug} by {self.user}"
