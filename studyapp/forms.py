"""Forms of the researcher side (admin)."""

from math import inf

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.text import slugify

from modelsvc.dlib_parts import PART_MASK_LICENCE
from studyapp.arrangement import arrangement_problems
from studyapp.bubbles import bubbles_problems, frozen_label_columns
from studyapp.forms_analysis import (
    ANALYSIS_PREFIX,
    analysis_fields,
    analysis_initial,
    analysis_settings,
)
from studyapp.models import FaceModel, Stimulus, Study, TrialType
from studyapp.questionnaire import QuestionnaireSpecField
from studyapp.screening import comprehension_problems
from studyapp.selectors.studies import study_design_frozen, study_design_problems
from studyapp.services.studies import free_slug
from studyapp.timing import timing_problems

# The fields a trial plan is made from, checked together against the stimulus set.
PLAN_FIELDS = (
    "stimulus_set",
    "trial_types",
    "trials_per_participant",
    "practice_trials",
    "repeat_rate",
    "catch_rate",
)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one input (Django's documented recipe)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


class StimulusImportForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    archive = forms.FileField(
        required=False,
        help_text="A .zip of images (folders allowed), optionally with metadata.csv, "
        "masks/ and parts.json inside.",
    )
    images = MultipleFileField(required=False, help_text="Or select image files directly.")
    metadata = forms.FileField(
        required=False, help_text="CSV: first column the file name, other columns labels."
    )
    label_from_folder = forms.CharField(
        required=False,
        max_length=100,
        help_text="Store each image's folder name as this label (e.g. identity).",
    )
    align_faces = forms.BooleanField(
        required=False,
        label="Align and crop",
        help_text="Find the face (dlib's CNN detector) and store dlib's aligned 150 px face chip "
        "from its 5 landmarks instead of the photo. A photo without a detectable face stops "
        "the import and is listed. With this option (or the next) a worker runs the import; "
        "its page shows the progress.",
    )
    derive_part_masks = forms.BooleanField(
        required=False,
        label="Derive part masks",
        help_text="Part masks (skin, eyes, brows, nose, mouth) from dlib's 68 landmarks. "
        + PART_MASK_LICENCE,
    )

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("archive")) == bool(cleaned.get("images")):
            raise forms.ValidationError("Give either a zip archive or image files (one of them).")
        archive = cleaned.get("archive")
        if archive and not archive.name.lower().endswith(".zip"):
            self.add_error("archive", "The archive must be a .zip file.")
        total = sum(f.size for f in [archive, *cleaned.get("images", [])] if f)
        limit = settings.STIMULUS_MAX_UPLOAD_BYTES
        if total > limit:
            raise forms.ValidationError(f"The upload has {total:,} bytes; the limit is {limit:,}.")
        return cleaned


class StimulusForm(forms.ModelForm):
    """A stimulus's labels, edited in the admin: text values of the set's label columns, and
    the columns that started Bubbles studies score answers by left as they are."""

    class Meta:
        model = Stimulus
        fields = ["labels"]

    def clean_labels(self):
        labels = self.cleaned_data["labels"]
        stimulus = self.instance
        if not isinstance(labels, dict):
            raise forms.ValidationError('Labels are a JSON object, e.g. {"gender": "female"}.')
        unknown = sorted(set(labels) - set(stimulus.stimulus_set.label_columns))
        if unknown:
            raise forms.ValidationError(
                f"The set has no label columns {unknown}; its columns are "
                f"{stimulus.stimulus_set.label_columns} (import a new set to add columns)."
            )
        not_text = sorted(key for key, value in labels.items() if not isinstance(value, str))
        if not_text:
            raise forms.ValidationError(f"Label values are text; these are not: {not_text}.")
        frozen = frozen_label_columns(stimulus_set=stimulus.stimulus_set_id)
        changed = sorted(c for c in frozen if labels.get(c) != stimulus.labels.get(c))
        if changed:
            raise forms.ValidationError(
                f"{changed} cannot change: started Bubbles studies on this set score answers "
                "by these labels (clone the study and import a corrected set instead)."
            )
        return labels


def form_field_options(db_field) -> dict:
    """Options that make a model's form field match the server's checks: number inputs take
    the bounds of the model field's validators (e.g. ``min="1"``, not the 0 of a positive
    integer); bare URLs get https:// (recruitment sites use https)."""
    if isinstance(db_field, models.URLField):
        return {"assume_scheme": "https"}
    if not isinstance(db_field, models.IntegerField | models.FloatField):
        return {}
    options = {}
    for validator in db_field.validators:
        if isinstance(validator, MinValueValidator):
            options["min_value"] = max(validator.limit_value, options.get("min_value", -inf))
        elif isinstance(validator, MaxValueValidator):
            options["max_value"] = min(validator.limit_value, options.get("max_value", inf))
    return options


def _form_field(db_field, **kwargs):
    return db_field.formfield(**{**form_field_options(db_field), **kwargs})


FROZEN_NOTE = "Participants have started: clone the study to change its design."


#: The form's sections, in order: (title, field names); the analysis fields come last.
STUDY_SECTIONS = (
    ("Study", ("title", "slug")),
    (
        "Design",
        (
            "stimulus_set",
            "face_models",
            "trial_types",
            "rating_scale",
            "trials_per_participant",
            "practice_trials",
            "break_every",
            "repeat_rate",
            "catch_rate",
            "adaptive_batch",
            "min_exposure_ms",
            "min_rt_ms",
            "timing",
            "require_fullscreen",
            "min_viewport_width",
            "min_viewport_height",
            "device_requirement",
        ),
    ),
    (
        "Texts",
        (
            "consent_text",
            "instructions",
            "comprehension_questions",
            "comprehension_attempts",
            "debrief",
        ),
    ),
    ("Recruitment", ("target_participants", "completion_code", "redirect_url")),
)


class StudyForm(forms.ModelForm):
    """A study's settings in sections; the slug defaults to the title's; the analysis
    settings are form fields (``forms_analysis``) stored as the report reads them."""

    derived_columns = ("analysis_settings",)  # set from the analysis fields (see `clean`)

    trial_types = forms.MultipleChoiceField(
        choices=TrialType.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="One block of trials per type, in a per-participant random order.",
    )

    questionnaire = QuestionnaireSpecField(
        required=False,
        help_text="Optional questions after consent, one per line: "
        "<kind> [<name>] [required] [: <wording>]; kinds: age_band, gender, country, "
        "handedness, text (text questions take a name, e.g. 'text hobbies: Your hobbies?'). "
        "Questions are optional unless marked required.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        self.fields["slug"].help_text += " Empty: made from the title."
        self.fields["adaptive_batch"].required = False  # empty: off
        self.fields.update(analysis_fields())
        for name, value in analysis_initial(self.instance.analysis_settings).items():
            self.initial.setdefault(name, value)
        self.design_frozen = study_design_frozen(study=self.instance)
        if self.design_frozen:  # disabled fields keep their stored values whatever is posted
            for name in Study.DESIGN_FIELDS:
                if name in self.fields:
                    self.fields[name].disabled = True
                    self.fields[name].help_text = FROZEN_NOTE

    def sections(self) -> list[tuple[str, list]]:
        """(title, bound fields) per section; fields no section names join the design."""
        analysis = [name for name in self.fields if name.startswith(ANALYSIS_PREFIX)]
        named = {name for _, names in STUDY_SECTIONS for name in names} | set(analysis)
        rest = [name for name in self.fields if name not in named]
        sections = [
            (title, [*names, *rest] if title == "Design" else names)
            for title, names in STUDY_SECTIONS
        ]
        return [
            (title, [self[name] for name in names if name in self.fields])
            for title, names in [*sections, ("Analysis", analysis)]
        ]

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        if slug or self.instance.pk:
            return slug or self.instance.slug
        return free_slug(slugify(self.cleaned_data.get("title", ""))[:40] or "study")

    def clean(self):
        data = super().clean()
        if not any(name.startswith(ANALYSIS_PREFIX) for name in self.errors):
            try:
                self.instance.analysis_settings = analysis_settings(
                    data, self.instance.analysis_settings
                )
            except forms.ValidationError as error:
                self.add_error(None, error)
        design = [f for f in PLAN_FIELDS if f != "stimulus_set"]
        if data.get("stimulus_set") and all(data.get(f) is not None for f in design):
            # Bubbles settings: the form's when it has them (a bad value is its own error).
            bubbles = data.get("bubbles", self.instance.bubbles) or {}
            arrangement = data.get("arrangement", self.instance.arrangement) or {}
            draft = Study(
                **{f: data[f] for f in PLAN_FIELDS}, bubbles=bubbles, arrangement=arrangement
            )
            for problem in study_design_problems(study=draft):
                self.add_error(None, problem)
        labels = data.get(ANALYSIS_PREFIX + "stimulus_groups") or []
        if data.get("stimulus_set") and labels:
            missing = sorted(set(labels) - set(data["stimulus_set"].label_columns))
            if missing:
                self.add_error(
                    ANALYSIS_PREFIX + "stimulus_groups",
                    f"Names labels the stimulus set lacks: {missing}; "
                    f"it has {data['stimulus_set'].label_columns}.",
                )
        if data.get("adaptive_batch") and "triplet" not in (data.get("trial_types") or []):
            self.add_error("adaptive_batch", "Adaptive selection chooses triplets: add them.")
        if "timing" in data and data.get("trial_types"):
            for problem in timing_problems(data["timing"], trial_types=data["trial_types"]):
                self.add_error("timing", problem)
        return data

    def clean_adaptive_batch(self) -> int:
        return self.cleaned_data.get("adaptive_batch") or 0

    def clean_bubbles(self) -> dict:
        bubbles = self.cleaned_data["bubbles"] or {}
        problems = bubbles_problems(bubbles) if bubbles else []
        if problems:
            raise forms.ValidationError(problems)
        return bubbles

    def clean_arrangement(self) -> dict:
        arrangement = self.cleaned_data["arrangement"] or {}
        problems = arrangement_problems(arrangement)
        if problems:
            raise forms.ValidationError(problems)
        return arrangement

    def clean_timing(self) -> dict:
        return {} if self.cleaned_data["timing"] is None else self.cleaned_data["timing"]

    def clean_comprehension_questions(self) -> list:
        questions = self.cleaned_data["comprehension_questions"]
        questions = [] if questions is None else questions
        problems = comprehension_problems(questions)
        if problems:
            raise forms.ValidationError(problems)
        return questions

    class Meta:
        model = Study
        formfield_callback = _form_field
        fields = [
            "title",
            "slug",
            "stimulus_set",
            "face_models",
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
            "timing",
            "bubbles",
            "arrangement",
            "require_fullscreen",
            "min_viewport_width",
            "min_viewport_height",
            "device_requirement",
            "questionnaire",
            "consent_text",
            "instructions",
            "comprehension_questions",
            "comprehension_attempts",
            "debrief",
            "completion_code",
            "redirect_url",
        ]


class StudyModelsForm(forms.Form):
    """The models a study compares with its human data (ticked on its dashboard)."""

    face_models = forms.ModelMultipleChoiceField(
        queryset=FaceModel.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
