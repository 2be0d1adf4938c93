"""A study's optional questionnaire: the researcher's line-based spec and the participant's form.

Stored as a list on ``Study.questionnaire``, one entry per question:
``{"key": "age_band", "kind": "age_band", "required": true, "label": "Your age"}``.
The study form shows it as one line per question, ``<kind> [<name>] [required] [: <label>]``::

    age_band required
    gender
    country required: Country of residence
    handedness
    text comments: Anything we should know?

Kinds are the keys of ``KINDS``; a question is optional unless the line says ``required``.
Only ``text`` questions take a name (default ``comments``), so several can be asked; the name
is the attribute's key in the data and the export.
"""

import re
from functools import cache

from django import forms

MAX_QUESTIONS = 20
MAX_LABEL = 200
MAX_TEXT_ANSWER = 1000
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@cache
def country_choices() -> tuple[tuple[str, str], ...]:
    """ISO 3166 countries (pycountry): the alpha-2 code is stored, the name is shown."""
    import pycountry  # only the pages that show or check a questionnaire need its data

    return tuple(sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda c: c[1]))


KINDS = {
    "age_band": (
        "Your age",
        (
            ("18-24", "18–24"),
            ("25-34", "25–34"),
            ("35-44", "35–44"),
            ("45-54", "45–54"),
            ("55-64", "55–64"),
            ("65+", "65 or older"),
        ),
    ),
    "gender": (
        "Your gender",
        (
            ("female", "Female"),
            ("male", "Male"),
            ("non-binary", "Non-binary"),
            ("self-described", "I describe myself another way"),
        ),
    ),
    "country": ("Your country of residence", country_choices),
    "handedness": (
        "Your handedness",
        (("right", "Right-handed"), ("left", "Left-handed"), ("both", "Ambidextrous")),
    ),
    "text": ("Anything else you would like to tell us?", None),
}
DEFAULT_TEXT_NAME = "comments"


class QuestionnaireError(ValueError):
    """A spec line that cannot be read; the message names the line."""


def parse_spec(text: str) -> list[dict]:
    """The questions of a line-based spec (see the module's docstring); blank lines are skipped."""
    questions = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            questions.append(_parse_line(line.strip(), number))
    keys = [q["key"] for q in questions]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise QuestionnaireError(
            f"Each question must have its own name; {repeated} appear more than once "
            "(name text questions, e.g. 'text hobbies')."
        )
    if len(questions) > MAX_QUESTIONS:
        raise QuestionnaireError(f"At most {MAX_QUESTIONS} questions; got {len(questions)}.")
    return questions


def _parse_line(line: str, number: int) -> dict:
    head, _, label = line.partition(":")
    words = head.split() or [""]
    kind, rest = words[0].lower(), [w.lower() for w in words[1:]]
    where = f"Line {number} ({line!r})"
    if kind not in KINDS:
        raise QuestionnaireError(f"{where}: the kind must be one of {sorted(KINDS)}; got {kind!r}.")
    required = "required" in rest
    rest = [w for w in rest if w not in ("required", "optional")]
    key = kind
    if kind == "text":
        key = rest.pop(0) if rest else DEFAULT_TEXT_NAME
        if not NAME.match(key):
            raise QuestionnaireError(
                f"{where}: a text question's name must be lower-case letters, digits and _, "
                f"starting with a letter (at most 40); got {key!r}."
            )
    if rest:
        raise QuestionnaireError(
            f"{where}: after the kind only 'required' or 'optional' may follow"
            f"{' (and, for text, a name)' if kind == 'text' else ''}; got {' '.join(rest)!r}. "
            "Put the question's wording after a ':'."
        )
    label = label.strip() or KINDS[kind][0]
    if len(label) > MAX_LABEL:
        raise QuestionnaireError(f"{where}: the wording has at most {MAX_LABEL} characters.")
    return {"key": key, "kind": kind, "required": required, "label": label}


def spec_text(questions: list[dict]) -> str:
    """The spec lines of stored questions (the inverse of ``parse_spec``)."""
    lines = []
    for q in questions:
        words = [q["kind"]]
        if q["kind"] == "text":
            words.append(q["key"])
        if q["required"]:
            words.append("required")
        default = q["label"] == KINDS[q["kind"]][0]
        lines.append(" ".join(words) + ("" if default else f": {q['label']}"))
    return "\n".join(lines)


class QuestionnaireSpecField(forms.CharField):
    """The study form's questionnaire: spec lines in, the list of questions out."""

    widget = forms.Textarea(attrs={"rows": 5})

    def prepare_value(self, value):
        return spec_text(value) if isinstance(value, list) else value

    def to_python(self, value) -> list[dict]:
        if isinstance(value, list):  # the stored questions (a disabled field cleans its initial)
            value = spec_text(value)
        try:
            return parse_spec(super().to_python(value) or "")
        except QuestionnaireError as error:
            raise forms.ValidationError(str(error)) from error

    def has_changed(self, initial, data) -> bool:
        return self.to_python(data) != (initial or [])


class QuestionnaireForm(forms.Form):
    """The participant's page: one field per question, in the study's order."""

    def __init__(self, questions: list[dict], *args, **kwargs):
        super().__init__(*args, **kwargs)
        for q in questions:
            choices = KINDS[q["kind"]][1]
            if choices is None:
                field = forms.CharField(
                    max_length=MAX_TEXT_ANSWER, widget=forms.Textarea(attrs={"rows": 3})
                )
            else:
                options = choices() if callable(choices) else choices
                field = forms.ChoiceField(choices=[("", "—"), *options])
            field.required = q["required"]
            field.label = q["label"]
            self.fields[q["key"]] = field

    def answers(self) -> dict[str, str]:
        """The answered questions (blank optional ones are left out)."""
        return {k: v.strip() for k, v in self.cleaned_data.items() if v and v.strip()}
