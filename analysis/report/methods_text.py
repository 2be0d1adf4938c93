"""Methods text written from the parameters and results of an analysis (never hand-edited),
so the text always states what was actually done."""

from __future__ import annotations

import platform
from importlib.metadata import version

from analysis.evaluation import MIN_CEILING_PAIRS
from analysis.report.screening_text import ScreeningRules, screening_paragraph
from analysis.study_analysis import StudyAnalysis

METHOD_NAMES = {
    "spearman": "Spearman's rho",
    "pearson": "Pearson's r",
    "rho-a": "Spearman's rho-a (no tie correction)",
    "tau-a": "Kendall's tau-a",
}


def _fmt(x: float, digits: int = 3) -> str:
    return "n/a" if x is None or x != x else f"{x:.{digits}f}"


def _rules_text(a: StudyAnalysis) -> str:
    """The exclusion rules that could apply to this study: the constant-ratings rule only to
    ratings, the catch and repeat rules only when the data has catch or repeated trials."""
    r = a.parameters.exclusions
    quality = a.exclusion.quality
    parts = []
    if r.drop_platform_excluded:
        parts.append("participants marked excluded on the platform")
    if r.require_completed:
        parts.append("participants who did not complete the study")
    if r.min_catch_accuracy is not None and quality["n_catch"].sum() > 0:
        parts.append(f"participants below {r.min_catch_accuracy:.0%} catch-trial accuracy")
    if r.max_fast_fraction is not None:
        parts.append(
            f"participants with more than {r.max_fast_fraction:.0%} of main-trial responses "
            f"faster than {r.fast_rt_ms:g} ms"
        )
    if r.min_repeat_consistency is not None and quality["n_repeats"].sum() > 0:
        parts.append(f"participants below {r.min_repeat_consistency:.0%} repeat consistency")
    if r.exclude_constant_ratings and a.trial_type == "rating":
        parts.append("participants whose ratings never varied")
    parts.append(f"participants with fewer than {r.min_main_trials} main trials")
    text = "Excluded were " + "; ".join(parts) + "."
    if r.trial_rt_bounds_ms is not None:
        low, high = r.trial_rt_bounds_ms
        bounds = []
        if low is not None:
            bounds.append(f"faster than {low:g} ms")
        if high is not None:
            bounds.append(f"slower than {high:g} ms")
        if bounds:
            text += f" Single non-catch trials {' or '.join(bounds)} were dropped."
    return text


def methods_paragraphs(a: StudyAnalysis, screening: ScreeningRules | None = None) -> list[str]:
    """The methods section as a list of paragraphs; ``screening``: the platform's screening
    of participants, described when the study had one."""
    p = a.parameters
    s = a.exclusion.summary()
    by_rule = ", ".join(f"{k}: {v}" for k, v in s["by_rule"].items()) or "none"
    paragraphs = [
        f"Study '{a.study}' used {a.trial_type} trials over {len(a.stimuli)} stimuli. "
        f"Participants: {s['n_participants']}, excluded: {s['n_excluded']} "
        f"(rule violations: {by_rule}); {s['n_trials_dropped_rt']} single trials were dropped "
        f"for their response time. {_rules_text(a)} Practice and catch trials never enter the "
        "similarity estimates; repeated trials are used for consistency and the ceiling only."
    ]
    screened = screening_paragraph(screening)
    if screened:
        paragraphs.append(screened)
    if a.trial_type == "rating":
        paragraphs.append(
            "Each participant's similarity ratings were z-scored over their own rating trials "
            "(population SD); dissimilarity = "
            + ("-z" if p.higher_rating_is_similar else "z")
            + ". Pairs rated twice by a participant were averaged; the group matrix is the "
            "mean over the participants who rated a pair."
        )
    else:
        chance = "1/3 for triplets" if a.trial_type == "triplet" else "1/2 for 2AFC"
        text = (
            "Each choice trial was coded as a triplet (i, j, odd): triplet odd-one-out trials "
            "as the two items kept together and the chosen odd one; 2AFC trials as the "
            "reference, the chosen candidate and the other candidate, where only the two "
            "reference pairs count as offered. The count-based similarity of a pair is the "
            f"share of trials offering it in which it was kept together (chance {chance})."
        )
        if a.embedding is not None:
            e = a.embedding.embedding
            text += (
                f" Because pairs were offered a median of fewer than {p.min_pair_count} times "
                if p.choice_matrix == "auto"
                else " "
            )
            text += (
                f"the reported human matrix comes from a {e.model} embedding "
                f"(penalty {e.penalty:g}); its dimensionality ({a.embedding.best_dims}) was "
                f"chosen among {list(p.embedding_dims)} by {a.embedding.n_folds}-fold held-out "
                f"accuracy, and the similarity of (i, j) is the model's probability of keeping "
                f"them together averaged over every third stimulus "
                f"(training accuracy {_fmt(e.train_accuracy)}, seed {e.random_state})."
            )
            unconverged = a.embedding.unconverged_fits
            if unconverged:
                fits = a.embedding.scores.shape[0] + 1
                text += (
                    f" Caution: {unconverged} of its {fits} fits (folds and final) stopped "
                    "before the optimiser converged (at the iteration limit or a failed line "
                    "search), so the held-out accuracies and the matrix may understate the "
                    "embedding."
                )
        paragraphs.append(text)
    sh = a.split_half.summary()
    nc = "; ".join(
        f"{METHOD_NAMES[r.method]}: lower {_fmt(r.lower)}, upper {_fmt(r.upper)}"
        for r in a.noise_ceilings.itertuples()
    )
    text = (
        f"Reliability: participants were split into random halves {sh.get('n_splits', 0)} "
        f"times; the two pooled half matrices were correlated ({METHOD_NAMES[p.primary_method]}) "
        f"and corrected with Spearman-Brown 2r/(1+r): mean {_fmt(sh.get('reliability_mean'))} "
        f"(2.5-97.5 %: {_fmt(sh.get('reliability_p2.5'))}-{_fmt(sh.get('reliability_p97.5'))}). "
        "Noise ceilings (Nili et al. 2014, as in rsatoolbox): each participant's matrix was "
        "compared with the pooled matrix of the other participants (lower bound) and of all "
        "participants (upper bound), on the pairs that participant shares with at least one "
        "other (all pairs when everyone judged every pair), and averaged over the participants "
        f"for whom the statistic is defined on at least {MIN_CEILING_PAIRS} shared pairs: {nc}."
    )
    notes = a.ceiling_notes()
    if notes:
        text += " " + " ".join(notes)
    if a.majority is not None:
        m = a.majority
        text += (
            f" For the choices, the majority-agreement ceiling over {m.n_triplets} triplets "
            f"answered at least twice ({m.n_responses} responses) lies between "
            f"{_fmt(m.lower)} (each response predicted by the majority of the other responses "
            f"to its triplet; 95 % CI {_fmt(m.lower_ci_low)}-{_fmt(m.lower_ci_high)}) and "
            f"{_fmt(m.accuracy)} (agreement with the majority including the response; "
            f"{_fmt(m.ci_low)}-{_fmt(m.ci_high)}); it bounds the accuracy of any model that "
            "predicts one answer per triplet (Hebart et al. 2020)."
        )
    paragraphs.append(text)
    if a.comparison is not None:
        methods = ", ".join(METHOD_NAMES[m] for m in p.methods)
        paragraphs.append(
            f"Each of {len(a.models)} model matrices was compared with the humans using "
            f"{methods} on the upper triangle. As in rsatoolbox, a model's evaluation is the "
            "mean over participants of its comparison with each participant's matrix (pairs "
            "a participant never judged are left out). Confidence intervals "
            f"({p.level:.0%}) come from a dual bootstrap with {p.n_boot} draws resampling "
            "participants and stimuli together and each alone (pairs of a stimulus with its own "
            "copy dropped), combined as in Schuett et al. (2023); percentile intervals of each "
            f"single bootstrap are also reported. Mantel tests permuted the stimulus labels of "
            f"the model matrix (rows and columns together, {p.n_permutations} permutations) "
            "against the group human matrix; p-values across all models x layers were adjusted "
            "with the Benjamini-Hochberg false discovery rate, per statistic. Pairwise model "
            "differences use the dual-bootstrap variance of the difference."
        )
    if a.choice_accuracy is not None:
        paragraphs.append(
            "Model choice predictions: the predicted odd one is the item outside the model's "
            "most similar pair (2AFC: the candidate closer to the reference); ties split the "
            f"credit. Intervals resample participants ({p.n_boot} draws). Accuracy is compared "
            "with chance and the majority-agreement ceiling; for choice data this comparison "
            "stays defined when participants share too few pairs for per-pair noise ceilings."
        )
    if a.decision_weighting is not None:
        paragraphs.append(
            "Decision weighting: model matrices computed on images masked by model relevance "
            "at each fraction k were compared with the humans "
            f"({METHOD_NAMES[p.primary_method]}), next to random masks at the same k and the "
            f"unmasked model; intervals from {p.n_boot} stimulus-bootstrap draws shared by all "
            "conditions."
        )
    if a.generalisation_auc is not None:
        paragraphs.append(
            "Cross-model relevance generalisation G[A, B] (accuracy of model B on images masked "
            "by model A's relevance) is summarised by the area under the accuracy-vs-k curve "
            "divided by the k range (trapezoid rule), its asymmetry G[A,B] - G[B,A], and by "
            "model groups (same vs different pretraining, task, seed), with the gain over "
            "random masks where that baseline was run."
        )
    if a.replication is not None:
        paragraphs.append(
            "Replication of Crawford et al. (2020): intervals over "
            f"{p.n_boot} image-bootstrap draws shared by every generalisation cell, asymmetry "
            "(two-sided bootstrap p, BH-FDR) and gain over random masks; factor contrasts of the "
            "transfer (gain over random masks, sign-adjusted for the masking mode) between pairs "
            "of models that differ in one attribute only, tested with a one-sided permutation "
            f"test over model labels (up to {p.n_permutations} relabellings, all of them when "
            "they fit) and BH-FDR; relevance maps compared per image by Spearman's rho and "
            "top-k IoU, and their consensus (pixels in every model's top k) counted per face "
            "part. Each claim's verdict follows the rule stated in its row."
        )
    if a.part_mass is not None:
        paragraphs.append(
            "Relevance mass per face part is the share of positive relevance inside each "
            "labelled part; enrichment divides it by the part's share of the image area."
        )
    paragraphs += _group_paragraphs(a)
    paragraphs.append(
        f"All random draws derive from seed {p.random_state}. Software: Python "
        f"{platform.python_version()}, numpy {version('numpy')}, scipy {version('scipy')}, "
        f"pandas {version('pandas')}, statsmodels {version('statsmodels')}, matplotlib "
        f"{version('matplotlib')}."
    )
    return paragraphs


def _group_paragraphs(a: StudyAnalysis) -> list[str]:
    """What the participant-group and stimulus-group analyses did (empty without them)."""
    p = a.parameters
    method = METHOD_NAMES[p.primary_method]
    out = []
    if p.participant_groups:
        out.append(
            "Participant groups (parameter participant_groups: "
            f"{', '.join(p.participant_groups)}): each distinct value of an attribute is a "
            "group; participants without a value are counted and left out. Per group: the "
            f"pooled human matrix, split-half reliability ({p.n_splits} splits) and noise "
            f"ceilings ({method}), and the model-human comparison with a dual bootstrap "
            f"({p.n_boot} draws resampling participants within the group and the stimuli, "
            "the same stimulus draws for every group); groups with fewer than 2 participants "
            "are reported without them. The between-group difference in model-human "
            "agreement (mean over a group's participants of the model's comparison with each "
            "participant) was tested by permuting the group labels across the two groups' "
            f"participants (all relabellings when there are at most {p.n_permutations}, else "
            f"{p.n_permutations} random ones); its {p.level:.0%} interval is the percentile "
            "interval of the difference over the groups' bootstrap draws; p-values were "
            "adjusted with the Benjamini-Hochberg false discovery rate over all group pairs x "
            "models of an attribute."
        )
    if p.stimulus_groups:
        out.append(
            f"Stimulus groups (parameter stimulus_groups: {', '.join(p.stimulus_groups)}): model-"
            f"human agreement ({method}) was computed on the pairs of two stimuli of the same "
            "group (all groups together and each alone) and on the pairs across groups; "
            f"{p.level:.0%} intervals and the bootstrap p of within - between come from "
            f"{p.n_boot} draws resampling participants and, within each group, stimuli "
            "(Benjamini-Hochberg over models). Model accuracy per stimulus group (predicted "
            "against true label) has Wilson intervals; the worst-group accuracy is the lowest "
            "of a model's group accuracies."
        )
    return out
