"""Weighted up-down staircase (Kaernbach 1991) on the number of apertures.

After a correct answer the level goes down by `step`, after an error up by
`step * target / (1 - target)`: the expected change is zero where P(correct) = target, so the
level settles where accuracy is `target` (0.75 by default).  Levels are kept on a log scale
(more apertures help less and less) and the trial shows the rounded count, clipped to
[minimum, maximum].  The rule is stateless apart from the level, so the browser can run it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from analysis._checks import check_int, check_real, fail


@dataclass
class WeightedUpDown:
    """The staircase of one participant; `count` is the number of apertures to show next."""

    start: int = 30
    target: float = 0.75
    step: float = 0.1  # on the natural-log scale of the count
    minimum: int = 1
    maximum: int = 200

    def __post_init__(self):
        check_real(
            "WeightedUpDown", "target", self.target, low=0, high=1, low_open=True, high_open=True
        )
        check_real("WeightedUpDown", "step", self.step, low=0, low_open=True)
        check_int("WeightedUpDown", "minimum", self.minimum, minimum=1)
        check_int("WeightedUpDown", "maximum", self.maximum, minimum=self.minimum)
        check_int("WeightedUpDown", "start", self.start, minimum=self.minimum)
        if self.start > self.maximum:
            raise fail("WeightedUpDown", "start", f"at most maximum={self.maximum}", self.start)
        self.level = math.log(self.start)

    @property
    def count(self) -> int:
        return min(self.maximum, max(self.minimum, round(math.exp(self.level))))

    def update(self, correct: bool) -> int:
        """Record one answer and return the next count."""
        if correct:
            self.level -= self.step
        else:
            self.level += self.step * self.target / (1 - self.target)
        self.level = min(math.log(self.maximum), max(math.log(self.minimum), self.level))
        return self.count
