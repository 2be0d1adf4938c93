"""The report's opening: one row and one plain sentence per model/layer.

The numbers are the primary method's rows of the model comparison table, unchanged; the
sentence is chosen by them: where the estimate lies against the noise-ceiling band (above,
within, below, or no band), whether its 95 % interval excludes zero, and, where it does not,
whether the Mantel test disagrees.  `summary_display`
prints the rows as the comparison table prints its numbers.
"""

from __future__ import annotations

import math

import pandas as pd

# the statistic's symbol in sentences and column heads
SYMBOLS = {"spearman": "ρ", "pearson": "r", "rho-a": "ρa", "tau-a": "τa"}

SIGNIFICANT = 0.05  # FDR-corrected p below which the Mantel test is named in the sentence

SUMMARY_COLUMNS = (
    "model",
    "method",
    "evaluation",
    "ci_low",
    "ci_high",
    "mantel_p_fdr",
    "noise_ceiling_lower",
    "noise_ceiling_upper",
    "share_of_lower_ceiling",
)


def model_label(model: str, layer: str) -> str:
    """ "model/layer", or the model alone when it has no layer."""
    return f"{model}/{layer}" if layer else model


def summary_table(comparison: pd.DataFrame | None, method: str) -> pd.DataFrame | None:
    """One row per model/layer of `method`: the comparison table's estimate, interval,
    FDR-corrected Mantel p and noise-ceiling band, the share of the lower ceiling reached
    (estimate / lower bound; NaN without a positive lower bound) and its `sentence`."""
    if comparison is None or comparison.empty:
        return None
    rows = comparison[comparison["method"] == method].reset_index(drop=True)
    lower = rows["noise_ceiling_lower"].where(rows["noise_ceiling_lower"] > 0)
    table = pd.DataFrame(
        {
            "model": [
                model_label(m, la) for m, la in zip(rows["model"], rows["layer"], strict=True)
            ],
            "method": rows["method"],
            "evaluation": rows["evaluation"],
            "ci_low": rows["ci_low"],
            "ci_high": rows["ci_high"],
            "mantel_p_fdr": rows["mantel_p_fdr"],
            "noise_ceiling_lower": rows["noise_ceiling_lower"],
            "noise_ceiling_upper": rows["noise_ceiling_upper"],
            "share_of_lower_ceiling": rows["evaluation"] / lower,
        }
    )[list(SUMMARY_COLUMNS)]
    table["sentence"] = [sentence(row) for _, row in table.iterrows()]
    return table


def _finite(*values: float) -> bool:
    return all(pd.notna(v) and math.isfinite(float(v)) for v in values)


def _ceiling_clause(value: float, lower: float, upper: float) -> str:
    if not _finite(lower, upper):
        return "no noise ceiling to compare with (see Reliability)"
    if value > upper:
        return f"above the upper noise ceiling {upper:.2f} (as good as these data can show)"
    if value >= lower:
        return f"within the noise-ceiling band {lower:.2f} to {upper:.2f}"
    share = f" ({value / lower:.0%} of it)" if lower > 0 and value > 0 else ""
    return f"below the lower noise ceiling {lower:.2f}{share}"


def _zero_clause(low: float, high: float, p_fdr: float) -> str:
    if not _finite(low, high):
        return "no interval (too few participants or stimuli to resample)"
    if low > 0:
        return "reliably above zero"
    if high < 0:
        return "reliably below zero"
    if _finite(p_fdr) and p_fdr < SIGNIFICANT:
        # the Mantel test holds these participants fixed; the interval also resamples them
        return (
            "not distinguishable from zero over new participants and stimuli, although the "
            f"Mantel test on these data gives p = {p_fdr:.2g} after FDR"
        )
    return "not distinguishable from zero"


def sentence(row: pd.Series | dict) -> str:
    """One plain sentence for one `summary_table` row, e.g. "vgg/classifier.1: ρ = 0.11
    [-0.06, 0.28], below the lower noise ceiling 0.20 (55% of it); not distinguishable from
    zero"."""
    symbol = SYMBOLS.get(row["method"], row["method"])
    value = row["evaluation"]
    if not _finite(value):
        return (
            f"{row['model']}: {symbol} not defined (the model's dissimilarities are constant or "
            "missing on the compared pairs); no comparison possible"
        )
    low, high = row["ci_low"], row["ci_high"]
    interval = f" [{low:.2f}, {high:.2f}]" if _finite(low, high) else ""
    ceiling = _ceiling_clause(value, row["noise_ceiling_lower"], row["noise_ceiling_upper"])
    zero = _zero_clause(low, high, row["mantel_p_fdr"])
    return f"{row['model']}: {symbol} = {value:.2f}{interval}, {ceiling}; {zero}"


def _number(value: float) -> str:
    """A number as the report's tables print it (4 significant digits; empty when NaN)."""
    return "" if pd.isna(value) else f"{value:.4g}"


def summary_display(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary table as printed: numbers as in the comparison table, interval and band
    in one column each, the share of the lower ceiling in percent."""
    return pd.DataFrame(
        {
            "model / layer": summary["model"],
            "statistic": summary["method"].map(lambda m: SYMBOLS.get(m, m)),
            "estimate": summary["evaluation"].map(_number),
            "95% CI": [
                f"[{_number(lo)}, {_number(hi)}]" if pd.notna(lo) and pd.notna(hi) else ""
                for lo, hi in zip(summary["ci_low"], summary["ci_high"], strict=True)
            ],
            "p (FDR, Mantel)": summary["mantel_p_fdr"].map(_number),
            "noise ceiling": [
                f"{_number(lo)} to {_number(hi)}" if pd.notna(lo) and pd.notna(hi) else "none"
                for lo, hi in zip(
                    summary["noise_ceiling_lower"], summary["noise_ceiling_upper"], strict=True
                )
            ],
            "share of lower ceiling": summary["share_of_lower_ceiling"].map(
                lambda v: "" if pd.isna(v) else f"{v:.0%}"
            ),
        }
    )
