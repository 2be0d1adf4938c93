"""Participant sessions, their planned trials and their responses."""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q

from .studies import TRIAL_TYPE_LENGTH, TrialType

MAX_RT_MS_CONSTRAINT = 24 * 60 * 60 * 1000  # database backstop; the API applies a tighter setting
MAX_BUBBLES_SEED = 2**32 - 1  # mulberry32 seeds are unsigned 32-bit integers


class Screening(models.TextChoices):
    """A participant's screening outcome; the last three end the session (screened out)."""

    NONE = "none", "No screening required"
    PENDING = "pending", "Screening not finished"
    PASSED = "passed", "Passed the screening"
    VIEWPORT = "viewport", "Screened out: window too small"
    DEVICE = "device", "Screened out: device not allowed"
    COMPREHENSION = "comprehension", "Screened out: comprehension check failed"


SCREENED_OUT = (Screening.VIEWPORT, Screening.DEVICE, Screening.COMPREHENSION)


class Participant(models.Model):
    """One participant's session in one study, identified by a pseudonym, reached by a token."""

    class Status(models.TextChoices):
        STARTED = "started", "Started"
        COMPLETED = "completed", "Completed"

    Screening = Screening
    SCREENED_OUT = SCREENED_OUT

    class Source(models.TextChoices):
        PROLIFIC = "prolific", "Prolific"
        LINK = "link", "Link with participant id"
        ANONYMOUS = "anonymous", "Anonymous"

    study = models.ForeignKey(
        "studyapp.Study", on_delete=models.CASCADE, related_name="participants"
    )
    token = models.CharField(max_length=64, unique=True, help_text="Secret in the session's URL.")
    pseudonym = models.CharField(
        max_length=64, help_text="Keyed hash of the external id (or random when anonymous)."
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    external_study_hash = models.CharField(max_length=64, blank=True)
    external_session_hash = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.STARTED)
    plan_seed = models.BigIntegerField(help_text="Seed of this participant's trial plan.")
    block_order = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Row of the balanced Latin square giving this session's block order.",
    )
    client_info = models.JSONField(default=dict, blank=True)
    screening = models.CharField(
        max_length=16,
        choices=Screening.choices,
        default=Screening.NONE,
        db_default=Screening.NONE,
        help_text="Outcome of the study's screening (window, device, comprehension check).",
    )
    screening_viewport_width = models.PositiveIntegerField(
        null=True, blank=True, help_text="Window width seen at the screening (CSS px)."
    )
    screening_viewport_height = models.PositiveIntegerField(null=True, blank=True)
    comprehension_failures = models.PositiveSmallIntegerField(
        default=0, db_default=0, help_text="Failed attempts at the comprehension check."
    )
    excluded = models.BooleanField(default=False)
    exclusion_reason = models.TextField(blank=True)
    refused_responses = models.PositiveIntegerField(
        default=0, help_text="Answers the server refused (invalid, implausible RT, …)."
    )
    started_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    questionnaire_at = models.DateTimeField(
        null=True, blank=True, help_text="When the study's questionnaire was answered."
    )

    class Meta:
        ordering = ["study", "started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "pseudonym"], name="participant_unique_pseudonym"
            ),
            models.CheckConstraint(
                condition=Q(status="completed", completed_at__isnull=False)
                | Q(status="started", completed_at__isnull=True),
                name="participant_completed_has_time",
            ),
            models.CheckConstraint(
                condition=Q(screening__in=Screening.values),
                name="participant_screening_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="completed", screening__in=[Screening.PENDING, *SCREENED_OUT]),
                name="participant_completed_passed_screening",
            ),
        ]
        indexes = [models.Index(fields=["study", "status"])]

    def __str__(self) -> str:
        return f"{self.study.slug}:{self.pseudonym[:10]}"


class ParticipantAttribute(models.Model):
    """One thing known about a participant: a questionnaire answer or an attached column."""

    class Source(models.TextChoices):
        QUESTIONNAIRE = "questionnaire", "Questionnaire"
        PROLIFIC = "prolific", "Prolific export"

    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="attributes"
    )
    key = models.CharField(max_length=100)
    value = models.TextField()
    source = models.CharField(max_length=20, choices=Source.choices)
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["participant", "key"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "key"], name="attribute_unique_key"),
            models.CheckConstraint(condition=~Q(key=""), name="attribute_key_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.participant} {self.key}"


class Trial(models.Model):
    """One planned trial of a participant, at a fixed position in their sequence."""

    class Role(models.TextChoices):
        PRACTICE = "practice", "Practice"
        MAIN = "main", "Main"
        REPEAT = "repeat", "Repeat"
        CATCH = "catch", "Catch"

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="trials")
    index = models.PositiveIntegerField(help_text="Position in the participant's sequence, from 0.")
    block = models.PositiveSmallIntegerField(help_text="Block number; one block per trial type.")
    trial_type = models.CharField(max_length=TRIAL_TYPE_LENGTH, choices=TrialType.choices)
    role = models.CharField(max_length=10, choices=Role.choices)
    items = ArrayField(
        models.BigIntegerField(), help_text="Stimulus ids in display order; 2AFC: reference first."
    )
    repeat_of = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="repeats"
    )
    correct_item = models.BigIntegerField(
        null=True, blank=True, help_text="Catch trials: the stimulus id that is the right answer."
    )
    bubbles_seed = models.BigIntegerField(
        null=True, blank=True, help_text="Bubbles trials: the seed of the apertures' positions."
    )

    class Meta:
        ordering = ["participant", "index"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "index"], name="trial_unique_position"),
            models.CheckConstraint(
                condition=Q(trial_type="rating", items__len=2)
                | Q(trial_type__in=["triplet", "afc"], items__len=3)
                | Q(trial_type="bubbles", items__len=1)  # judging a label
                | Q(trial_type="bubbles", items__len=3)  # matching: reference, two candidates
                # arrangement trials after the first are chosen once the one before is answered
                | Q(trial_type="arrangement", items__len=0)
                | Q(trial_type="arrangement", items__len__gte=3),
                name="trial_item_count",
            ),
            models.CheckConstraint(
                condition=Q(
                    trial_type="bubbles", bubbles_seed__gte=0, bubbles_seed__lte=MAX_BUBBLES_SEED
                )
                | (~Q(trial_type="bubbles") & Q(bubbles_seed__isnull=True)),
                name="trial_bubbles_seed",
            ),
            models.CheckConstraint(
                condition=Q(role="repeat", repeat_of__isnull=False)
                | (~Q(role="repeat") & Q(repeat_of__isnull=True)),
                name="trial_repeat_has_original",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant} #{self.index} ({self.trial_type}, {self.role})"


class Response(models.Model):
    """The one stored answer to a trial: a chosen stimulus or a rating, with its reaction time.

    Bubbles trials: ``choice`` is the index (0 or 1) of the answer in the study's two label
    values (sorted), with the number of apertures shown and the staircase level it came from.
    Arrangement trials: neither choice nor rating, but ``positions`` (and ``moves``).
    """

    trial = models.OneToOneField(Trial, on_delete=models.CASCADE, related_name="response")
    choice = models.BigIntegerField(
        null=True, blank=True, help_text="Chosen stimulus id (Bubbles: the answer's index)."
    )
    rating = models.FloatField(null=True, blank=True)
    rt_ms = models.FloatField(help_text="From images shown (decoded) to response, in ms.")
    correct = models.BooleanField(null=True, blank=True, help_text="Catch and Bubbles trials.")
    bubbles_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Bubbles trials: the number of apertures shown."
    )
    bubbles_level = models.FloatField(
        null=True, blank=True, help_text="Bubbles trials: the staircase level (log of the count)."
    )
    positions = models.JSONField(
        null=True,
        blank=True,
        help_text='Arrangement trials: final position per stimulus id, {"id": [x, y]}, in arena '
        "radii from the centre (y down).",
    )
    moves = models.JSONField(
        null=True,
        blank=True,
        help_text="Arrangement trials: each drop in order, [ms from onset, stimulus id, x, y].",
    )
    responded_at = models.DateTimeField(null=True, blank=True, help_text="Client clock.")
    received_at = models.DateTimeField(auto_now_add=True, help_text="Server clock.")
    viewport_width = models.PositiveIntegerField(null=True, blank=True)
    viewport_height = models.PositiveIntegerField(null=True, blank=True)
    refresh_ms = models.FloatField(
        null=True, blank=True, help_text="The display's measured frame interval, in ms."
    )
    stimulus_onset_ms = models.FloatField(
        null=True, blank=True, help_text="Frame the faces appeared, in ms from the trial start."
    )
    stimulus_offset_ms = models.FloatField(
        null=True,
        blank=True,
        help_text="Frame the faces were hidden (exposure end or answer), in ms from the start.",
    )
    # Database defaults too: rows written by SQL (benchmarks, bulk loads) need not name them.
    too_slow = models.BooleanField(
        default=False, db_default=False, help_text="Answered after the deadline."
    )
    hidden_count = models.PositiveIntegerField(
        default=0, db_default=0, help_text="Tab switches in the trial."
    )
    blur_count = models.PositiveIntegerField(
        default=0, db_default=0, help_text="Window blurs in the trial."
    )
    fullscreen_exits = models.PositiveIntegerField(default=0, db_default=0)
    interrupted_attempts = models.PositiveIntegerField(
        default=0,
        db_default=0,
        help_text="Earlier attempts at this trial cut off (reload, full screen left).",
    )

    class Meta:
        ordering = ["trial"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rt_ms__gt=0, rt_ms__lte=MAX_RT_MS_CONSTRAINT), name="response_rt_range"
            ),
            models.CheckConstraint(
                condition=Q(choice__isnull=False, rating__isnull=True, positions__isnull=True)
                | Q(choice__isnull=True, rating__isnull=False, positions__isnull=True)
                | Q(choice__isnull=True, rating__isnull=True, positions__isnull=False),
                name="response_choice_or_rating",
            ),
            models.CheckConstraint(
                condition=Q(stimulus_offset_ms__gte=F("stimulus_onset_ms"))
                | Q(stimulus_offset_ms__isnull=True)
                | Q(stimulus_onset_ms__isnull=True),
                name="response_offset_after_onset",
            ),
            models.CheckConstraint(
                condition=Q(bubbles_count__isnull=True, bubbles_level__isnull=True)
                | Q(bubbles_count__gte=1, bubbles_level__gte=0, correct__isnull=False),
                name="response_bubbles_complete",
            ),
            models.CheckConstraint(
                condition=Q(refresh_ms__gt=0) | Q(refresh_ms__isnull=True),
                name="response_refresh_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"response to {self.trial}"


class PooledPlan(models.Model):
    """A participant's trial plan computed ahead of their start (``services.plan_pool``).

    The next start takes the oldest entry, so plans are handed out in the order they were
    computed, each from the counts of every plan before it.
    """

    study = models.ForeignKey(
        "studyapp.Study", on_delete=models.CASCADE, related_name="pooled_plans"
    )
    design_key = models.CharField(
        max_length=64,
        help_text="Hash of the design and stimulus list it was planned for; another is stale.",
    )
    plan_seed = models.BigIntegerField()
    block_order = models.PositiveSmallIntegerField()
    trials = models.JSONField(
        help_text="The planned trials' fields; items are positions in the set's stimuli by key."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"pooled plan {self.pk} of study {self.study_id}"
