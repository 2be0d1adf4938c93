"""Built-in pretrained models: weights that ship in an installed Python package.

Each `BuiltinModel` names the package file holding its weights, where the weights come from
and under which licence, so the platform can show both. `builtin_spec(name)` is the
`ModelSpec` of a built-in model (weights path and sha256 of the installed file).

The package is located with `importlib.util.find_spec`, without importing it
(``face_recognition_models``' own ``__init__`` needs ``pkg_resources``, which Python 3.12
setups often lack).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from modelsvc.architectures import get_architecture
from modelsvc.dlib_resnet import DLIB_EMBEDDING_SIZE, DLIB_MEAN, DLIB_STD
from modelsvc.spec import ModelSpec
from modelsvc.validation import check_choice
from modelsvc.weights import file_sha256


@dataclass(frozen=True)
class BuiltinModel:
    """A pretrained model whose weights file comes with a Python package."""

    name: str
    architecture: str
    num_classes: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    weights_format: str
    package: str
    filename: str
    provenance: str
    licence: str
    #: What the network was pretrained on, as the platform groups models (its finetuned
    #: children inherit it): a value of ``studyapp``'s ``FaceModel.Pretraining``.
    pretraining: str

    def weights_path(self) -> Path:
        """The installed weights file; a missing package or file says what to install."""
        found = importlib.util.find_spec(self.package)
        folders = list(found.submodule_search_locations or []) if found else []
        for folder in folders:
            path = Path(folder) / self.filename
            if path.is_file():
                return path
        raise ValueError(
            f"The built-in model {self.name!r} needs {self.filename} from the Python package "
            f"{self.package!r}; install it (pip install -r requirements.txt)."
        )

    def spec(self) -> ModelSpec:
        """The model's spec: registered architecture, preprocessing and the checked weights."""
        path = self.weights_path()
        arch = get_architecture(self.architecture)
        return ModelSpec(
            architecture=self.architecture,
            num_classes=self.num_classes,
            input_size=arch.input_size,
            mean=self.mean,
            std=self.std,
            layers=arch.layers,
            weights_path=str(path),
            weights_format=self.weights_format,
            weights_sha256=file_sha256(path),
            name=self.name,
        )


BUILTIN_MODELS: dict[str, BuiltinModel] = {
    model.name: model
    for model in (
        BuiltinModel(
            name="dlib_resnet29",
            architecture="dlib_resnet29",
            num_classes=DLIB_EMBEDDING_SIZE,
            mean=DLIB_MEAN,
            std=DLIB_STD,
            weights_format="dlib_dat",
            package="face_recognition_models",
            filename="models/dlib_face_recognition_resnet_model_v1.dat",
            provenance=(
                "dlib_face_recognition_resnet_model_v1 by Davis King (dlib 19.x): a 29-layer "
                "ResNet metric network trained on about 3 million faces (per dlib's "
                "documentation: FaceScrub, VGG and web images), 99.38 % on LFW; 150 px RGB "
                "chips, 128-D descriptor, same person below Euclidean distance 0.6. File "
                "from the PyPI package face-recognition-models 0.3.0, read by "
                "modelsvc.dlib_format."
            ),
            licence=(
                "Public domain / CC0 1.0 Universal: the package's LICENSE file is CC0 1.0 and "
                "its description says the models are 'licensed in the public domain or under "
                "CC0 1.0 Universal' (its 'MIT license' metadata field refers to the packaging "
                "code)."
            ),
            pretraining="facerec_dlib",
        ),
    )
}


def get_builtin(name: str) -> BuiltinModel:
    """The built-in model called `name`."""
    check_choice("get_builtin", "name", name, BUILTIN_MODELS)
    return BUILTIN_MODELS[name]


def builtin_spec(name: str) -> ModelSpec:
    """The `ModelSpec` of the built-in model called `name`."""
    return get_builtin(name).spec()
