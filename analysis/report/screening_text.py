"""What the methods text says about the platform's screening of participants."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

REASONS = {
    "viewport": "window too small",
    "device": "not a desktop or laptop",
    "comprehension": "comprehension check failed",
}


@dataclass(frozen=True)
class ScreeningRules:
    """A study's screening before the first trial and how many sessions each reason ended.

    ``min_width`` / ``min_height``: the smallest browser window (CSS px, 0: any);
    ``questions``: comprehension questions on the instructions, ``attempts`` allowed;
    ``screened_out``: sessions ended per reason ("viewport", "device", "comprehension").
    """

    min_width: int = 0
    min_height: int = 0
    desktop_only: bool = False
    questions: int = 0
    attempts: int = 1
    screened_out: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.screened_out) - set(REASONS))
        if unknown:
            raise ValueError(
                f"The 'screened_out' parameter of ScreeningRules must name reasons among "
                f"{sorted(REASONS)}; got {unknown}."
            )

    @property
    def required(self) -> list[str]:
        """The requirements, in words (empty: no screening)."""
        out = []
        if self.min_width and self.min_height:
            out.append(
                f"a browser window of at least {self.min_width} x {self.min_height} CSS pixels"
            )
        elif self.min_width or self.min_height:
            size, side = (self.min_width, "wide") if self.min_width else (self.min_height, "high")
            out.append(f"a browser window at least {size} CSS pixels {side}")
        if self.desktop_only:
            out.append("a desktop or laptop computer (phones and tablets refused)")
        if self.questions:
            tries = "attempt" if self.attempts == 1 else "attempts"
            out.append(
                f"all {self.questions} comprehension questions on the instructions answered "
                f"correctly within {self.attempts} {tries}"
            )
        return out


def screening_paragraph(rules: ScreeningRules | None) -> str | None:
    """The methods paragraph on screening (None when the study screened no one)."""
    if rules is None or not rules.required:
        return None
    total = sum(rules.screened_out.values())
    sessions = "1 session was" if total == 1 else f"{total} sessions were"
    counts = ", ".join(f"{REASONS[r]}: {rules.screened_out.get(r, 0)}" for r in REASONS)
    return (
        "Before the first trial, participants were screened on the platform; they needed "
        + "; ".join(rules.required)
        + f". {sessions} ended by the screening ({counts}) without a completion "
        "code; they gave no responses and did not count towards the target number of "
        "participants."
    )
