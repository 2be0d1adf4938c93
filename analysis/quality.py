"""Participant quality and explicit exclusion rules.

`participant_quality` measures, per participant: catch-trial accuracy, response times (median,
share of implausibly fast responses), repeat consistency, and for ratings the spread of the
ratings.  `apply_exclusions` applies an `ExclusionRules` object and returns the kept trials
together with a table naming every excluded participant, the rule, the measured value and the
threshold -- nothing is dropped without a row saying why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from analysis._checks import check_real, fail
from analysis._from_dict import dataclass_from_dict

RULE_DESCRIPTIONS = {
    "platform_excluded": "marked excluded on the platform",
    "not_completed": "did not complete the study",
    "catch_accuracy": "catch-trial accuracy below the minimum",
    "fast_responses": "too many responses faster than the fast-RT limit",
    "repeat_consistency": "repeat consistency below the minimum",
    "constant_ratings": "ratings do not vary (z-scores undefined)",
    "too_few_trials": "fewer main trials than the minimum",
}


@dataclass(frozen=True)
class ExclusionRules:
    """Exclusion rules; None switches a rule off.  Every rule is reported when applied.

    Attributes:
        drop_platform_excluded: drop participants whose participant_status is "excluded".
        require_completed: drop participants whose status is not "completed".
        min_catch_accuracy: minimum share of catch trials answered correctly.
        fast_rt_ms: a response faster than this counts as "fast".
        max_fast_fraction: maximum share of fast responses among main trials.
        trial_rt_bounds_ms: (low, high) -- single non-catch trials outside are dropped (the
            participant is kept; catch trials stay so catch accuracy is not changed by RT);
            None or a None side switches that side off.
        min_repeat_consistency: minimum repeat consistency (choices: share of repeats with the
            same answer; ratings: 1 - mean |difference| / scale range).
        exclude_constant_ratings: drop rating participants whose ratings never vary.
        min_main_trials: minimum number of main trials (after trial-level RT drops).
    """

    drop_platform_excluded: bool = True
    require_completed: bool = True
    min_catch_accuracy: float | None = 0.8
    fast_rt_ms: float = 300.0
    max_fast_fraction: float | None = 0.2
    trial_rt_bounds_ms: tuple[float | None, float | None] | None = (150.0, 60_000.0)
    min_repeat_consistency: float | None = None
    exclude_constant_ratings: bool = True
    min_main_trials: int = 1

    def __post_init__(self) -> None:
        func = "ExclusionRules"
        for name in ("min_catch_accuracy", "max_fast_fraction", "min_repeat_consistency"):
            value = getattr(self, name)
            if value is not None:
                check_real(func, name, value, low=0, high=1)
        check_real(func, "fast_rt_ms", self.fast_rt_ms, low=0)
        bounds = self.trial_rt_bounds_ms
        if bounds is not None and (
            len(bounds) != 2
            or (bounds[0] is not None and bounds[1] is not None and bounds[0] >= bounds[1])
        ):
            raise fail(func, "trial_rt_bounds_ms", "None or (low, high) with low < high", bounds)

    @classmethod
    def from_dict(cls, data: dict) -> ExclusionRules:
        """The rules from a JSON object (e.g. `describe`'s); see `AnalysisParameters.from_dict`."""
        return dataclass_from_dict(cls, data)

    def describe(self) -> dict:
        """The rules as a plain dict (for reports and methods text)."""
        return asdict(self)


def participant_quality(responses: pd.DataFrame, fast_rt_ms: float = 300.0) -> pd.DataFrame:
    """One row per participant with the quality measures (see module docstring).

    Columns: participant, participant_status, trial_types, n_main, n_catch, catch_accuracy,
    n_repeats, repeat_consistency, repeat_rating_r, median_rt_ms, fast_fraction, rating_sd.
    """
    check_real("participant_quality", "fast_rt_ms", fast_rt_ms, low=0)
    groups = responses.groupby("participant", sort=True)
    table = pd.DataFrame(
        {
            "participant_status": groups["participant_status"].first(),
            "trial_types": groups["trial_type"].agg(lambda s: ",".join(sorted(set(s)))),
        }
    )
    main = responses[responses["role"] == "main"]
    catch = responses[responses["role"] == "catch"]
    table["n_main"] = main.groupby("participant").size()
    table["n_catch"] = catch.groupby("participant").size()
    table["catch_accuracy"] = catch.groupby("participant")["correct"].agg(
        lambda s: float(s.astype(float).mean())
    )
    table["median_rt_ms"] = main.groupby("participant")["rt_ms"].median()
    table["fast_fraction"] = main.groupby("participant")["rt_ms"].agg(
        lambda s: float((s < fast_rt_ms).mean())
    )
    ratings = main[main["trial_type"] == "rating"]
    table["rating_sd"] = ratings.groupby("participant")["rating"].std(ddof=0)
    repeats = _repeat_pairs(responses)
    table["n_repeats"] = repeats.groupby("participant").size()
    table["repeat_consistency"] = repeats.groupby("participant")["consistent"].mean()
    rated = repeats.dropna(subset=["rating_original"])
    table["repeat_rating_r"] = pd.Series(
        {p: _rating_r(g) for p, g in rated.groupby("participant")}, dtype=float
    )
    for col in ("n_main", "n_catch", "n_repeats"):
        table[col] = table[col].fillna(0).astype(int)
    table = table.reset_index().rename(columns={"index": "participant"})
    order = [
        "participant",
        "participant_status",
        "trial_types",
        "n_main",
        "n_catch",
        "catch_accuracy",
        "n_repeats",
        "repeat_consistency",
        "repeat_rating_r",
        "median_rt_ms",
        "fast_fraction",
        "rating_sd",
    ]
    return table[order]


def _rating_r(group: pd.DataFrame) -> float:
    if len(group) < 3 or group["rating"].std() == 0 or group["rating_original"].std() == 0:
        return float("nan")
    return float(np.corrcoef(group["rating"], group["rating_original"])[0, 1])


def _repeat_pairs(responses: pd.DataFrame) -> pd.DataFrame:
    """Each repeat trial joined to its original, with a consistency score per repeat."""
    repeats = responses[responses["role"] == "repeat"]
    originals = responses.set_index(["study", "participant", "trial_index"])
    key = pd.MultiIndex.from_arrays(
        [repeats["study"], repeats["participant"], repeats["repeat_of"].astype("int64")]
    )
    orig = originals.reindex(key)
    # a repeat whose original was dropped (RT bounds) has nothing to be consistent with
    present = orig["trial_type"].notna().to_numpy()
    repeats, orig = repeats[present], orig[present]
    same_items = _item_set(repeats) == _item_set(orig)
    if not same_items.all():
        raise fail(
            "participant_quality",
            "responses",
            "repeats showing the same stimuli as the trial they repeat",
            f"trial_index {repeats['trial_index'].to_numpy()[~same_items][:5].tolist()}",
        )
    is_rating = repeats["trial_type"].to_numpy() == "rating"
    span = (repeats["rating_max"] - repeats["rating_min"]).to_numpy()
    rating = repeats["rating"].to_numpy()
    rating_orig = orig["rating"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        rating_consistency = 1 - np.abs(rating - rating_orig) / span
    choice_consistency = (repeats["choice"].to_numpy() == orig["choice"].to_numpy()).astype(float)
    return pd.DataFrame(
        {
            "participant": repeats["participant"].to_numpy(),
            "consistent": np.where(is_rating, rating_consistency, choice_consistency),
            "rating": np.where(is_rating, rating, np.nan),
            "rating_original": np.where(is_rating, rating_orig, np.nan),
        }
    )


def _item_set(frame: pd.DataFrame) -> np.ndarray:
    items = frame[["item_1", "item_2", "item_3"]].to_numpy(dtype=object)
    return np.array(["|".join(sorted(map(str, row))) for row in items], dtype=object)


@dataclass(frozen=True)
class ExclusionResult:
    """Kept trials, the quality table (with an ``excluded`` flag and reasons), one row per
    (participant, violated rule) in `exclusions`, and the trials dropped for their RT."""

    responses: pd.DataFrame
    quality: pd.DataFrame
    exclusions: pd.DataFrame
    dropped_trials: pd.DataFrame
    rules: ExclusionRules

    def summary(self) -> dict:
        return {
            "n_participants": len(self.quality),
            "n_excluded": int(self.quality["excluded"].sum()),
            "n_trials_kept": len(self.responses),
            "n_trials_dropped_rt": len(self.dropped_trials),
            "by_rule": self.exclusions["rule"].value_counts().sort_index().to_dict(),
        }


def apply_exclusions(
    responses: pd.DataFrame, rules: ExclusionRules | None = None
) -> ExclusionResult:
    """Apply `rules`: drop single trials outside the RT bounds, then the participants who
    break a participant-level rule.  Returns an `ExclusionResult`."""
    rules = ExclusionRules() if rules is None else rules
    if not isinstance(rules, ExclusionRules):
        raise fail("apply_exclusions", "rules", "an ExclusionRules", type(rules).__name__)
    trial_drop = _rt_outside(responses, rules.trial_rt_bounds_ms)
    dropped = responses[trial_drop]
    kept_trials = responses[~trial_drop]
    quality = participant_quality(kept_trials, rules.fast_rt_ms)
    violations = []

    def rule(name: str, bad: pd.Series, value: pd.Series, threshold) -> None:
        for participant, val in zip(quality.loc[bad, "participant"], value[bad], strict=True):
            violations.append(
                {
                    "participant": participant,
                    "rule": name,
                    "description": RULE_DESCRIPTIONS[name],
                    "value": val,
                    "threshold": threshold,
                }
            )

    status = quality["participant_status"]
    if rules.drop_platform_excluded:
        rule("platform_excluded", status == "excluded", status, "excluded")
    if rules.require_completed:
        rule("not_completed", ~status.isin(["completed", "excluded"]), status, "completed")
    if rules.min_catch_accuracy is not None:
        acc = quality["catch_accuracy"]
        rule("catch_accuracy", acc < rules.min_catch_accuracy, acc, rules.min_catch_accuracy)
    if rules.max_fast_fraction is not None:
        fast = quality["fast_fraction"]
        rule("fast_responses", fast > rules.max_fast_fraction, fast, rules.max_fast_fraction)
    if rules.min_repeat_consistency is not None:
        cons = quality["repeat_consistency"]
        rule(
            "repeat_consistency",
            cons < rules.min_repeat_consistency,
            cons,
            rules.min_repeat_consistency,
        )
    if rules.exclude_constant_ratings:
        sd = quality["rating_sd"]
        rule("constant_ratings", sd == 0, sd, 0)
    n_main = quality["n_main"]
    rule("too_few_trials", n_main < rules.min_main_trials, n_main, rules.min_main_trials)
    exclusions = pd.DataFrame(
        violations, columns=["participant", "rule", "description", "value", "threshold"]
    )
    reasons = exclusions.groupby("participant")["rule"].agg(lambda s: "; ".join(s))
    quality["excluded"] = quality["participant"].isin(reasons.index)
    quality["exclusion_reasons"] = [reasons.get(p, "") for p in quality["participant"]]
    quality["n_trials_dropped_rt"] = (
        quality["participant"].map(dropped.groupby("participant").size()).fillna(0).astype(int)
    )
    kept = kept_trials[~kept_trials["participant"].isin(reasons.index)].reset_index(drop=True)
    return ExclusionResult(kept, quality, exclusions, dropped.reset_index(drop=True), rules)


def _rt_outside(responses: pd.DataFrame, bounds) -> pd.Series:
    rt = responses["rt_ms"]
    out = pd.Series(False, index=responses.index)
    if bounds is None:
        return out
    low, high = bounds
    if low is not None:
        out |= rt < low
    if high is not None:
        out |= rt > high
    return out & (responses["role"] != "catch")
