"""Real faces: `benchmarks/modelsvc_orl.py` on the ORL set (skipped when it is absent)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DATASETS = Path(os.environ.get("FACESIM_DATASETS_DIR", REPO / ".." / "shared" / "datasets"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (DATASETS / "orl_faces" / "subjects.csv").is_file(),
        reason="ORL faces not available (../shared/datasets/orl_faces)",
    ),
]


def test_identity_and_gender_models_on_orl_faces(tmp_path):
    output = tmp_path / "orl.json"
    options = "--seeds 0 --epochs 15 --models identity gender_ft --modes remove --fractions"
    options = [*options.split(), "0.05", "0.2", "0.5", "--json", str(output)]
    result = subprocess.run(
        [sys.executable, "benchmarks/modelsvc_orl.py", *options],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    print(result.stdout)  # accuracies and AUC matrices, shown with pytest -s
    (run,) = json.loads(output.read_text())
    identity, gender = run["training"]["identity"], run["training"]["gender_ft"]
    assert identity["val_images"] == 80  # 2 of 10 images of each of 40 people
    assert identity["val_accuracy"] > 0.3  # chance: 1/40 (0.66 here after 15 epochs)
    assert gender["val_images"] == 100  # 1 of 4 female and 9 of 36 male people
    assert 0.0 <= gender["val_balanced_accuracy"] <= 1.0
    remove = run["masking"]["remove"]
    assert remove["sources"] == ["identity", "gender_ft", "random"]
    auc = remove["auc"]
    # removing the identity model's most relevant pixels hurts it more than random removal
    assert auc[0][0] < auc[2][0]
