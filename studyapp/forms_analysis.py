"""The study form's analysis settings as form fields, mapped to and from the stored JSON.

A study stores its analysis settings as `analysis.AnalysisParameters.as_dict` (all of them,
so the report reads exactly what the form showed). The form shows the choices researchers
make (statistics, draws, permutations, split-halves, exclusion rules, group columns); settings
it does not show (embedding fit, …) keep their stored values. Every field's help names
its default, taken from ``AnalysisParameters()`` so it cannot drift.
"""

from django import forms

ANALYSIS_PREFIX = "analysis_"
METHOD_LABELS = {
    "spearman": "Spearman ρ",
    "pearson": "Pearson r",
    "rho-a": "ρ-a (Spearman without tie correction)",
    "tau-a": "Kendall τ-a (exact, slow for large sets)",
}
#: form field (without the prefix) -> (section of AnalysisParameters.as_dict or None, key)
FIELD_KEYS = {
    "methods": (None, "methods"),
    "primary_method": (None, "primary_method"),
    "n_boot": (None, "n_boot"),
    "n_permutations": (None, "n_permutations"),
    "n_splits": (None, "n_splits"),
    "level": (None, "level"),
    "random_state": (None, "random_state"),
    "choice_matrix": (None, "choice_matrix"),
    "require_completed": ("exclusions", "require_completed"),
    "drop_platform_excluded": ("exclusions", "drop_platform_excluded"),
    "min_catch_accuracy": ("exclusions", "min_catch_accuracy"),
    "fast_rt_ms": ("exclusions", "fast_rt_ms"),
    "max_fast_fraction": ("exclusions", "max_fast_fraction"),
    "min_repeat_consistency": ("exclusions", "min_repeat_consistency"),
    "exclude_constant_ratings": ("exclusions", "exclude_constant_ratings"),
    "min_main_trials": ("exclusions", "min_main_trials"),
    "participant_groups": (None, "participant_groups"),
    "stimulus_groups": (None, "stimulus_groups"),
}
RT_BOUNDS = ("trial_rt_low_ms", "trial_rt_high_ms")  # exclusions.trial_rt_bounds_ms


def _defaults() -> dict:
    from analysis import AnalysisParameters  # pandas, scipy: see studyapp.charts

    return AnalysisParameters().as_dict()


class NamesField(forms.CharField):
    """Comma-separated names in, a list out (empty: none)."""

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list | tuple) else value

    def to_python(self, value) -> list[str]:
        return [
            name.strip() for name in (super().to_python(value) or "").split(",") if name.strip()
        ]


def _share(label: str, default, meaning: str) -> forms.FloatField:
    shown = "off" if default is None else default
    return forms.FloatField(
        label=label,
        required=False,
        min_value=0,
        max_value=1,
        help_text=f"{meaning} Empty switches the rule off. Default: {shown}.",
    )


def analysis_fields() -> dict[str, forms.Field]:
    """The form fields, named ``analysis_<key>``, with their defaults in the help."""
    from analysis.kernels.correlate import METHODS
    from analysis.study_analysis import CHOICE_MATRIX

    defaults = _defaults()
    rules = defaults["exclusions"]
    method_choices = [(m, METHOD_LABELS.get(m, m)) for m in METHODS]
    low, high = rules["trial_rt_bounds_ms"] or (None, None)
    fields = {
        "methods": forms.MultipleChoiceField(
            label="Comparison statistics",
            choices=method_choices,
            widget=forms.CheckboxSelectMultiple,
            help_text=f"Default: {', '.join(defaults['methods'])}.",
        ),
        "primary_method": forms.ChoiceField(
            label="Primary statistic",
            choices=method_choices,
            help_text="Used for the figures, split-halves and decision weighting; one of the "
            f"ticked statistics. Default: {defaults['primary_method']}.",
        ),
        "n_boot": forms.IntegerField(
            label="Bootstrap draws",
            min_value=2,
            max_value=1_000_000,
            help_text="Dual bootstrap over participants and stimuli (95 % intervals). "
            f"Default: {defaults['n_boot']:,}.",
        ),
        "n_permutations": forms.IntegerField(
            label="Permutations",
            min_value=1,
            max_value=10_000_000,
            help_text=f"Mantel test permutations. Default: {defaults['n_permutations']:,}.",
        ),
        "n_splits": forms.IntegerField(
            label="Split-halves",
            min_value=1,
            max_value=100_000,
            help_text=f"Random splits for reliability. Default: {defaults['n_splits']}.",
        ),
        "level": forms.FloatField(
            label="Confidence level",
            min_value=0.5,
            max_value=0.999,
            help_text=f"Of every interval. Default: {defaults['level']}.",
        ),
        "random_state": forms.IntegerField(
            label="Random seed",
            min_value=0,
            max_value=2**31 - 1,
            help_text=f"Seed of every random draw. Default: {defaults['random_state']}.",
        ),
        "choice_matrix": forms.ChoiceField(
            label="Similarity from choices",
            choices=[(c, c) for c in CHOICE_MATRIX],
            help_text="counts (dense designs), embedding (sparse designs) or auto. "
            f"Default: {defaults['choice_matrix']}.",
        ),
        "require_completed": forms.BooleanField(
            label="Only completed participants",
            required=False,
            help_text=f"Default: {'on' if rules['require_completed'] else 'off'}.",
        ),
        "drop_platform_excluded": forms.BooleanField(
            label="Drop participants excluded on the dashboard",
            required=False,
            help_text=f"Default: {'on' if rules['drop_platform_excluded'] else 'off'}.",
        ),
        "min_catch_accuracy": _share(
            "Minimum catch accuracy",
            rules["min_catch_accuracy"],
            "Share of catch trials answered correctly (0–1).",
        ),
        "fast_rt_ms": forms.FloatField(
            label="Fast response (ms)",
            min_value=0,
            max_value=60_000,
            help_text="A response faster than this counts as fast. "
            f"Default: {rules['fast_rt_ms']}.",
        ),
        "max_fast_fraction": _share(
            "Maximum share of fast responses",
            rules["max_fast_fraction"],
            "Among main trials (0–1).",
        ),
        "min_repeat_consistency": _share(
            "Minimum repeat consistency",
            rules["min_repeat_consistency"],
            "Agreement on repeated trials (0–1).",
        ),
        "exclude_constant_ratings": forms.BooleanField(
            label="Drop raters whose ratings never vary",
            required=False,
            help_text=f"Default: {'on' if rules['exclude_constant_ratings'] else 'off'}.",
        ),
        "min_main_trials": forms.IntegerField(
            label="Minimum main trials",
            min_value=1,
            max_value=100_000,
            help_text=f"Default: {rules['min_main_trials']}.",
        ),
        "trial_rt_low_ms": forms.FloatField(
            label="Drop single trials faster than (ms)",
            required=False,
            min_value=0,
            max_value=3_600_000,
            help_text=f"Empty: no lower bound. Default: {low if low is not None else 'none'}.",
        ),
        "trial_rt_high_ms": forms.FloatField(
            label="Drop single trials slower than (ms)",
            required=False,
            min_value=0,
            max_value=3_600_000,
            help_text=f"Empty: no upper bound. Default: {high if high is not None else 'none'}.",
        ),
        "participant_groups": NamesField(
            label="Participant groups",
            required=False,
            help_text="Participant attributes (questionnaire questions, attached columns) to "
            "compare groups by, comma-separated, e.g. age_band. Default: none.",
        ),
        "stimulus_groups": NamesField(
            label="Stimulus groups",
            required=False,
            help_text="The stimulus set's label columns to compare faces by, comma-separated, "
            "e.g. gender. Default: none.",
        ),
    }
    return {ANALYSIS_PREFIX + name: field for name, field in fields.items()}


def analysis_initial(stored: dict) -> dict:
    """Form values for a study's stored settings (defaults where it stores none).

    Stored settings the analysis no longer accepts show the defaults; saving replaces them.
    """
    from analysis import AnalysisParameters

    try:
        values = AnalysisParameters.from_dict(stored or {}).as_dict()
    except ValueError:
        values = _defaults()
    initial = {
        ANALYSIS_PREFIX + name: values[section][key] if section else values[key]
        for name, (section, key) in FIELD_KEYS.items()
    }
    bounds = values["exclusions"]["trial_rt_bounds_ms"] or (None, None)
    initial.update(
        {ANALYSIS_PREFIX + name: bound for name, bound in zip(RT_BOUNDS, bounds, strict=True)}
    )
    return initial


def analysis_settings(cleaned: dict, stored: dict) -> dict:
    """The settings to store: the form's values over the study's stored ones, checked by
    ``AnalysisParameters`` (its message becomes the ValidationError)."""
    from analysis import AnalysisParameters

    try:
        values = AnalysisParameters.from_dict(stored or {}).as_dict()
    except ValueError:
        values = _defaults()
    for name, (section, key) in FIELD_KEYS.items():
        target = values[section] if section else values
        target[key] = cleaned[ANALYSIS_PREFIX + name]
    low, high = (cleaned[ANALYSIS_PREFIX + name] for name in RT_BOUNDS)
    values["exclusions"]["trial_rt_bounds_ms"] = None if low is high is None else [low, high]
    try:
        return AnalysisParameters.from_dict(values).as_dict()
    except ValueError as error:
        raise forms.ValidationError(str(error)) from error
