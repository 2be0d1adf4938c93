"""Studies: what participants see and how their trial plans are built."""

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q


class TrialType(models.TextChoices):
    TRIPLET = "triplet", "Triplet odd-one-out"
    RATING = "rating", "Pairwise similarity rating"
    AFC = "afc", "2AFC match-to-reference"
    BUBBLES = "bubbles", "Bubbles: faces through apertures (a label, or a match to a reference)"
    ARRANGEMENT = "arrangement", "Multi-arrangement: faces dragged in a circular arena"


TRIAL_TYPE_LENGTH = 16


class Study(models.Model):
    """A face-similarity study over one stimulus set."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        LIVE = "live", "Live"
        CLOSED = "closed", "Closed"

    class DeviceRequirement(models.TextChoices):
        ANY = "any", "Any device"
        DESKTOP = "desktop", "Desktop or laptop only"

    class RatingScale(models.TextChoices):
        LIKERT_7 = "1-7", "1 to 7 (buttons)"
        SLIDER_100 = "0-100", "0 to 100 (slider)"

    # Fields that say how stored responses are read: frozen once a participant has started
    # (clone the study to change them).
    DESIGN_FIELDS = (
        "stimulus_set",
        "trial_types",
        "rating_scale",
        "trials_per_participant",
        "practice_trials",
        "repeat_rate",
        "catch_rate",
        "timing",
        "bubbles",
        "arrangement",
        "require_fullscreen",
        "min_viewport_width",
        "min_viewport_height",
        "device_requirement",
        "comprehension_questions",
        "comprehension_attempts",
        "questionnaire",
    )

    slug = models.SlugField(unique=True, help_text="Used in the participant link /s/<slug>/.")
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    stimulus_set = models.ForeignKey(
        "studyapp.StimulusSet", on_delete=models.PROTECT, related_name="studies"
    )
    trial_types = ArrayField(
        models.CharField(max_length=TRIAL_TYPE_LENGTH, choices=TrialType.choices),
        default=list,
        help_text="One block of trials per type, in a per-participant random order.",
    )
    rating_scale = models.CharField(
        max_length=10, choices=RatingScale.choices, default=RatingScale.LIKERT_7
    )
    trials_per_participant = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(5000)],
        help_text="Main trials per participant (all types together; repeats and catches extra).",
    )
    target_participants = models.PositiveIntegerField(default=30, validators=[MinValueValidator(1)])
    practice_trials = models.PositiveIntegerField(
        default=2, validators=[MaxValueValidator(50)], help_text="Per trial type; 0 for none."
    )
    break_every = models.PositiveIntegerField(
        default=40, help_text="Offer a break after this many trials; 0 for no breaks."
    )
    repeat_rate = models.FloatField(
        default=0.05,
        validators=[MinValueValidator(0.0), MaxValueValidator(0.5)],
        help_text="Fraction of main trials shown a second time (consistency).",
    )
    catch_rate = models.FloatField(
        default=0.05,
        validators=[MinValueValidator(0.0), MaxValueValidator(0.5)],
        help_text="Catch trials with an objectively correct answer, as a fraction of main trials.",
    )
    adaptive_batch = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(1000)],
        help_text="Adaptive triplet selection: after every this many completed participants "
        "a cpu job fits an embedding to all answers and chooses the next participants' "
        "triplets where its answers are least certain (balanced before the first fit); 0: off.",
    )
    min_exposure_ms = models.PositiveIntegerField(
        default=150,
        validators=[MaxValueValidator(5000)],
        help_text="An answer counts only from a fresh press after a trial's images have been "
        "on screen this long (ms); earlier presses and keys still held are ignored.",
    )
    min_rt_ms = models.PositiveIntegerField(
        default=100,
        validators=[MaxValueValidator(5000)],
        help_text="The server refuses reaction times below this floor (ms); at most the "
        "minimum exposure.",
    )
    timing = models.JSONField(
        default=dict,
        blank=True,
        help_text='Presentation timing as JSON, e.g. {"fixation_ms": 500, "exposure_ms": 100, '
        '"mask": "noise", "mask_ms": 200, "deadline_ms": 3000, "iti_ms": 300, '
        '"practice_feedback": true, "blocks": {"rating": {"exposure_ms": null, "mask": "none", '
        '"mask_ms": 0}}}; empty means no fixation, unlimited exposure, no deadline.',
    )
    bubbles = models.JSONField(
        default=dict,
        blank=True,
        help_text='Bubbles trials as JSON, e.g. {"label": "gender", "task": "label", "sigma": 10, '
        '"start": 30, "target": 0.75, "step": 0.1, "max_count": 200}: the label column and the '
        'task ("label": which of the label\'s two values the face has; "match": which of two '
        "faces seen through the apertures has the value of a reference shown in full, e.g. "
        '{"label": "identity", "task": "match"}), the apertures\' standard deviation in pixels '
        "of the image, the staircase's starting count, target accuracy and step (log scale); "
        "empty without Bubbles trials.",
    )
    arrangement = models.JSONField(
        default=dict,
        blank=True,
        help_text='Multi-arrangement trials as JSON, e.g. {"first_size": 40, "subset_size": 8}: '
        "how many faces the first arrangement shows (default: all) and how many each later "
        "one shows (chosen by lift-the-weakest from the participant's arrangements so far).",
    )
    require_fullscreen = models.BooleanField(
        default=False,
        help_text="Ask for full screen at the start and pause the trials while it is left.",
    )
    min_viewport_width = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(10_000)],
        help_text="Screening: the browser window must be at least this wide (CSS px); 0: any.",
    )
    min_viewport_height = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(10_000)],
        help_text="Screening: the browser window must be at least this high (CSS px); 0: any.",
    )
    device_requirement = models.CharField(
        max_length=10, choices=DeviceRequirement.choices, default=DeviceRequirement.ANY
    )
    comprehension_questions = models.JSONField(
        default=list,
        blank=True,
        help_text='Comprehension check after the instructions, as JSON, e.g. [{"question": '
        '"Which face do you choose?", "options": ["The most similar", "The odd one out"], '
        '"answer": 1}] (answer: the 0-based index of the right option); empty for none.',
    )
    comprehension_attempts = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text="Attempts at the comprehension check; failing them all ends the session "
        "without a completion code.",
    )
    questionnaire = models.JSONField(
        default=list,
        blank=True,
        help_text="Questions shown after consent, before the trials (see studyapp.questionnaire).",
    )
    consent_text = models.TextField(help_text="Markdown.")
    instructions = models.TextField(help_text="Markdown.")
    debrief = models.TextField(blank=True, help_text="Markdown.")
    completion_code = models.CharField(max_length=64, blank=True)
    redirect_url = models.URLField(
        blank=True, help_text="Where participants go after the debrief, e.g. Prolific's URL."
    )
    declined_count = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="Participants who declined consent (nothing else kept).",
    )
    face_models = models.ManyToManyField(
        "studyapp.FaceModel",
        blank=True,
        related_name="studies",
        help_text="Models the standard pipeline compares with the human data.",
    )
    analysis_settings = models.JSONField(
        default=dict,
        blank=True,
        help_text='Report parameters as JSON, e.g. {"n_boot": 1000, "n_permutations": 10000, '
        '"random_state": 0, "methods": ["spearman", "pearson"]}; empty means the defaults.',
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "studies"
        constraints = [
            models.CheckConstraint(
                condition=Q(repeat_rate__gte=0, repeat_rate__lte=0.5),
                name="study_repeat_rate_range",
            ),
            models.CheckConstraint(
                condition=Q(catch_rate__gte=0, catch_rate__lte=0.5), name="study_catch_rate_range"
            ),
            models.CheckConstraint(
                condition=Q(trials_per_participant__gte=1), name="study_has_trials"
            ),
            models.CheckConstraint(
                condition=Q(trial_types__len__gte=1)
                & Q(trial_types__contained_by=list(TrialType.values)),
                name="study_trial_types_valid",
            ),
            models.CheckConstraint(condition=Q(timing__contains={}), name="study_timing_is_object"),
            models.CheckConstraint(
                condition=Q(bubbles__contains={}), name="study_bubbles_is_object"
            ),
            models.CheckConstraint(
                condition=Q(arrangement__contains={}), name="study_arrangement_is_object"
            ),
            models.CheckConstraint(
                condition=Q(comprehension_questions__contains=[]),
                name="study_comprehension_is_list",
            ),
            models.CheckConstraint(
                condition=Q(comprehension_attempts__gte=1), name="study_comprehension_attempts"
            ),
            models.CheckConstraint(
                condition=Q(min_rt_ms__lte=F("min_exposure_ms")),
                name="study_rt_floor_within_exposure",
                violation_error_message="The RT floor must not exceed the minimum exposure.",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def screening_required(self) -> bool:
        """Whether participants must pass a screening before their first trial."""
        return self.setup_screening_required or bool(self.comprehension_questions)

    @property
    def setup_screening_required(self) -> bool:
        """Whether the browser window or the device is checked before the first trial."""
        return (
            self.min_viewport_width > 0
            or self.min_viewport_height > 0
            or self.device_requirement == self.DeviceRequirement.DESKTOP
        )

    @property
    def rating_range(self) -> tuple[int, int]:
        low, high = self.rating_scale.split("-")
        return int(low), int(high)
