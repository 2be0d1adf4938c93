"""dlib's own C++ as a reference: compile the programs in `dlib/` and run them on our inputs
(`dlib_embed.cpp`: face descriptors of 150x150 chips; `dlib_landmarks.cpp`: landmarks;
`dlib_chips.cpp`: aligned face chips from 5 landmarks; `dlib_detect.cpp`: the CNN face
detector's boxes and scores).

Used by the tests and `benchmarks/dlib_faces.py`. Needs ``g++`` and Debian's ``libdlib-dev``
(``bin/setup --dev`` installs both); `missing()` says what is absent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

SOURCES = Path(__file__).with_name("dlib")
LIBRARIES = ["-ldlib", "-lpthread", "-l:libblas.so.3", "-l:liblapack.so.3"]
#: One thread, also if the system's BLAS is a threaded one.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def missing() -> str | None:
    """Why the reference cannot be built here, or None."""
    if shutil.which("g++") is None:
        return "g++ is not installed (bin/setup --dev installs it)"
    if not Path("/usr/include/dlib/dnn.h").is_file():
        return "libdlib-dev is not installed (bin/setup --dev installs it)"
    return None


def compile_reference(folder: Path, program: str = "dlib_embed") -> Path:
    """Build `program` (.cpp in `dlib/`) into `folder` (about a minute on a loaded machine)."""
    binary = folder / program
    source = SOURCES / f"{program}.cpp"
    command = ["g++", "-O2", "-std=c++17", "-o", str(binary), str(source), *LIBRARIES]
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=600)
    return binary


def write_chips(chips: np.ndarray, path: Path) -> Path:
    """(N, 150, 150, 3) uint8 RGB chips as the raw bytes the program reads."""
    if chips.dtype != np.uint8 or chips.shape[1:] != (150, 150, 3):
        raise ValueError(f"chips must be (N, 150, 150, 3) uint8; got {chips.shape} {chips.dtype}")
    np.ascontiguousarray(chips).tofile(path)
    return path


def reference_embeddings(binary: Path, model: Path, chips: np.ndarray, folder: Path) -> np.ndarray:
    """dlib's 128-D descriptors of `chips`, (N, 128) float64."""
    data = write_chips(chips, folder / "chips.rgb")
    command = [str(binary), str(model), str(data), str(len(chips))]
    out = run(command)
    return np.array([[float(v) for v in line.split()] for line in out.splitlines()])


def reference_throughput(
    binary: Path, model: Path, chips: np.ndarray, folder: Path, *, repeats: int
) -> float:
    """Images per second of dlib's C++ (one image at a time, one thread)."""
    data = write_chips(chips, folder / "chips.rgb")
    command = [str(binary), str(model), str(data), str(len(chips)), str(repeats)]
    out = run(command)
    return float(out.strip())


def reference_landmarks(
    binary: Path, model: Path, images: np.ndarray, box: tuple[int, int, int, int], folder: Path
) -> np.ndarray:
    """dlib's landmarks (N, P, 2) integer (x, y) for grayscale uint8 `images` (N, H, W)."""
    data = folder / "images.gray"
    np.ascontiguousarray(images, dtype=np.uint8).tofile(data)
    count, height, width = images.shape
    command = [str(binary), str(model), str(data), str(count), str(height), str(width)]
    out = run([*command, *(str(v) for v in box)])
    return np.array([[int(v) for v in line.split()] for line in out.splitlines()]).reshape(
        count, -1, 2
    )


def reference_chips(
    binary: Path, images: np.ndarray, landmarks: np.ndarray, folder: Path, *, size: int = 150
) -> np.ndarray:
    """dlib's aligned chips (N, size, size, 3) uint8 of RGB `images` (N, H, W, 3) and their
    5 landmarks (N, 5, 2), with dlib's padding of 0.25."""
    data, marks, out = folder / "images.rgb", folder / "landmarks.txt", folder / "chips.rgb"
    np.ascontiguousarray(images, dtype=np.uint8).tofile(data)
    marks.write_text("".join(" ".join(map(str, m.ravel())) + "\n" for m in landmarks))
    count, height, width, _ = images.shape
    sizes = [str(count), str(height), str(width)]
    run([str(binary), str(data), *sizes, str(marks), str(out), str(size), "0.25"])
    return np.fromfile(out, dtype=np.uint8).reshape(count, size, size, 3)


def reference_detections(
    binary: Path, model: Path, images: np.ndarray, folder: Path, *, repeats: int = 0
) -> list[list[tuple[tuple[int, int, int, int], float]]] | float:
    """dlib's faces ((left, top, right, bottom), score), best first, per RGB uint8 image of
    `images` (N, H, W, 3); with `repeats` instead its images per second (one thread)."""
    data = folder / "images.rgb"
    np.ascontiguousarray(images, dtype=np.uint8).tofile(data)
    count, height, width, _ = images.shape
    command = [str(binary), str(model), str(data), str(count), str(height), str(width)]
    if repeats:
        return float(run([*command, str(repeats)]))
    faces = []
    for line in run(command).splitlines():
        values = line.split()
        found = [values[1 + 5 * i : 6 + 5 * i] for i in range(int(values[0]))]
        faces.append([(tuple(int(v) for v in f[:4]), float(f[4])) for f in found])
    return faces


def run(command: list[str]) -> str:
    return subprocess.run(
        command, check=True, capture_output=True, text=True, timeout=900, env=ENV
    ).stdout
