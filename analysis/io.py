"""Read the platform's response export; write matrices and triplets for other tools.

The export is a long CSV with one row per trial (see `RESPONSE_COLUMNS`).  `read_responses`
checks every column and every row that the analyses rely on and raises an error naming the
bad rows instead of guessing; `read_responses_dropping_bad_rows` drops and lists them.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from analysis._checks import fail
from analysis.csv_cells import restore_cell, write_csv
from analysis.matrices import ParticipantMatrices, SimilarityMatrix, upper_indices

RESPONSE_COLUMNS = (
    "study",
    "participant",
    "participant_status",
    "trial_index",
    "block",
    "trial_type",
    "role",
    "repeat_of",
    "item_1",
    "item_2",
    "item_3",
    "choice",
    "rating",
    "rating_min",
    "rating_max",
    "correct",
    "rt_ms",
    "responded_at",
    "received_at",
)
STATUSES = ("started", "completed", "excluded")
TRIAL_TYPES = ("triplet", "rating", "afc", "bubbles", "arrangement")
ROLES = ("main", "practice", "repeat", "catch")
_TEXT = (
    "study",
    "participant",
    "participant_status",
    "trial_type",
    "role",
    "item_1",
    "item_2",
    "item_3",
    "choice",
)
_NUMBERS = ("rating", "rating_min", "rating_max", "rt_ms")
# Columns of newer exports, in their order, read when present (older exports lack them): the
# viewport, presentation timing measured by the runner (frame timestamps, ms) and per-trial
# visibility counts; Bubbles parameters (the trial's seed, the number of apertures shown, their
# sigma in pixels, the staircase level: ``analysis.bubbles``); arrangement positions and moves.
OPTIONAL_COLUMNS = (
    "viewport_width",
    "viewport_height",
    "refresh_ms",
    "stimulus_onset_ms",
    "stimulus_offset_ms",
    "exposure_measured_ms",
    "too_slow",
    "hidden_count",
    "blur_count",
    "fullscreen_exits",
    "interrupted_attempts",
    "bubbles_seed",
    "bubbles_count",
    "bubbles_sigma",
    "bubbles_level",
    "positions",
    "moves",
)
BUBBLES_COLUMNS = ("bubbles_seed", "bubbles_count", "bubbles_sigma", "bubbles_level")
# Arrangement trials (no item columns): ``positions`` JSON {stimulus: [x, y]} in arena radii,
# ``moves`` JSON [[ms, stimulus, x, y], ...]; kept as text (``analysis.human.arrangement``).
ARRANGEMENT_COLUMNS = ("positions", "moves")
OPTIONAL_BOOLEANS = ("too_slow",)
OPTIONAL_NUMBERS = tuple(
    c for c in OPTIONAL_COLUMNS if c not in (*OPTIONAL_BOOLEANS, *ARRANGEMENT_COLUMNS)
)
# rsatoolbox's pickle format version that `write_rsatoolbox_pkl` produces
RSATOOLBOX_FORMAT_VERSION = "0.3.2"


def read_responses(
    source: str | os.PathLike | pd.DataFrame, study: str | None = None
) -> pd.DataFrame:
    """The response export as a validated DataFrame (one row per trial).

    `source` is a CSV path or a DataFrame with `RESPONSE_COLUMNS` (extra columns are kept).
    Text columns become strings ("" for empty), numbers floats (NaN for empty), ``correct``
    a nullable boolean, ``repeat_of`` a nullable integer and the two times UTC timestamps;
    the optional timing, visibility and Bubbles columns (`OPTIONAL_NUMBERS`,
    `OPTIONAL_BOOLEANS`) are read the same way when present. A Bubbles trial has one item,
    its answer (a label value) in ``choice``, ``correct`` and, when the columns are there, its
    seed, count, sigma and level. An arrangement trial has no item columns but ``positions``
    (and ``moves``) as JSON text. With `study` given, only that study's rows are read.

    Raises ValueError naming the rows that break a rule: unknown status/type/role, duplicate
    (study, participant, trial_index), a choice that is not one of the shown items (triplets)
    or not a candidate (2AFC), a rating outside its scale, a catch trial without ``correct``,
    a repeat without ``repeat_of`` (or pointing at no trial of that participant),
    inconsistent participant_status within a participant, a time that is not ISO 8601
    (such as PostgreSQL's text for a year BC), a negative or infinite rt_ms.
    `read_responses_dropping_bad_rows` drops such rows instead.
    """
    frame, _ = _read(source, study, drop=False)
    return frame


def read_responses_dropping_bad_rows(
    source: str | os.PathLike | pd.DataFrame, study: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Like `read_responses`, but a row that breaks a rule is dropped instead of fatal.

    One participant's bad row (an unparsable time, an impossible value) then never stops the
    analysis of a whole study. Rules about several rows drop all the rows involved: both
    rows of a duplicate trial, every row of a participant with two statuses, and repeats
    whose original was dropped. Missing columns and an unknown `study` still raise.

    Returns ``(rows, dropped)``: the validated rows, and one row per dropped source row with
    ``row`` (0-based position in `source`), ``study``, ``participant``, ``trial_index`` (as
    given) and ``reasons`` (the broken rules, "; "-separated).
    """
    return _read(source, study, drop=True)


DROPPED_COLUMNS = ("row", "study", "participant", "trial_index", "reasons")


class _Problems:
    """Rows that break a rule: raise at the first (strict) or collect them (drop)."""

    def __init__(self, index: pd.Index, *, drop: bool):
        self.drop = drop
        self.reasons = pd.Series("", index=index, dtype=object)

    def flag(self, bad: pd.Series, what: str, got: object = None) -> None:
        if not bad.any():
            return
        if not self.drop:
            shown = f"{int(bad.sum())} bad rows, e.g. {_rows(bad)}" if got is None else got
            raise fail("read_responses", "source", what, shown)
        hit = bad[bad].index
        self.reasons[hit] = self.reasons[hit].where(
            self.reasons[hit] == "", self.reasons[hit] + "; "
        )
        self.reasons[hit] += what

    def bad(self) -> pd.Series:
        return self.reasons != ""


def _read(
    source: str | os.PathLike | pd.DataFrame, study: str | None, *, drop: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    func = "read_responses"
    if isinstance(source, pd.DataFrame):
        frame = source.reset_index(drop=True)  # index labels are source row positions
    else:
        path = Path(source)
        if not path.exists():
            raise fail(func, "source", "an existing CSV file or a DataFrame", str(path))
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in RESPONSE_COLUMNS if c not in frame.columns]
    if missing:
        raise fail(
            func,
            "source",
            f"a table with the columns {list(RESPONSE_COLUMNS)}",
            f"missing {missing}",
        )
    frame = frame.assign(study=_text(frame["study"]))
    if study is not None:
        frame = frame[frame["study"] == str(study)]
        if frame.empty:
            raise fail(func, "study", "a study present in the export", study)
    given = frame[["study", "participant", "trial_index"]].astype(str)
    problems = _Problems(frame.index, drop=drop)
    frame = _coerce(frame, problems)
    _check_rows(frame, problems)
    kept = frame[~problems.bad()]
    while True:  # rules across rows, on the rows still kept, until nothing more is dropped
        before = problems.bad().sum()
        _check_across_rows(kept, problems)
        kept = frame[~problems.bad()]
        if problems.bad().sum() == before:
            break
    bad = problems.bad()
    dropped = given[bad].assign(reasons=problems.reasons[bad])
    dropped = dropped.rename_axis("row").reset_index()[list(DROPPED_COLUMNS)]
    return kept.reset_index(drop=True), dropped.reset_index(drop=True)


def _text(column: pd.Series) -> pd.Series:
    """Strings without surrounding blanks ("" for empty), stripping each distinct value once:
    ids, statuses and stimulus names repeat, so this is a hash lookup per row. The export's
    formula-injection quote (``analysis.csv_cells``) is removed first."""
    codes, uniques = pd.factorize(column.fillna(""))
    stripped = np.asarray([restore_cell(str(u)).strip() for u in uniques] + [""], dtype=object)
    return pd.Series(stripped[codes], index=column.index, dtype=object)


def _coerce(frame: pd.DataFrame, problems: _Problems) -> pd.DataFrame:
    frame = frame.copy()
    for col in (*_TEXT, "block", *(c for c in ARRANGEMENT_COLUMNS if c in frame.columns)):
        frame[col] = _text(frame[col])
    for col in (*_NUMBERS, *(c for c in OPTIONAL_NUMBERS if c in frame.columns)):
        frame[col] = _numeric(frame[col], col, problems)
    frame["trial_index"] = _integers(frame["trial_index"], "trial_index", problems, empty=False)
    frame["repeat_of"] = _integers(frame["repeat_of"], "repeat_of", problems, empty=True)
    for col in ("correct", *(c for c in OPTIONAL_BOOLEANS if c in frame.columns)):
        frame[col] = _booleans(frame[col], col, problems)
    for col in ("responded_at", "received_at"):  # one distinct value per row: no stripping
        raw = frame[col].astype(object).where(frame[col].notna(), "")
        parsed = pd.to_datetime(raw.replace("", None), utc=True, errors="coerce", format="ISO8601")
        bad = parsed.isna() & (raw != "")
        problems.flag(bad, f"{col} as ISO 8601 times", f"rows {_rows(bad)}")
        frame[col] = parsed
    return frame


_EMPTY = ("", "nan", "NaN", "None")


def _booleans(column: pd.Series, name: str, problems: _Problems) -> pd.Series:
    text = _text(column).str.lower()
    bad = ~text.isin(["", "true", "false", "1", "0"])
    problems.flag(
        bad,
        f"{name} as true/false or empty",
        f"{text[bad].unique()[:5].tolist()} in rows {_rows(bad)}",
    )
    return pd.array(np.where((text == "") | bad, None, text.isin(["true", "1"])), dtype="boolean")


def _numeric(column: pd.Series, name: str, problems: _Problems) -> pd.Series:
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.astype(float)
    text = column.astype(object).where(column.notna(), "")
    values = pd.to_numeric(text.where(~text.isin(_EMPTY), None), errors="coerce")
    bad = values.isna() & ~text.isin(_EMPTY)
    if bad.any():  # maybe only surrounding blanks: retry on stripped strings
        stripped = _text(text)
        values = pd.to_numeric(stripped.where(~stripped.isin(_EMPTY), None), errors="coerce")
        bad = values.isna() & ~stripped.isin(_EMPTY)
    problems.flag(bad, f"{name} as numbers or empty", f"rows {_rows(bad)}")
    return values.astype(float)


def _integers(column: pd.Series, name: str, problems: _Problems, *, empty: bool) -> pd.Series:
    values = _numeric(column, name, problems)
    bad = values.notna() & (values != np.round(values))
    if not empty:
        bad |= values.isna()
    problems.flag(bad, f"{name} as integers", f"rows {_rows(bad)}")
    return values.where(~bad).astype("Int64")


def _rows(mask: pd.Series, limit: int = 10) -> list[int]:
    """Source row positions where `mask` is true (the first `limit`)."""
    return mask.index[np.asarray(mask, dtype=bool)][:limit].tolist()


def _check_rows(frame: pd.DataFrame, problems: _Problems) -> None:
    """Rules about one row at a time."""
    check = problems.flag
    check(~frame["participant_status"].isin(STATUSES), f"participant_status in {STATUSES}")
    check(~frame["trial_type"].isin(TRIAL_TYPES), f"trial_type in {TRIAL_TYPES}")
    check(~frame["role"].isin(ROLES), f"role in {ROLES}")
    check(frame["participant"] == "", "a participant id on every row")
    kind = frame["trial_type"]
    # compare stimulus names as integer codes (object-string comparisons are slow on 10^6 rows)
    names = ["choice", "item_1", "item_2", "item_3"]
    codes, _ = pd.factorize(pd.concat([frame[c] for c in names], ignore_index=True))
    codes = codes.reshape(len(names), -1)
    choice, *items = (pd.Series(c, index=frame.index) for c in codes)
    blank = [frame[c] == "" for c in names[1:]]
    bubbles = kind == "bubbles"
    arrangement = kind == "arrangement"
    check(~arrangement & blank[0], "item_1 on every trial but arrangement trials")
    check(~bubbles & ~arrangement & blank[1], "item_2 on every trial but Bubbles and arrangements")
    if "positions" in frame.columns:
        check(arrangement & (frame["positions"] == ""), "positions on arrangement trials")
    check(bubbles & (blank[1] != blank[2]), "one item (label) or three (match) on Bubbles trials")
    check(bubbles & (frame["choice"] == ""), "an answer on every Bubbles trial")
    check(bubbles & frame["correct"].isna(), "correct set on Bubbles trials")
    if all(c in frame.columns for c in BUBBLES_COLUMNS):
        missing = frame[list(BUBBLES_COLUMNS)].isna().any(axis=1)
        check(bubbles & missing, f"{', '.join(BUBBLES_COLUMNS)} on Bubbles trials")
    choice_trials = kind.isin(["triplet", "afc"])
    check(choice_trials & blank[2], "item_3 on triplet and 2AFC trials")
    check((kind == "rating") & ~blank[2], "no item_3 on rating trials")
    in_triplet = (choice == items[0]) | (choice == items[1]) | (choice == items[2])
    check((kind == "triplet") & ~in_triplet, "the choice of a triplet to be one of its items")
    is_candidate = (choice == items[1]) | (choice == items[2])
    check((kind == "afc") & ~is_candidate, "the choice of a 2AFC trial to be item_2 or item_3")
    match = bubbles & ~blank[2]
    check(match & ~is_candidate, "the choice of a Bubbles match to be item_2 or item_3")
    check((kind == "afc") & (items[1] == items[2]), "two different 2AFC candidates")
    rating = frame["rating"]
    check((kind == "rating") & rating.isna(), "a rating on every rating trial")
    check(
        (kind == "rating") & (frame["rating_min"].isna() | frame["rating_max"].isna()),
        "rating_min and rating_max on rating trials",
    )
    check(
        (kind == "rating") & (items[0] == items[1]) & (frame["role"] != "catch"),
        "two different stimuli on non-catch rating trials",
    )
    outside = (rating < frame["rating_min"]) | (rating > frame["rating_max"])
    check((kind == "rating") & outside, "ratings within [rating_min, rating_max]")
    check((frame["role"] == "catch") & frame["correct"].isna(), "correct set on catch trials")
    check((frame["role"] == "repeat") & frame["repeat_of"].isna(), "repeat_of set on repeat trials")
    rt = frame["rt_ms"]
    check((rt < 0) | np.isinf(rt), "non-negative, finite rt_ms")


def _check_across_rows(frame: pd.DataFrame, problems: _Problems) -> None:
    """Rules about several rows: duplicates, one status per participant, repeat targets."""
    check = problems.flag
    check(
        frame.duplicated(["study", "participant", "trial_index"], keep=False),
        "one row per (study, participant, trial_index)",
    )
    people = frame.groupby(["study", "participant"])["participant_status"]
    mixed = people.transform("nunique") > 1
    check(
        mixed,
        "one participant_status per participant",
        people.nunique()[lambda n: n > 1].index.tolist()[:5],
    )
    repeat = frame["role"] == "repeat"
    trials = pd.MultiIndex.from_arrays([frame["study"], frame["participant"], frame["trial_index"]])
    targets = pd.MultiIndex.from_arrays([frame["study"], frame["participant"], frame["repeat_of"]])
    dangling = repeat & pd.Series(~targets.isin(trials), index=frame.index)
    check(dangling, "repeat_of naming a trial of the same participant")


def write_things_triplets(
    triplets: pd.DataFrame, stimuli: Sequence[str], path: str | os.PathLike
) -> None:
    """Write triplets as THINGS / SPoSE style ``i,j,odd`` rows (0-based stimulus indices).

    `triplets` has columns i, j, odd (indices into `stimuli`), as made by
    `analysis.human.triplets.triplet_table`.  A ``<name>_stimuli.csv`` file next to it maps
    index -> stimulus id.
    """
    path = Path(path)
    triplets[["i", "j", "odd"]].astype(int).to_csv(path, index=False)
    write_csv(
        pd.DataFrame({"index": range(len(stimuli)), "stimulus": list(stimuli)}),
        path.with_name(path.stem + "_stimuli.csv"),
        index=False,
    )


def save_matrices_npz(
    path: str | os.PathLike,
    matrices: Mapping[str, SimilarityMatrix],
    participants: ParticipantMatrices | None = None,
) -> None:
    """Save matrices in a documented ``.npz`` that needs only numpy to read.

    Keys: ``stimuli`` (n,), ``names`` (k,), ``kinds`` (k,), ``dissimilarities`` (k, n*(n-1)/2)
    upper-triangle vectors in rsatoolbox order (NaN = missing), ``counts`` (k, n_pairs),
    ``squares`` (k, n, n); with `participants` also ``participant_ids`` (p,),
    ``participant_dissimilarities`` (p, n_pairs) and ``participant_counts`` (p, n_pairs).
    ``rsatoolbox.rdm.RDMs(f["dissimilarities"], pattern_descriptors={"stimulus":
    list(f["stimuli"])}, rdm_descriptors={"name": list(f["names"])})`` rebuilds the RDMs.
    """
    names, stimuli = _check_same_stimuli("save_matrices_npz", matrices)
    mats = [m.dissimilarity() for m in matrices.values()]
    arrays = {
        "stimuli": np.array(stimuli, dtype=str),
        "names": np.array(names, dtype=str),
        "kinds": np.array([m.kind for m in matrices.values()], dtype=str),
        "dissimilarities": np.stack([m.upper() for m in mats]),
        "counts": np.stack([m.upper_counts() for m in mats]),
        "squares": np.stack([m.values for m in mats]),
    }
    if participants is not None:
        diss = participants.dissimilarity()
        if diss.stimuli != tuple(stimuli):
            raise fail(
                "save_matrices_npz",
                "participants",
                "the same stimuli as the matrices",
                "different stimuli",
            )
        arrays["participant_ids"] = np.array(diss.participants, dtype=str)
        arrays["participant_dissimilarities"] = diss.vectors()
        arrays["participant_counts"] = diss.count_vectors()
    np.savez_compressed(path, **arrays)


def write_rsatoolbox_pkl(
    path: str | os.PathLike, matrices: Mapping[str, SimilarityMatrix], measure: str = ""
) -> None:
    """Write matrices in rsatoolbox's pickle format (``rsatoolbox.rdm.load_rdm(path, "pkl")``).

    The file is the plain dictionary of ``RDMs.to_dict()``: dissimilarity vectors, stimulus ids
    as the ``stimulus`` pattern descriptor, matrix names as the ``name`` rdm descriptor.  It is
    written without importing rsatoolbox (a test-only dependency here).
    """
    names, stimuli = _check_same_stimuli("write_rsatoolbox_pkl", matrices)
    vectors = np.stack([m.dissimilarity().upper() for m in matrices.values()])
    rdm_dict = {
        "dissimilarities": vectors,
        "descriptors": {},
        "rdm_descriptors": {"name": list(names), "index": list(range(len(names)))},
        "pattern_descriptors": {"stimulus": list(stimuli), "index": list(range(len(stimuli)))},
        "dissimilarity_measure": measure,
        "rsatoolbox_version": RSATOOLBOX_FORMAT_VERSION,
    }
    with open(path, "wb") as handle:
        pickle.dump(rdm_dict, handle, protocol=4)


def _check_same_stimuli(func: str, matrices: Mapping[str, SimilarityMatrix]):
    if not matrices:
        raise fail(func, "matrices", "a non-empty mapping", matrices)
    stimuli = next(iter(matrices.values())).stimuli
    for name, m in matrices.items():
        if m.stimuli != stimuli:
            raise fail(
                func,
                "matrices",
                "matrices over the same stimuli in the same order",
                f"{name!r} differs",
            )
    return list(matrices), list(stimuli)


def load_matrices_npz(path: str | os.PathLike) -> dict[str, SimilarityMatrix]:
    """Matrices saved by `save_matrices_npz`, by name."""
    with np.load(path, allow_pickle=False) as f:
        stimuli = [str(s) for s in f["stimuli"]]
        n = len(stimuli)
        rows, cols = upper_indices(n)
        out = {}
        for k, name in enumerate(f["names"]):
            counts = np.zeros((n, n), dtype=np.int64)
            counts[rows, cols] = counts[cols, rows] = f["counts"][k]
            out[str(name)] = SimilarityMatrix(
                f["squares"][k], stimuli, "dissimilarity", counts, name=str(name)
            )
    return out
