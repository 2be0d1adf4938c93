"""Adaptive triplet selection: fitted model states and which one chose each plan."""

from django.db import models
from django.db.models import Q


class AdaptiveState(models.Model):
    """One fit of a study's triplet answers and the triplets it chose for the next batch.

    ``embedding``: the fitted embedding (stimuli x dims) over ``stimulus_ids`` (states stored
    before migration 0026 hold a bootstrap ensemble, members x stimuli x dims);
    ``pool``: one list of [stimulus id, id, id] per upcoming participant (a slot).
    """

    study = models.ForeignKey(
        "studyapp.Study", on_delete=models.CASCADE, related_name="adaptive_states"
    )
    version = models.PositiveIntegerField(help_text="1, 2, ... per study, one per fit.")
    seed = models.BigIntegerField(help_text="Seed of the fit and the selection.")
    participants = models.PositiveIntegerField(help_text="Completed participants fitted.")
    answers = models.PositiveIntegerField(help_text="Answered triplet trials fitted.")
    model = models.CharField(max_length=20)
    n_dims = models.PositiveSmallIntegerField()
    stimulus_ids = models.JSONField()
    embedding = models.JSONField()
    pool = models.JSONField()
    mean_entropy = models.FloatField(
        help_text="Mean entropy of the chosen triplets' answers under the state, in nats."
    )
    job = models.ForeignKey(
        "studyapp.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["study", "version"], name="adaptive_state_version"),
            models.CheckConstraint(condition=Q(version__gte=1), name="adaptive_state_version_min"),
        ]

    def __str__(self) -> str:
        return f"{self.study.slug} adaptive v{self.version}"


class AdaptivePlanChoice(models.Model):
    """How a participant's triplets were chosen: a slot of a model state's pool, or balanced."""

    class Selection(models.TextChoices):
        ADAPTIVE = "adaptive", "Adaptive (most uncertain answers)"
        NO_STATE = "balanced_no_state", "Balanced: no model state yet (before the first batch)"
        POOL_USED = "balanced_pool_used", "Balanced: the newest state's pool was used up"
        STALE = "balanced_stale", "Balanced: the newest state has another stimulus list"

    participant = models.OneToOneField(
        "studyapp.Participant", on_delete=models.CASCADE, related_name="adaptive_choice"
    )
    selection = models.CharField(max_length=20, choices=Selection.choices)
    state = models.ForeignKey(
        AdaptiveState, on_delete=models.CASCADE, null=True, blank=True, related_name="choices"
    )
    slot = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["state", "slot"], name="adaptive_choice_slot_once"),
            models.CheckConstraint(
                condition=Q(selection="adaptive", state__isnull=False, slot__isnull=False)
                | (~Q(selection="adaptive") & Q(slot__isnull=True)),
                name="adaptive_choice_slot_with_state",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant} {self.selection}"
