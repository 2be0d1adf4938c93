"""Machine-readable exports of an analysis: CSV tables, results.json, matrices, triplets."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.csv_cells import write_csv
from analysis.io import save_matrices_npz, write_rsatoolbox_pkl, write_things_triplets
from analysis.matrices import SimilarityMatrix, vector_to_square
from analysis.report.summary import summary_table
from analysis.study_analysis import StudyAnalysis


def tables(a: StudyAnalysis) -> dict[str, pd.DataFrame]:
    """Every result table by file stem (only those the analysis produced)."""
    out = {
        "participant_quality": a.exclusion.quality,
        "exclusions": a.exclusion.exclusions,
        "noise_ceilings": a.noise_ceilings,
        "split_half": pd.DataFrame(
            {"correlation": a.split_half.correlations, "reliability": a.split_half.reliabilities}
        ),
        "human_matrix_long": a.human_group.to_long(),
    }
    optional = {
        "model_summary": summary_table(a.comparison, a.parameters.primary_method),
        "model_comparison": a.comparison,
        "model_differences": a.differences,
        "choice_accuracy": a.choice_accuracy,
        "decision_weighting": a.decision_weighting,
        "generalisation_auc": a.generalisation_auc,
        "generalisation_asymmetry": a.generalisation_asymmetry,
        "generalisation_groups": a.generalisation_groups,
        "part_mass": a.part_mass,
        "noise_ceiling_participants": a.ceiling_participants,
        "dropped_rows": a.dropped_rows,
        "participant_group_matrices_long": a.participant_group_matrices(),
        "participant_group_reliability": a.participant_group_table("reliability"),
        "participant_group_comparison": a.participant_group_table("comparison"),
        "participant_group_differences": a.participant_group_table("differences"),
        "stimulus_group_agreement": a.stimulus_agreement,
        "stimulus_group_contrast": a.stimulus_contrast,
        "stimulus_group_accuracy": a.group_accuracy,
        "worst_group_accuracy": a.worst_group_accuracy,
    }
    if a.replication is not None:
        optional.update(replication_tables(a.replication))
    if a.bubbles is not None:
        optional["bubbles_regions"] = a.bubbles.regions
        optional["bubbles_agreement"] = a.bubbles.agreement
        optional["bubbles_parts"] = a.bubbles.parts
        if a.bubbles.stimuli is not None:
            optional["bubbles_stimuli"] = a.bubbles.stimuli.table
            optional["bubbles_image_agreement"] = a.bubbles.stimuli.agreement
            optional["bubbles_image_agreement_summary"] = a.bubbles.stimuli.agreement_summary
        if a.bubbles.models is not None:
            optional["bubbles_model_accuracy"] = a.bubbles.models.accuracy
            optional["bubbles_faithfulness"] = a.bubbles.models.faithfulness
    if a.sanity is not None:
        optional["sanity_verdicts"] = a.sanity.verdicts
        optional["sanity_randomisation"] = a.sanity.randomisation
        optional["sanity_invariance"] = a.sanity.invariance
    if a.dissection is not None:
        optional["dissection_levels"] = a.dissection.levels
        optional["dissection_unique"] = a.dissection.unique
        optional["dissection_concepts"] = a.dissection.concepts
        optional["dissection_comparison"] = a.dissection.comparison
        optional["dissection_top_units"] = a.dissection.top_units
    if a.generalisation_matrix is not None:
        optional["generalisation_matrix"] = a.generalisation_matrix.reset_index()
    if a.embedding is not None:
        optional["embedding_dimensionality"] = a.embedding.scores
    if a.majority is not None:
        optional["majority_ceiling_triplets"] = a.majority.triplets
    out.update({k: v for k, v in optional.items() if v is not None})
    return out


def replication_tables(r) -> dict[str, pd.DataFrame | None]:
    """The replication section's tables by file stem (`analysis.replication.Replication`)."""
    return {
        "replication_claims": r.claims,
        "replication_contrasts": r.contrasts,
        "replication_levels": r.levels,
        "replication_accuracy": r.accuracy,
        "replication_map_relations": r.map_relations,
        "replication_consensus": r.consensus_share,
        "replication_parts": r.consensus_parts,
        "replication_asymmetry": r.asymmetry,
        "replication_cells": r.cells,
        "replication_map_pairs": r.map_pairs,
    }


def _clean(value):
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_exports(a: StudyAnalysis, out_dir: Path) -> list[Path]:
    """Write tables/*.csv, results.json, matrices.npz, rsatoolbox pickles and triplets."""
    written = []
    table_dir = out_dir / "tables"
    table_dir.mkdir(parents=True, exist_ok=True)
    all_tables = tables(a)
    for stem, frame in all_tables.items():
        path = table_dir / f"{stem}.csv"
        write_csv(frame, path, index=False)
        written.append(path)
    results = {
        "summary": a.summary(),
        "parameters": a.parameters.as_dict(),
        "stimuli": list(a.stimuli),
        "tables": {k: v.to_dict(orient="records") for k, v in all_tables.items()},
    }
    path = out_dir / "results.json"
    path.write_text(json.dumps(_clean(results), indent=1, sort_keys=True, default=str))
    written.append(path)
    human = {"human": a.human_group.renamed("human")}
    matrices = {**human, **a.models}
    path = out_dir / "matrices.npz"
    save_matrices_npz(path, matrices, a.human)
    written.append(path)
    path = out_dir / "rdms_rsatoolbox.pkl"
    write_rsatoolbox_pkl(path, matrices, "human: " + a.human_group.measure)
    written.append(path)
    participants = {f"participant {p}": m for p, m in _participant_rdms(a).items()}
    path = out_dir / "participant_rdms_rsatoolbox.pkl"
    write_rsatoolbox_pkl(path, participants, a.human.measure)
    written.append(path)
    if a.choices is not None:
        path = out_dir / "triplets.csv"
        write_things_triplets(a.choices, a.stimuli, path)
        written += [path, path.with_name("triplets_stimuli.csv")]
    return written


def _participant_rdms(a: StudyAnalysis) -> dict[str, SimilarityMatrix]:
    vectors = a.human.vectors()
    counts = a.human.count_vectors()
    return {
        p: SimilarityMatrix(
            vector_to_square(vectors[k]),
            a.stimuli,
            "dissimilarity",
            vector_to_square(counts[k].astype(float)).astype(np.int64),
            a.human.measure,
            p,
        )
        for k, p in enumerate(a.human.participants)
    }
