"""The report's sections: one function each, registered in `SECTIONS` in page order.

A section function takes the `StudyAnalysis` and a `Figures` sink and returns its `Section`
(title, text, points, figures, tables) or None when the study has nothing for it.  Adding a
section to the report is one function here and one entry in `SECTIONS`.  The first entry,
the summary, opens the report (before the study facts and the methods); tables wider than
`WIDE_COLUMNS` are shown in the appendix, linked from their section.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.report import dissection_figures, figures, replication_figures
from analysis.report.layout import cluster_order
from analysis.report.summary import SYMBOLS, summary_display, summary_table
from analysis.study_analysis import StudyAnalysis

MAX_TABLE_ROWS = 40
WIDE_COLUMNS = 8  # wider tables go to the report's appendix


@dataclass
class Section:
    """One part of the report page: figures (saved PNGs) and tables (HTML + PDF frame)."""

    title: str
    text: str = ""
    points: list[str] = field(default_factory=list)  # a bulleted list after the text
    figures: list[dict] = field(default_factory=list)
    tables: list[dict] = field(default_factory=list)

    def add_tables(self, *tables: dict | None) -> None:
        """Append the tables that exist (`table` returns None for a missing or empty one)."""
        self.tables += [t for t in tables if t]


class Figures:
    """Saves each figure as figures/<name>.png, links it from its section and keeps it, in
    order, for the PDF."""

    def __init__(self, fig_dir: Path, order: np.ndarray) -> None:
        self.fig_dir = fig_dir
        self.order = order  # the human matrix's clustering order, shared by heatmaps
        self.made: list[tuple[str, Figure]] = []

    def add(self, section: Section, name: str, fig: Figure | None, caption: str) -> None:
        if fig is None:
            return
        self.made.append((caption, fig))
        fig.savefig(self.fig_dir / f"{name}.png", dpi=110, metadata={"Software": None})
        section.figures.append({"path": f"figures/{name}.png", "caption": caption})


def table(title: str, frame: pd.DataFrame | None, csv: str) -> dict | None:
    """A table entry of a section (the first `MAX_TABLE_ROWS` rows); None when empty.
    `wide` tables are shown in the appendix; `anchor` is the id they are linked by."""
    if frame is None or frame.empty:
        return None
    shown = frame.head(MAX_TABLE_ROWS)
    html = shown.to_html(
        index=False,
        classes="data",
        float_format=lambda v: f"{v:.4g}",
        na_rep="",
        escape=True,
        border=0,
    )
    return {
        "title": title,
        "html": html,
        "truncated": len(frame) > len(shown),
        "shown": len(shown),
        "total": len(frame),
        "csv": csv,
        "frame": shown,
        "wide": frame.shape[1] > WIDE_COLUMNS,
        "anchor": "table-" + "".join(c if c.isalnum() else "-" for c in title.lower())[:60],
    }


def summary_section(a: StudyAnalysis, figs: Figures) -> Section:
    """Results first: one sentence and one row per model/layer, and their figure."""
    method = a.parameters.primary_method
    summary = summary_table(a.comparison, method)
    if summary is None:
        return Section(
            "Summary",
            "No models were compared with the human data: add models to the study and run "
            "the model jobs before the report to see how well each one agrees with people.",
        )
    section = Section(
        "Summary",
        f"Model-human agreement ({method}, {SYMBOLS.get(method, method)}) with its 95% "
        "dual-bootstrap interval, the Mantel test's p after Benjamini-Hochberg FDR correction "
        "across models and layers, and the noise-ceiling band (how well the best possible "
        "model could do given the noise in the human data). All numbers are from the model "
        "comparison table in the appendix.",
        points=list(summary["sentence"]),
    )
    figs.add(
        section,
        "model_correlations",
        figures.model_correlations(a.comparison, method),
        f"Model-human {method} with 95% dual-bootstrap CIs; grey band: noise ceiling"
        + ("." if has_ceiling_band(a, method) else " (not defined here, see Reliability)."),
    )
    section.add_tables(
        table("Per model and layer", summary_display(summary), "tables/model_summary.csv")
    )
    return section


def participants_section(a: StudyAnalysis, figs: Figures) -> Section:
    section = Section("Participants and exclusions")
    figs.add(
        section,
        "quality",
        figures.quality_scatter(a.exclusion.quality),
        "Catch-trial accuracy against the share of fast responses; crosses were excluded.",
    )
    section.add_tables(
        table(
            "Exclusions (one row per participant and rule)",
            a.exclusion.exclusions,
            "tables/exclusions.csv",
        ),
        table("Participant quality", a.exclusion.quality, "tables/participant_quality.csv"),
    )
    return section


def dropped_rows_section(a: StudyAnalysis, figs: Figures) -> Section | None:
    """The export rows `analysis.io.read_responses_dropping_bad_rows` dropped, and why."""
    dropped = table(
        "Export rows dropped on reading (they break a rule of the export)",
        a.dropped_rows,
        "tables/dropped_rows.csv",
    )
    if dropped is None:
        return None
    section = Section(
        "Dropped export rows",
        f"{len(a.dropped_rows)} row(s) of the response export broke a rule of the export and "
        "were left out before the exclusion rules; the table names each row and its reasons.",
    )
    section.add_tables(dropped)
    return section


def human_section(a: StudyAnalysis, figs: Figures) -> Section:
    section = Section("Human similarity", f"Source: {a.matrix_source}; {a.human_group.measure}.")
    figs.add(
        section,
        "human_heatmap",
        figures.human_heatmap(a.human_group, figs.order),
        "Human dissimilarity matrix ordered by average-linkage clustering.",
    )
    figs.add(
        section, "mds", figures.mds_map(a.human_group), "Classical MDS map of the human matrix."
    )
    if a.embedding is not None:
        figs.add(
            section,
            "embedding_dims",
            figures.embedding_dims(a.embedding.summary(), a.embedding.best_dims),
            "Held-out accuracy by embedding dimensionality.",
        )
    return section


def reliability_section(a: StudyAnalysis, figs: Figures) -> Section:
    section = Section("Reliability", " ".join(a.ceiling_notes()))
    figs.add(
        section,
        "split_half",
        figures.split_half_histogram(a.split_half.reliabilities, a.parameters.primary_method),
        "Distribution of Spearman-Brown corrected split-half reliabilities.",
    )
    section.add_tables(
        table(
            "Split-half reliability",
            pd.DataFrame([a.split_half.summary()]),
            "tables/split_half.csv",
        ),
        table("Noise ceilings", a.noise_ceilings, "tables/noise_ceilings.csv"),
        table(
            "Noise-ceiling bounds per participant (on the pairs shared with others)",
            a.ceiling_participants,
            "tables/noise_ceiling_participants.csv",
        ),
        table(
            "Majority-agreement ceiling",
            pd.DataFrame([a.majority.as_dict()]) if a.majority else None,
            "results.json",
        ),
    )
    return section


def models_section(a: StudyAnalysis, figs: Figures) -> Section | None:
    if not a.models:
        return None
    section = Section("Models vs humans")
    figs.add(
        section,
        "model_heatmaps",
        figures.model_heatmaps(a.models, figs.order),
        "Model dissimilarity matrices in the human clustering order.",
    )
    figs.add(
        section,
        "choice_accuracy",
        figures.choice_accuracy(a.choice_accuracy),
        "Accuracy of model choice predictions with chance; grey band: majority-agreement "
        "ceiling (leave-one-response-out to majority agreement)"
        + ("." if a.majority is not None else " (not measured: no repeated triplets)."),
    )
    section.add_tables(
        table("Model comparison", a.comparison, "tables/model_comparison.csv"),
        table("Pairwise model differences", a.differences, "tables/model_differences.csv"),
        table("Model choice accuracy", a.choice_accuracy, "tables/choice_accuracy.csv"),
    )
    return section


def relevance_section(a: StudyAnalysis, figs: Figures) -> Section | None:
    rel = a.relevance_inputs
    has_maps = rel is not None and rel.relevance is not None
    tables = (a.decision_weighting, a.generalisation_matrix, a.part_mass)
    if all(x is None for x in tables) and not has_maps:
        return None
    section = Section("Relevance")
    figs.add(
        section,
        "decision_weighting",
        figures.decision_weighting(a.decision_weighting),
        "Model-human agreement for relevance-masked and random-masked images against k.",
    )
    figs.add(
        section,
        "generalisation",
        figures.generalisation(a.generalisation_matrix),
        "Cross-model relevance generalisation (AUC over k) and its asymmetry.",
    )
    figs.add(
        section,
        "part_mass",
        figures.part_mass(a.part_mass),
        "Share of positive relevance and of area per face part.",
    )
    if rel is not None:
        figs.add(
            section,
            "relevance_overlays",
            figures.relevance_overlays(rel.images, rel.relevance, rel.image_ids),
            "Relevance maps over their images (red: evidence for the target).",
        )
    section.add_tables(
        table("Decision weighting", a.decision_weighting, "tables/decision_weighting.csv"),
        table(
            "Generalisation by model group",
            a.generalisation_groups,
            "tables/generalisation_groups.csv",
        ),
        table(
            "Generalisation asymmetry",
            a.generalisation_asymmetry,
            "tables/generalisation_asymmetry.csv",
        ),
        table("Relevance mass per part", a.part_mass, "tables/part_mass.csv"),
    )
    return section


def replication_section(a: StudyAnalysis, figs: Figures) -> Section | None:
    """One row per claim of Crawford et al. (2020) with effect, interval, test and verdict."""
    r = a.replication
    if r is None:
        return None
    p = a.parameters
    verdicts = r.claims["verdict"].value_counts()
    section = Section(
        "Replication of Crawford et al. (2020)",
        f"Each claim of the paper measured on these {len(r.models)} models: "
        f"{verdicts.get('supported', 0)} supported, {verdicts.get('not supported', 0)} not "
        f"supported, {verdicts.get('inconclusive', 0)} inconclusive. Intervals are "
        f"{p.level:.0%} percentile intervals over {p.n_boot} image-bootstrap draws shared by "
        "every cell; transfer is the AUC gain of a model's masks over random masks on the "
        "tested model (sign-adjusted: > 0 means the source's relevant pixels matter to the "
        "tested model); factor contrasts use a one-sided permutation test over model labels "
        "(exact when every relabelling fits in the permutation budget) with BH-FDR over the "
        "ordered contrasts seed - task, task - pretraining. The verdict rule of each claim is "
        "in its row; it is decided by the data, not by the paper's answer.",
        points=[_claim_sentence(c) for c in r.claims.itertuples()],
    )
    figs.add(
        section,
        "replication_matrix",
        replication_figures.ordered_generalisation(r.cells, r.model_info),
        "G[A, B] (AUC over k) ordered pretraining > task > seed; thick outlines: pretraining "
        "blocks, thin: task blocks.",
    )
    figs.add(
        section,
        "replication_contrasts",
        replication_figures.factor_contrasts(r.levels, r.map_relations),
        "Transfer and relevance-map agreement by relation (self; pairs that differ only in "
        "one factor) with 95% image-bootstrap intervals.",
    )
    rel = a.relevance_inputs
    figs.add(
        section,
        "consensus_maps",
        replication_figures.consensus_maps(r.consensus, None if rel is None else rel.images),
        "Consensus maps: pixels in the top-k of every model (and of every model of each "
        "pretraining); left: share of images, then the first images.",
    )
    section.add_tables(
        table(
            "Claims and verdicts (effect and test of each row in the list above)",
            r.claims.drop(columns=["effect", "test"]),
            "tables/replication_claims.csv",
        ),
        table("Factor contrasts (ordered)", r.contrasts, "tables/replication_contrasts.csv"),
        table("Transfer by relation", r.levels, "tables/replication_levels.csv"),
        table("Accuracy on unmasked images", r.accuracy, "tables/replication_accuracy.csv"),
        table(
            "Relevance-map agreement by relation",
            r.map_relations,
            "tables/replication_map_relations.csv",
        ),
        table("Consensus size", r.consensus_share, "tables/replication_consensus.csv"),
        table("Consensus per face part", r.consensus_parts, "tables/replication_parts.csv"),
        table(
            "Generalisation asymmetry with intervals",
            r.asymmetry,
            "tables/replication_asymmetry.csv",
        ),
        table("G[A, B] with intervals", r.cells, "tables/replication_cells.csv"),
        table(
            "Relevance-map agreement per model pair",
            r.map_pairs,
            "tables/replication_map_pairs.csv",
        ),
    )
    return section


def _claim_sentence(c) -> str:
    """'<claim>: <verdict> (<reason>). <effect> = <estimate> [<interval>]; <test>.'"""
    measured = "not measured" if np.isnan(c.estimate) else f"{c.estimate:.3g}"
    if np.isfinite([c.ci_low, c.ci_high]).all():
        measured += f" [{c.ci_low:.3g}, {c.ci_high:.3g}]"
    if np.isfinite(c.p):
        measured += f", p = {c.p:.3g}"
    return f"{c.claim}: {c.verdict} ({c.reason}). {c.effect} = {measured}; {c.test}."


def participant_groups_section(a: StudyAnalysis, figs: Figures) -> Section | None:
    """Per participant group: matrices, reliability, model-human table, difference test."""
    if not a.participant_groups:
        return None
    lines = []
    for g in a.participant_groups:
        sizes = ", ".join(
            f"{r.group} ({r.n_participants})" for r in g.reliability.itertuples(index=False)
        )
        lines.append(f"{g.attribute}: {sizes} participants.")
    section = Section("Participant groups", " ".join(lines))
    for k, g in enumerate(a.participant_groups):
        figs.add(
            section,
            f"participant_groups_{k}",
            figures.model_heatmaps(
                {f"{g.attribute} = {k}": m for k, m in g.matrices.items()}, figs.order
            ),
            f"Human dissimilarity matrix of each {g.attribute} group, in the clustering order "
            "of the whole sample.",
        )
    section.add_tables(
        table(
            "Reliability and noise ceiling per group",
            a.participant_group_table("reliability"),
            "tables/participant_group_reliability.csv",
        ),
        table(
            "Model-human agreement per group (dual bootstrap)",
            a.participant_group_table("comparison"),
            "tables/participant_group_comparison.csv",
        ),
        table(
            "Between-group difference in model-human agreement (permutation test over "
            "participants)",
            a.participant_group_table("differences"),
            "tables/participant_group_differences.csv",
        ),
    )
    return section


def stimulus_groups_section(a: StudyAnalysis, figs: Figures) -> Section | None:
    """Within- vs between-group agreement and accuracy per stimulus group."""
    if a.stimulus_agreement is None and a.group_accuracy is None:
        return None
    columns = ", ".join(a.parameters.stimulus_groups)
    section = Section(
        "Bias across stimulus groups",
        f"Stimulus groups by {columns}: model-human agreement on pairs within a group and "
        "across groups, and each model's accuracy per group with its worst group.",
    )
    section.add_tables(
        table(
            "Within- vs between-group difference in model-human agreement",
            a.stimulus_contrast,
            "tables/stimulus_group_contrast.csv",
        ),
        table(
            "Model-human agreement by pair set",
            a.stimulus_agreement,
            "tables/stimulus_group_agreement.csv",
        ),
        table("Worst-group accuracy", a.worst_group_accuracy, "tables/worst_group_accuracy.csv"),
        table(
            "Accuracy per stimulus group", a.group_accuracy, "tables/stimulus_group_accuracy.csv"
        ),
    )
    return section


def bubbles_section(a: StudyAnalysis, figs: Figures) -> Section | None:
    """Bubbles trials: human classification images per stimulus group, pooled and per stimulus,
    their significant regions, the split-half ceiling and the agreement of model maps with
    them."""
    if a.bubbles is None or not a.bubbles.images:
        return None
    section = Section(
        "Decision weighting: humans vs models",
        "Classification images from the Bubbles trials (Gosselin & Schyns 2001): per pixel, "
        "visibility regressed on correctness and overall visibility, z-scored, per stimulus "
        "group, pooled over the groups ('all') and per stimulus; regions by the "
        "pixel and cluster tests of Chauvin et al. (2005), family-wise alpha 0.05. The ceiling "
        "is the group map's split-half reliability; model maps are compared by Spearman rho "
        "and top-10 % IoU with participant-bootstrap intervals. Models that judge the same "
        "label answer the participants' own trials (the same image, apertures and fill), so "
        "their classification images are computed like the participants'; each is compared "
        "with the human maps (map 'bubbles'; relevance maps: map 'relevance') and with the "
        "model's own mean relevance map of the group (faithfulness; intervals over the "
        "participants' trial sets, ceiling: the model map's split-half reliability).",
    )
    figs.add(
        section,
        "bubbles_classification_images",
        figures.classification_images(a.bubbles),
        "Human classification images (z) per stimulus group; cluster-test regions outlined.",
    )
    figs.add(
        section,
        "bubbles_decision_maps",
        figures.decision_maps(a.bubbles),
        "Side by side over each group's mean face: where seeing the face helped people (the "
        "human classification image, z > 0) and where each model's relevance lies (its mean "
        "map of the group, positive part); each map scaled to its own maximum.",
    )
    stimuli = a.bubbles.stimuli
    if stimuli is not None:
        figs.add(
            section,
            "bubbles_stimulus_classification_images",
            figures.stimulus_classification_images(stimuli),
            f"Human classification images (z) of single stimuli, all participants pooled (the "
            f"first {len(stimuli.z)} with a map; every stimulus in tables/bubbles_stimuli.csv).",
        )
    models = a.bubbles.models
    if models is not None:
        figs.add(
            section,
            "bubbles_model_classification_images",
            figures.model_classification_images(models.z_maps),
            "Models' classification images (z) from the participants' trials, per group.",
        )
    section.add_tables(
        table("Significant regions per group", a.bubbles.regions, "tables/bubbles_regions.csv"),
        table(
            "Significant pixels per face part (share of the significant pixels vs share of the "
            "image; ratio above 1: the part was used)",
            a.bubbles.parts,
            "tables/bubbles_parts.csv",
        ),
        table(
            "Agreement of model maps with the human maps",
            a.bubbles.agreement,
            "tables/bubbles_agreement.csv",
        ),
    )
    if stimuli is not None:
        section.add_tables(
            table(
                "Per stimulus, all participants pooled: trials, accuracy and the cluster test",
                stimuli.table,
                "tables/bubbles_stimuli.csv",
            ),
            table(
                "Per image: each stimulus's human map vs each model's relevance map of it "
                "(mean over images, 95 % image-bootstrap interval; every image in "
                "tables/bubbles_image_agreement.csv)",
                stimuli.agreement_summary,
                "tables/bubbles_image_agreement_summary.csv",
            ),
        )
    if models is not None:
        section.add_tables(
            table(
                "Model accuracy on the Bubbles trials of the participants",
                models.accuracy,
                "tables/bubbles_model_accuracy.csv",
            ),
            table(
                "Faithfulness: the classification image of each model vs its own relevance map",
                models.faithfulness,
                "tables/bubbles_faithfulness.csv",
            ),
        )
    return section


def sanity_section(a: StudyAnalysis, figs: Figures) -> Section | None:
    """Relevance sanity checks per model and method: the cascading randomisation curve and
    the input-invariance check, with one verdict sentence each."""
    if a.sanity is None or a.sanity.verdicts.empty:
        return None
    section = Section(
        "Sanity checks",
        "Does each relevance map depend on the model it explains? Cascading model-parameter "
        "randomisation (Adebayo et al. 2018; layer order and seeding of Quantus's MPRT): the "
        "layers are re-initialised one by one from the output down and each step's maps are "
        "compared with the original maps (Spearman rho of absolute and of signed maps, SSIM, "
        "top-10 % IoU; mean over images). Input invariance (Kindermans et al. 2019): a "
        "constant input shift absorbed by the first layer's bias changes nothing the model "
        "computes, so the maps should not change either.",
        points=a.sanity.verdicts["sentence"].tolist(),
    )
    figs.add(
        section,
        "sanity_randomisation",
        figures.randomisation_curves(a.sanity.randomisation),
        "Cascading randomisation: similarity to the original maps per randomised layer.",
    )
    section.add_tables(
        table("Verdicts per model and method", a.sanity.verdicts, "tables/sanity_verdicts.csv"),
        table(
            "Cascading randomisation per layer",
            a.sanity.randomisation,
            "tables/sanity_randomisation.csv",
        ),
        table("Input invariance", a.sanity.invariance, "tables/sanity_invariance.csv"),
    )
    return section


def dissection_section(a: StudyAnalysis, figs: Figures) -> Section | None:
    """Network dissection: concept levels per layer against the random-weights copy, unique
    concepts, each concept's best units on their top images, and the task comparison."""
    d = a.dissection
    if d is None:
        return None
    section = Section(
        "Network dissection",
        "Hierarchical Network Dissection (Teotia et al. 2021) on the Face Dictionary: each "
        "unit is paired with a face part, a local attribute of a part, a global concept or "
        "nothing, each step against a null (a random-weights copy of the network for parts, "
        f"{a.parameters.n_permutations} permuted labels for attributes and global concepts, "
        "alpha 0.01). Hatched bars are the random-weights copy: a trained layer's pairings "
        "mean something only where they exceed it. Task comparisons give the difference in "
        f"the share of units per level with {a.parameters.n_boot}-draw image-bootstrap "
        "intervals (critical values held fixed).",
        points=_dissection_sentences(d),
    )
    figs.add(
        section,
        "dissection_levels",
        dissection_figures.concept_levels(d.levels),
        "Share of units per concept level, per layer; hatched: the random-weights copy.",
    )
    for k, (model, arrays) in enumerate(d.examples.items()):
        layers = list(dict.fromkeys(d.levels[d.levels["model"] == model]["layer"]))
        if layers:
            figs.add(
                section,
                f"dissection_units_{k}",
                dissection_figures.unit_examples(arrays, layers[-1], f"{model}, {layers[-1]}"),
                f"{model}, layer {layers[-1]}: the best-matching units of the top concepts "
                "(IoU; AUC for global concepts) on their top-activating images, the "
                "thresholded activation outlined.",
            )
    figs.add(
        section,
        "dissection_comparison",
        dissection_figures.task_comparison(d.comparison),
        "Task comparison: difference in the share of units per level (second minus first "
        "model) with 95% image-bootstrap intervals.",
    )
    section.add_tables(
        table("Unique concepts and share unpaired", d.unique, "tables/dissection_unique.csv"),
        table("Units per concept", d.concepts, "tables/dissection_concepts.csv"),
        table("Best unit of each concept", d.top_units, "tables/dissection_top_units.csv"),
        table("Task comparison", d.comparison, "tables/dissection_comparison.csv"),
    )
    return section


def _dissection_sentences(d) -> list[str]:
    """Per model's deepest layer: its paired share against the random copy; per task pair,
    the levels whose interval excludes 0."""
    sentences = []
    for row in d.unique[d.unique["network"] == "trained"].groupby("model").tail(1).itertuples():
        random = d.unique[
            (d.unique["model"] == row.model)
            & (d.unique["layer"] == row.layer)
            & (d.unique["network"] != "trained")
        ]
        against = (
            f" (random weights: {1 - random['share_unpaired'].iloc[0]:.0%})" if len(random) else ""
        )
        sentences.append(
            f"{row.model}, {row.layer}: {1 - row.share_unpaired:.0%} of {row.units} units paired "
            f"with a concept{against}, {row.unique_concepts} unique concepts."
        )
    if d.comparison is not None:
        levels = d.comparison[d.comparison["concept"] == "*"]
        for (first, second, layer), rows in levels.groupby(["first", "second", "layer"]):
            clear = rows[(rows["low"] > 0) | (rows["high"] < 0)]
            found = ", ".join(
                f"{r.level} {r.difference:+.0%} [{r.low:+.0%}, {r.high:+.0%}]"
                for r in clear.itertuples()
            )
            sentences.append(
                f"{second} vs {first}, {layer}: "
                + (
                    f"differs in {found}."
                    if found
                    else "no level differs (every interval holds 0)."
                )
            )
    return sentences


def has_ceiling_band(a: StudyAnalysis, method: str) -> bool:
    """Whether both noise-ceiling bounds of `method` are finite."""
    row = a.noise_ceilings[a.noise_ceilings["method"] == method]
    return bool(len(row)) and bool(np.isfinite(row[["lower", "upper"]].to_numpy(float)).all())


SectionFunction = Callable[[StudyAnalysis, Figures], Section | None]

# the report's sections in page order
SECTIONS: tuple[SectionFunction, ...] = (
    summary_section,
    participants_section,
    dropped_rows_section,
    human_section,
    reliability_section,
    models_section,
    relevance_section,
    replication_section,
    bubbles_section,
    dissection_section,
    sanity_section,
    participant_groups_section,
    stimulus_groups_section,
)


def build_sections(
    a: StudyAnalysis, fig_dir: Path
) -> tuple[list[Section], list[tuple[str, Figure]]]:
    """Every section the study has, and its figures (caption, figure) in the order made."""
    figs = Figures(fig_dir, cluster_order(a.human_group))
    sections = [s for s in (make(a, figs) for make in SECTIONS) if s is not None]
    return sections, figs.made
