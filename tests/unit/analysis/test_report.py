"""The study pipeline and its report: contents, loadable exports, reproducibility."""

import json
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import rsatoolbox

from analysis.relevance import relevance_mass_per_part
from analysis.report import ReportMeta, figures, write_report
from analysis.study_analysis import AnalysisParameters, RelevanceInputs, analyse_study
from tests.unit.analysis.test_recovery import ranked_models
from tests.unit.analysis.test_report_pdf import pdf_font_sizes

PARAMS = AnalysisParameters(n_boot=40, n_permutations=99, n_splits=20, random_state=5)


def relevance_inputs(truth):
    rng = np.random.default_rng(0)
    models = ranked_models(truth)
    masked = {}
    for k in (5, 20):
        masked[("noise0.4", "relevance", k)] = models["noise0.0"]
        masked[("noise0.4", "random", k)] = models["noise1.6"]
    generalisation = pd.DataFrame(
        [
            {"model_a": a, "model_b": b, "k": k, "accuracy": 0.6 + 0.2 * (a == b) - k / 100}
            for a in ("A", "B", "random")
            for b in "AB"
            for k in (5, 20)
        ]
    )
    masks = np.zeros((16, 16), int)
    masks[4:6, 3:13] = 1
    return RelevanceInputs(
        masked_models=masked,
        generalisation=generalisation,
        model_info=pd.DataFrame({"model": ["A", "B"], "task": ["id", "gender"]}),
        relevance=rng.normal(size=(3, 16, 16)),
        part_masks=masks,
        part_labels={1: "eyes"},
        images=rng.random((3, 16, 16)),
        image_ids=["f1", "f2", "f3"],
    )


@pytest.fixture(scope="module")
def triplet_report(study_responses, truth, tmp_path_factory):
    rows = study_responses["triplet"]
    analysis = analyse_study(
        rows, ranked_models(truth), parameters=PARAMS, relevance=relevance_inputs(truth)
    )
    out = tmp_path_factory.mktemp("report")
    return analysis, write_report(analysis, out), out


def test_pipeline_results_for_a_triplet_study(triplet_report):
    analysis, _, _ = triplet_report
    assert analysis.trial_type == "triplet"
    assert analysis.matrix_source == "counts"
    assert "P009" in set(analysis.exclusion.exclusions["participant"])
    assert analysis.human.n_participants == 9
    comp = analysis.comparison
    assert len(comp) == 4 * len(PARAMS.methods)
    spearman = comp[comp["method"] == "spearman"]
    assert spearman["evaluation"].is_monotonic_decreasing
    assert analysis.majority is not None
    assert 0.34 < analysis.majority.accuracy <= 1
    assert analysis.choice_accuracy["accuracy"].is_monotonic_decreasing
    assert analysis.decision_weighting["minus_random"].dropna().gt(0).all()
    assert set(analysis.generalisation_groups["attribute"]) == {"task"}
    assert set(analysis.part_mass["part"]) == {"eyes", "other"}


def test_report_files_and_contents(triplet_report):
    analysis, files, out = triplet_report
    for name in (
        "index.html",
        "report.pdf",
        "results.json",
        "matrices.npz",
        "rdms_rsatoolbox.pkl",
        "participant_rdms_rsatoolbox.pkl",
        "triplets.csv",
        "triplets_stimuli.csv",
        "tables/model_comparison.csv",
        "figures/human_heatmap.png",
        "figures/mds.png",
        "figures/model_correlations.png",
        "figures/generalisation.png",
        "figures/relevance_overlays.png",
        "figures/decision_weighting.png",
        "figures/part_mass.png",
    ):
        assert (out / name).stat().st_size > 0, name
    html = files.html.read_text()
    # methods text states the parameters actually used
    assert f"dual bootstrap with {PARAMS.n_boot} draws" in html
    assert f"{PARAMS.n_permutations} permutations" in html
    assert f"split into random halves {PARAMS.n_splits} times" in html
    assert "seed 5" in html
    assert '<img src="figures/model_correlations.png"' in html
    assert files.pdf.read_bytes().startswith(b"%PDF")
    results = json.loads((out / "results.json").read_text())
    assert results["parameters"]["n_boot"] == PARAMS.n_boot
    assert len(results["tables"]["model_comparison"]) == len(analysis.comparison)
    triplets = pd.read_csv(out / "triplets.csv")
    assert len(triplets) == len(analysis.choices)
    assert triplets.max().max() < len(analysis.stimuli)


def test_report_matrices_load_in_rsatoolbox(triplet_report):
    analysis, _, out = triplet_report
    rdms = rsatoolbox.rdm.load_rdm(str(out / "rdms_rsatoolbox.pkl"), file_type="pkl")
    assert list(rdms.rdm_descriptors["name"]) == ["human", *analysis.models]
    np.testing.assert_allclose(
        rdms.dissimilarities[0], analysis.human_group.dissimilarity().upper()
    )
    per = rsatoolbox.rdm.load_rdm(str(out / "participant_rdms_rsatoolbox.pkl"), file_type="pkl")
    np.testing.assert_allclose(per.dissimilarities, analysis.human.vectors())


def test_same_data_and_seed_give_identical_outputs(study_responses, truth, tmp_path):
    rows = study_responses["rating"]
    outputs = []
    for run in ("a", "b"):
        analysis = analyse_study(rows, ranked_models(truth), parameters=PARAMS)
        write_report(analysis, tmp_path / run)
        outputs.append(tmp_path / run)
    a, b = outputs
    for name in (
        "results.json",
        "tables/model_comparison.csv",
        "tables/split_half.csv",
        "report.pdf",
        "index.html",
        "figures/model_correlations.png",
    ):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    with np.load(a / "matrices.npz") as fa, np.load(b / "matrices.npz") as fb:
        for key in fa.files:
            np.testing.assert_array_equal(fa[key], fb[key])
    other = analyse_study(
        rows,
        ranked_models(truth),
        parameters=AnalysisParameters(
            **{
                **PARAMS.as_dict(),
                "random_state": 6,
                "exclusions": PARAMS.exclusions,
                "methods": PARAMS.methods,
                "embedding_dims": PARAMS.embedding_dims,
            }
        ),
    )
    first = json.loads((a / "results.json").read_text())["tables"]["model_comparison"]
    assert [r["se"] for r in first] != other.comparison["se"].tolist()
    assert [r["evaluation"] for r in first] == pytest.approx(
        other.comparison["evaluation"].tolist()
    )


def test_sparse_choice_study_uses_the_embedding(truth, tmp_path):
    from analysis.io import read_responses
    from analysis.simulate import Design, simulate_responses

    # 80 triplets over 91 pairs: a pair is offered fewer than 3 times -> embedding
    design = Design(trial_type="triplet", n_participants=5, n_trials=16, repeat_fraction=0.2)
    rows = read_responses(simulate_responses(truth, design, random_state=2))
    params = AnalysisParameters(
        n_boot=20,
        n_permutations=20,
        n_splits=5,
        methods=("spearman",),
        embedding_dims=(1, 2),
        embedding_folds=2,
    )
    analysis = analyse_study(rows, ranked_models(truth), parameters=params)
    assert analysis.matrix_source == "spose embedding"
    assert analysis.embedding.best_dims in (1, 2)
    assert analysis.human_group.n_missing_pairs == 0
    files = write_report(analysis, tmp_path)
    assert "spose embedding" in files.html.read_text()
    assert (tmp_path / "tables" / "embedding_dimensionality.csv").exists()


def test_parameters_validate():
    with pytest.raises(ValueError, match="'primary_method' parameter"):
        AnalysisParameters(methods=("pearson",))
    with pytest.raises(ValueError, match="'choice_matrix' parameter"):
        AnalysisParameters(choice_matrix="both")


def test_pipeline_needs_one_study(study_responses):
    rows = study_responses["afc"]
    two = pd.concat([rows, rows.assign(study="other")], ignore_index=True)
    with pytest.raises(ValueError, match="exactly one study"):
        analyse_study(two)


def test_report_says_why_per_pair_ceilings_are_missing_and_uses_the_choice_ceiling(truth, tmp_path):
    """Each participant judges triplets of its own 4 stimuli (no pair shared with anyone):
    no per-pair noise ceiling can exist; the majority-agreement ceiling (repeat trials) and
    the models' choice accuracy are reported instead, and the report says so."""
    from analysis.io import read_responses
    from analysis.simulate import Design, simulate_responses

    frames = []
    for block in range(3):
        own = truth.reorder(truth.stimuli[4 * block : 4 * block + 4])
        design = Design(n_participants=1, n_trials=12, repeat_fraction=0.5, study="blocks")
        rows = simulate_responses(own, design, random_state=block)
        frames.append(rows.assign(participant=f"B{block}"))
    rows = read_responses(pd.concat(frames, ignore_index=True))
    params = AnalysisParameters(
        n_boot=20, n_permutations=20, n_splits=5, embedding_dims=(1, 2), embedding_folds=2
    )
    models = {k: v.reorder(truth.stimuli[:12]) for k, v in ranked_models(truth).items()}
    analysis = analyse_study(rows, models, parameters=params)
    ceilings = analysis.noise_ceilings.set_index("method")
    assert ceilings[["lower", "upper"]].isna().all().all()
    assert (ceilings["n_lower"] == 0).all()
    assert ceilings["note"].str.contains("3 of 3 participants share fewer than 3").all()
    assert analysis.majority is not None
    assert analysis.choice_accuracy is not None
    assert {"ceiling_lower", "ceiling_upper"} <= set(analysis.choice_accuracy.columns)
    files = write_report(analysis, tmp_path)
    html = files.html.read_text()
    assert "noise ceiling (spearman)</td><td>not defined (see Reliability)" in html
    assert "share fewer than 3 judged pairs with anyone else" in html
    assert "use the majority-agreement ceiling with the models&#39; choice accuracy" in html
    assert "majority-agreement ceiling</td><td>" in html
    summary = json.loads((tmp_path / "results.json").read_text())["summary"]
    assert all(row["note"] for row in summary["noise_ceilings"])
    per = pd.read_csv(tmp_path / "tables" / "noise_ceiling_participants.csv")
    assert per["shared_pairs"].eq(0).all()
    assert len(per) == 3 * len(params.methods)


def test_report_says_why_there_is_no_majority_ceiling(tmp_path):
    from analysis.io import read_responses
    from analysis.simulate import Design, random_dissimilarity, simulate_responses

    truth = random_dissimilarity(60, random_state=1)  # 34,220 triplets: none drawn twice
    design = Design(n_participants=4, n_trials=12, repeat_fraction=0.0)
    rows = read_responses(simulate_responses(truth, design, random_state=4))
    params = AnalysisParameters(
        n_boot=20,
        n_permutations=20,
        n_splits=5,
        methods=("spearman",),
        embedding_dims=(1, 2),
        embedding_folds=2,
    )
    analysis = analyse_study(rows, ranked_models(truth), parameters=params)
    assert analysis.majority is None
    assert "no triplet was answered more than once" in analysis.majority_note
    assert "ceiling_upper" not in analysis.choice_accuracy
    html = write_report(analysis, tmp_path).html.read_text()
    assert "not measured (no repeated triplets)" in html
    assert "no triplet was answered more than once" in html


def test_relevance_per_model_gives_part_mass_per_model_and_an_overlay_row_each(
    study_responses, truth, tmp_path
):
    rng = np.random.default_rng(3)
    maps = {"A": rng.normal(size=(3, 16, 16)), "B": rng.normal(size=(3, 16, 16))}
    maps["B"][:, 4:6, 3:13] += 50.0  # B puts its relevance on the eyes
    relevance = replace(relevance_inputs(truth), relevance=maps)
    analysis = analyse_study(
        study_responses["triplet"], ranked_models(truth), parameters=PARAMS, relevance=relevance
    )
    table = analysis.part_mass
    assert set(table["model"]) == {"A", "B"}
    eyes = table[table["part"] == "eyes"].groupby("model")["relevance_share"].mean()
    assert eyes["B"] > 0.9 > eyes["A"]
    single = relevance_mass_per_part(maps["A"], relevance.part_masks, relevance.part_labels)
    np.testing.assert_allclose(
        table[table["model"] == "A"]["relevance_share"], single["relevance_share"]
    )
    figure = figures.relevance_overlays(relevance.images, maps, relevance.image_ids)
    assert np.asarray(figure.axes).size == 2 * 3  # 2 models x 3 images
    write_report(analysis, tmp_path)
    assert (tmp_path / "figures" / "part_mass.png").stat().st_size > 0


def test_split_half_histogram_leaves_out_undefined_splits():
    """Tiny studies can have splits without a defined reliability; the figure still draws."""
    values = np.array([0.4, 0.6, np.nan, -np.inf, 0.5])
    figure = figures.split_half_histogram(values, "spearman")
    assert "over 3 random splits" in figure.axes[0].get_title()


def test_one_participants_bad_rows_are_dropped_and_listed_in_the_report(truth, tmp_path):
    """A time PostgreSQL wrote for a year BC and an infinite RT: the study is still analysed,
    and the report lists the rows it dropped and why."""
    from analysis.io import read_responses, read_responses_dropping_bad_rows
    from analysis.simulate import Design, simulate_responses

    design = Design(trial_type="triplet", n_participants=4, n_trials=60, repeat_fraction=0.1)
    raw = simulate_responses(truth, design, random_state=3).astype(str)
    raw.loc[5, "responded_at"] = "0001-12-31T23:00:00TBCZ"
    raw.loc[9, "rt_ms"] = "inf"
    with pytest.raises(ValueError, match="responded_at as ISO 8601"):
        read_responses(raw)
    rows, dropped = read_responses_dropping_bad_rows(raw)
    assert dropped["row"].tolist() == [5, 9, 44]  # 44 repeats trial 9: its original is gone
    assert len(rows) == len(raw) - 3
    params = AnalysisParameters(n_boot=20, n_permutations=20, n_splits=5, methods=("spearman",))
    analysis = analyse_study(rows, ranked_models(truth), parameters=params, dropped_rows=dropped)
    assert analysis.summary()["n_dropped_rows"] == 3
    files = write_report(analysis, tmp_path)
    html = files.html.read_text()
    # its own section, right after the participants
    assert (
        html.index("<h2>Participants and exclusions</h2>")
        < html.index("<h2>Dropped export rows</h2>")
        < html.index("<h2>Human similarity</h2>")
    )
    assert "Export rows dropped on reading" in html
    assert "non-negative, finite rt_ms" in html
    table = pd.read_csv(tmp_path / "tables" / "dropped_rows.csv")
    assert table["row"].tolist() == [5, 9, 44]
    assert table["reasons"].tolist() == [
        "responded_at as ISO 8601 times",
        "non-negative, finite rt_ms",
        "repeat_of naming a trial of the same participant",
    ]


def test_study_analysis_is_the_three_steps_and_takes_keywords_only(triplet_report):
    """analyse_study = analyse_humans + compare_with_models + summarise_relevance; the result
    cannot be built positionally (a 23-argument constructor)."""
    from dataclasses import fields

    from analysis.study_analysis import (
        HumanSide,
        ModelComparison,
        RelevanceSummaries,
        StudyAnalysis,
    )

    analysis, files, _ = triplet_report
    for step in (HumanSide, ModelComparison, RelevanceSummaries):
        assert isinstance(analysis, step)
        assert {f.name for f in fields(step)} <= {f.name for f in fields(StudyAnalysis)}
    assert "dropped_rows" in {f.name for f in fields(HumanSide)}
    assert analysis.dropped_rows is None  # read strictly: no section, no table
    assert "Dropped export rows" not in files.html.read_text()
    values = [getattr(analysis, f.name) for f in fields(StudyAnalysis)]
    with pytest.raises(TypeError, match="positional"):
        StudyAnalysis(*values)


def test_a_report_section_is_one_registered_function(triplet_report, tmp_path, monkeypatch):
    """A section added to SECTIONS appears on the page and its table in the PDF, in order."""
    from analysis.report import sections

    def replication(a, figs):
        section = sections.Section("Replication", "Added by a test.")
        frame = pd.DataFrame({"model": list(a.models)[:2], "r": [0.5, 0.25]})
        section.add_tables(sections.table("Replication table", frame, "tables/replication.csv"))
        return section

    monkeypatch.setattr(sections, "SECTIONS", (*sections.SECTIONS, replication))
    analysis, before, _ = triplet_report
    files = write_report(analysis, tmp_path)
    html = files.html.read_text()
    assert html.index("<h2>Relevance</h2>") < html.index("<h2>Replication</h2>")
    assert "Added by a test." in html
    assert "Replication table" in html
    assert "Replication table" not in before.html.read_text()
    assert len(files.pdf.read_bytes()) > len(before.pdf.read_bytes())


def cells(html: str, anchor: str) -> list[list[str]]:
    """The body cells of the table with id `anchor` on the report page, row by row."""
    start = html.index(f'id="{anchor}"')
    body = html[start : html.index("</table>", start)].split("<tbody>")[1]
    return [re.findall(r"<td>(.*?)</td>", row, re.S) for row in body.split("</tr>")[:-1]]


def test_the_report_opens_with_a_summary_whose_numbers_are_the_comparison_tables(
    triplet_report,
):
    analysis, files, out = triplet_report
    html = files.html.read_text()
    assert html.index('<section id="summary">') < html.index("<h2>Study</h2>")
    assert html.index("<h2>Study</h2>") < html.index("<h2>Methods</h2>")
    primary = analysis.comparison[analysis.comparison["method"] == "spearman"]
    summary = pd.read_csv(out / "tables" / "model_summary.csv")
    comparison = pd.read_csv(out / "tables" / "model_comparison.csv")
    comparison = comparison[comparison["method"] == "spearman"].reset_index(drop=True)
    assert len(summary) == len(primary) == 4
    for ours, theirs in [
        ("evaluation", "evaluation"),
        ("ci_low", "ci_low"),
        ("ci_high", "ci_high"),
        ("mantel_p_fdr", "mantel_p_fdr"),
        ("noise_ceiling_lower", "noise_ceiling_lower"),
        ("noise_ceiling_upper", "noise_ceiling_upper"),
    ]:
        assert summary[ours].tolist() == comparison[theirs].tolist(), ours
    page = cells(html, "table-per-model-and-layer")
    appendix = cells(html, "table-model-comparison")
    columns = list(analysis.comparison.columns)
    spearman = [r for r in appendix if r[columns.index("method")] == "spearman"]
    rows = comparison.itertuples(index=False)
    for shown, printed, row in zip(page, spearman, rows, strict=True):
        assert shown[0] == row.model
        assert shown[2] == printed[columns.index("evaluation")] == f"{row.evaluation:.4g}"
        assert shown[3] == (
            f"[{printed[columns.index('ci_low')]}, {printed[columns.index('ci_high')]}]"
        )
        assert shown[4] == printed[columns.index("mantel_p_fdr")]
        lower = printed[columns.index("noise_ceiling_lower")]
        upper = printed[columns.index("noise_ceiling_upper")]
        assert shown[5] == f"{lower} to {upper}"
        assert shown[6] == f"{row.evaluation / row.noise_ceiling_lower:.0%}"
    for text in summary["sentence"]:
        assert f"<li>{text}</li>" in html
    assert '<img src="figures/model_correlations.png"' in html.split("<h2>Study</h2>")[0]


def test_wide_tables_are_in_the_appendix_linked_from_their_section(triplet_report):
    _, files, _ = triplet_report
    html = files.html.read_text()
    appendix = html.index('<h2 id="appendix">')
    assert html.index('id="table-model-comparison"') > appendix
    assert html.index('id="table-noise-ceilings"') < appendix  # narrow: in place
    models = html[html.index("<h2>Models vs humans</h2>") : appendix]
    assert '<a href="#table-model-comparison">Model comparison</a>' in models
    assert "<code>tables/model_comparison.csv</code>" in models
    assert '<div class="scroll" id="table-model-comparison">' in html


def test_the_report_carries_the_study_title_and_its_dashboard_link(triplet_report, tmp_path):
    analysis, before, _ = triplet_report
    assert "<h1>Similarity report: simulated</h1>" in before.html.read_text()
    assert "dashboard" not in before.html.read_text()
    meta = ReportMeta(title="Faces & friends", dashboard_url="/research/studies/faces-1/")
    html = write_report(analysis, tmp_path, meta).html.read_text()
    assert "<title>Similarity report: Faces &amp; friends</title>" in html
    assert "<h1>Similarity report: Faces &amp; friends</h1>" in html
    assert '<a id="dashboard-link" href="/research/studies/faces-1/">' in html
    assert "Study <code>simulated</code>" in html


def test_the_pdf_sets_no_type_below_6_points(triplet_report):
    _, files, _ = triplet_report
    sizes = pdf_font_sizes(files.pdf)
    assert len(sizes) > 100
    assert min(sizes) >= 6
