"""Finetuning a base model on a labelled stimulus set: new head (optionally the last k
conv/linear layers trainable), stratified (and grouped) train/validation split, early
stopping, and a full training record in the new model's spec.

Details that matter for reproducing the 2 (pretraining) x 2 (task) x seeds design:

- split: stratified by label; when the task is not the grouping column (e.g. gender with
  ``group_column="identity"``), whole identities go to one side, so validation measures
  generalisation to unseen people. Per label, ``round(val_fraction * n)`` groups (or images)
  go to validation, at least one and at most n - 1 when n >= 2. scikit-learn's
  StratifiedGroupKFold is not used because scikit-learn is not a runtime dependency and
  it does not take a fraction.
- dlib's face-recognition network (``dlib_resnet29``, architecture ``finetune_as``
  ``dlib_resnet29_head``): the new head is a linear classifier (with bias) on the 128-D
  descriptor, which stays as dlib trained it, so a child keeps the descriptor as its ``fc``
  layer. With the default ``train_last=1`` only that classifier trains on the frozen
  network's descriptors (computed once): the face-recognition features are what is being
  tested, and the 150 px network is too slow on a CPU to train whole. ``train_last=2`` also
  trains the descriptor layer, 3 and more the last residual blocks (one unit each).
  Images are resized to the spec's 150 px and normalised with dlib's mean and scale.
- frozen layers run once: when the network is a known sequence, the frozen trunk's outputs
  are computed once (inference mode) and only the trainable top is trained on them, which
  makes head finetuning of VGG-16 feasible on a CPU. Batch norms stay in eval mode (frozen
  statistics); dropout in the trainable top is active while training.
- loss: cross-entropy, class-weighted by inverse training frequency (``class_weighted``),
  Adam; early stopping on validation loss with ``patience``; the best epoch's weights are
  restored. Validation accuracy and balanced accuracy (mean per-class recall) are recorded.
- determinism: the finetuning ``seed`` drives initialisation, shuffling and dropout only
  (inside ``torch.random.fork_rng``, so the caller's global RNG state is untouched); the
  train/validation split has its own ``split_seed``, by default fixed per task
  (`default_split_seed` of the label column), so models of one task that differ in ``seed``
  are trained and validated on the same images, as in Crawford et al. (2020).
"""

from __future__ import annotations

import copy
import logging
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from modelsvc.architectures import get_architecture, get_module, set_module
from modelsvc.device import pick_device, run_batched
from modelsvc.dlib_resnet import DlibResidualBlock
from modelsvc.images import StimulusItem, load_batch, normalize
from modelsvc.sequence import FLATTEN, NotSequentialError, to_sequence
from modelsvc.spec import ModelSpec
from modelsvc.validation import check_int, check_real
from modelsvc.version import code_version
from modelsvc.weights import load_model

logger = logging.getLogger(__name__)

#: What ``train_last`` counts from the top: conv and linear layers, and dlib's residual
#: blocks as one unit each (torchvision ResNet stages are not counted: they are layer1-4).
TRAINABLE_UNITS = (nn.Conv2d, nn.Linear, DlibResidualBlock)


def default_split_seed(label_column: str) -> int:
    """The split seed of a task when none is given: CRC-32 of the label column's name."""
    return zlib.crc32(label_column.encode("utf-8"))


@dataclass(frozen=True)
class FinetuneSettings:
    """Finetuning hyper-parameters; `train_last=None` trains every layer.

    `seed` drives initialisation, shuffling and dropout; `split_seed` the train/validation
    split (None: `default_split_seed(label_column)`, filled in on construction).
    """

    label_column: str
    seed: int = 0
    split_seed: int | None = None
    train_last: int | None = 1
    val_fraction: float = 0.25
    group_column: str | None = "identity"
    max_epochs: int = 60
    patience: int = 15
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    class_weighted: bool = True

    def __post_init__(self) -> None:
        owner = "FinetuneSettings"
        if not isinstance(self.label_column, str) or not self.label_column:
            raise ValueError(
                f"The 'label_column' parameter of {owner} must be a non-empty string; "
                f"got {self.label_column!r}."
            )
        check_int(owner, "seed", self.seed, minimum=0)
        if self.split_seed is None:
            object.__setattr__(self, "split_seed", default_split_seed(self.label_column))
        check_int(owner, "split_seed", self.split_seed, minimum=0)
        if self.train_last is not None:
            check_int(owner, "train_last", self.train_last, minimum=1)
        check_real(owner, "val_fraction", self.val_fraction, low=0.0, high=0.9, low_open=True)
        check_int(owner, "max_epochs", self.max_epochs, minimum=1)
        check_int(owner, "patience", self.patience, minimum=1)
        check_int(owner, "batch_size", self.batch_size, minimum=1)
        check_real(owner, "learning_rate", self.learning_rate, low=0.0, high=10.0, low_open=True)
        check_real(owner, "weight_decay", self.weight_decay, low=0.0, high=10.0)


@dataclass(frozen=True)
class FinetuneResult:
    """The trained model (eval mode) and its spec (weights not yet saved: see
    `modelsvc.weights.save_checkpoint`)."""

    model: nn.Module
    spec: ModelSpec


def stratified_split(
    labels: Sequence[str],
    groups: Sequence[str] | None,
    val_fraction: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation indices, stratified by label and (optionally) grouped.

    With `groups`, each group goes wholly to one side and counts under its majority label.
    """
    labels = list(labels)
    units = list(range(len(labels))) if groups is None else list(groups)
    members: dict[object, list[int]] = {}
    for index, unit in enumerate(units):
        members.setdefault(unit, []).append(index)
    by_label: dict[str, list[object]] = {}
    for unit, indices in members.items():
        values, counts = np.unique([labels[i] for i in indices], return_counts=True)
        by_label.setdefault(str(values[np.argmax(counts)]), []).append(unit)
    rng = np.random.default_rng(seed)
    val_units: list[object] = []
    for label in sorted(by_label):
        candidates = sorted(by_label[label], key=str)
        n = len(candidates)
        n_val = min(max(round(val_fraction * n), 1), n - 1) if n >= 2 else 0
        picked = rng.permutation(n)[:n_val]
        val_units += [candidates[i] for i in picked]
    val_set = set(val_units)
    val = np.array(sorted(i for u in val_set for i in members[u]), dtype=np.int64)
    train = np.array(sorted(set(range(len(labels))) - set(val.tolist())), dtype=np.int64)
    return train, val


def balanced_accuracy(true: np.ndarray, predicted: np.ndarray) -> float:
    """Mean recall over the classes present in `true`."""
    recalls = [np.mean(predicted[true == c] == c) for c in np.unique(true)]
    return float(np.mean(recalls))


def finetune(
    base: ModelSpec,
    items: Sequence[StimulusItem],
    settings: FinetuneSettings,
    device: str | torch.device | None = None,
    progress: bool = True,
    on_epoch: Callable[[int, int], None] | None = None,
) -> FinetuneResult:
    """Train a new head (and the last ``settings.train_last`` layers) of `base` on `items`.

    `on_epoch(done, max_epochs)` is called after every epoch (e.g. to report progress).
    """
    device = pick_device(device)
    labels, groups = _labels_and_groups(items, settings)
    loaded = load_batch([item.path for item in items], base.input_size)
    skipped = [
        {"key": items[i].key, "error": str(e)}
        for i, e in zip(loaded.failed, loaded.errors, strict=True)
    ]
    kept = loaded.loaded
    labels = [labels[i] for i in kept]
    groups = None if groups is None else [groups[i] for i in kept]
    keys = [items[i].key for i in kept]
    class_names = tuple(sorted(set(labels)))
    if len(class_names) < 2:
        raise ValueError(
            f"The {settings.label_column!r} labels must have at least 2 classes; "
            f"got {list(class_names)}."
        )
    y = torch.tensor([class_names.index(label) for label in labels])
    train, val = stratified_split(labels, groups, settings.val_fraction, settings.split_seed)
    if len(val) == 0 or len(train) == 0:
        raise ValueError(
            f"The split of {len(labels)} images left an empty train or validation set; "
            "use more images per label (or identity)."
        )
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(settings.seed)
        model, architecture = _with_new_head(load_model(base, device), base, len(class_names))
        trunk, top = _split_trainable(model, base, settings.train_last)
        inputs = normalize(loaded.images, base)
        features = _run_trunk(trunk, inputs, device, settings.batch_size)
        history, best_epoch = _train(
            top, features, y, train, val, settings, device, progress, on_epoch
        )
    model.eval()
    record = {
        "label_column": settings.label_column,
        "group_column": None if groups is None else settings.group_column,
        "settings": asdict(settings),
        "split": {"train": [keys[i] for i in train], "val": [keys[i] for i in val]},
        "skipped": skipped,
        "history": history,
        "best_epoch": best_epoch,
        "val_accuracy": history[best_epoch]["val_accuracy"],
        "val_balanced_accuracy": history[best_epoch]["val_balanced_accuracy"],
        "stopped_early": len(history) < settings.max_epochs,
        "code_version": code_version("finetune"),
    }
    spec = base.replace(
        architecture=architecture,
        num_classes=len(class_names),
        class_names=class_names,
        task=settings.label_column,
        parent=base.cache_key(),
        seed=settings.seed,
        training=record,
        weights_path=None,
        weights_format=None,
        weights_sha256=None,
        name=f"{base.name or base.architecture}-{settings.label_column}-seed{settings.seed}",
    )
    return FinetuneResult(model, spec)


def _labels_and_groups(items, settings):
    missing = [item.key for item in items if settings.label_column not in item.labels]
    if missing:
        raise ValueError(
            f"The 'label_column' {settings.label_column!r} is missing for items {missing[:10]}"
            f"{' ...' if len(missing) > 10 else ''}."
        )
    labels = [item.labels[settings.label_column] for item in items]
    group_column = settings.group_column
    if group_column is None or group_column == settings.label_column:
        return labels, None
    missing = [item.key for item in items if group_column not in item.labels]
    if missing:
        raise ValueError(
            f"The 'group_column' {group_column!r} is missing for items {missing[:10]}; "
            "pass group_column=None to split without groups."
        )
    return labels, [item.labels[group_column] for item in items]


def _with_new_head(model: nn.Module, spec: ModelSpec, num_classes: int) -> tuple[nn.Module, str]:
    """The model with a new `num_classes` head (seeded by the caller) and its architecture.

    Without ``finetune_as`` the head layer is replaced (same bias setting, so checkpoints
    reload); with it, the network is kept whole and the child architecture's head goes on
    top of its output (dlib: a classifier on the 128-D descriptor).
    """
    architecture = get_architecture(spec.architecture)
    if architecture.finetune_as is None:
        old = get_module(model, architecture.head)
        head = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
        set_module(model, architecture.head, head.to(old.weight.device))
        return model, architecture.name
    child_architecture = get_architecture(architecture.finetune_as)
    device = next(model.parameters()).device
    child = child_architecture.build(num_classes).to(device)
    missing, unexpected = child.load_state_dict(model.state_dict(), strict=False)
    head_keys = {
        f"{child_architecture.head}.{key}"
        for key in get_module(child, child_architecture.head).state_dict()
    }
    if unexpected or set(missing) != head_keys:
        raise ValueError(
            f"The {child_architecture.name} architecture must be the {architecture.name} "
            f"network plus its head {child_architecture.head!r}; missing keys {missing}, "
            f"unexpected keys {unexpected}."
        )
    return child.eval(), child_architecture.name


def _split_trainable(model: nn.Module, spec: ModelSpec, train_last: int | None):
    """(frozen trunk, trainable top) as modules; parameters outside the top are frozen."""
    try:
        steps = to_sequence(model)
    except NotSequentialError:
        steps = None
    layered = [i for i, (_, m) in enumerate(steps or []) if isinstance(m, TRAINABLE_UNITS)]
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    if steps is None or (train_last is not None and train_last > len(layered)):
        raise ValueError(
            f"The 'train_last' parameter must be at most the number of conv/linear layers "
            f"(a residual block counts as one) ({len(layered)}) of a sequential "
            f"{spec.architecture}; got {train_last}."
        )
    start = 0 if train_last is None else layered[-train_last]
    modules = [nn.Flatten() if name == FLATTEN else m for name, m in steps]
    top = nn.Sequential(*modules[start:])
    for parameter in top.parameters():
        parameter.requires_grad_(True)
    return nn.Sequential(*modules[:start]).eval(), top


def _run_trunk(trunk: nn.Module, inputs: torch.Tensor, device, batch_size: int) -> torch.Tensor:
    """The frozen layers' output for every image, once; an out-of-memory halves the batch."""
    if len(trunk) == 0:
        return inputs

    def features_of(indices: list[int]) -> torch.Tensor:
        with torch.inference_mode():
            return trunk(inputs[indices].to(device)).cpu()

    return run_batched(features_of, len(inputs), batch_size).value


def _set_train_mode(top: nn.Module) -> None:
    """Dropout on, batch norm statistics frozen."""
    top.train()
    for module in top.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def _train(top, features, y, train, val, settings, device, progress, on_epoch):
    counts = torch.bincount(y[train], minlength=int(y.max()) + 1).double()
    weights = None
    if settings.class_weighted:
        weights = torch.where(counts > 0, counts.sum() / (len(counts) * counts), 0.0)
        weights = weights.float().to(device)
    loss_fn = nn.CrossEntropyLoss(weight=weights)
    params = [p for p in top.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(
        params, lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    shuffler = torch.Generator().manual_seed(settings.seed)
    history: list[dict] = []
    best_loss, best_epoch, best_state = math.inf, 0, copy.deepcopy(top.state_dict())
    bar = tqdm(range(settings.max_epochs), desc="finetune", disable=not progress, leave=False)
    batch_size = settings.batch_size
    for epoch in bar:
        _set_train_mode(top)
        order = train[torch.randperm(len(train), generator=shuffler).numpy()]
        train_loss, train_correct, start = 0.0, 0, 0
        while start < len(order):
            batch = torch.from_numpy(order[start : start + batch_size])
            x, target = features[batch].to(device), y[batch].to(device)
            optimizer.zero_grad(set_to_none=True)
            try:
                logits = top(x)
                loss = loss_fn(logits, target)
                loss.backward()
            except torch.cuda.OutOfMemoryError:
                # nothing was stepped yet: the same images again, in halves, from now on
                if batch_size == 1:
                    raise
                batch_size //= 2
                logger.warning("Out of memory in training; batch size now %d", batch_size)
                if torch.cuda.is_initialized():
                    torch.cuda.empty_cache()
                continue
            optimizer.step()
            train_loss += loss.item() * len(batch)
            train_correct += int((logits.argmax(1) == target).sum())
            start += len(batch)
        val_loss, val_pred = _evaluate(top, features[val], y[val], loss_fn, device, settings)
        val_true = y[val].numpy()
        history.append(
            {
                "epoch": epoch,
                "train_loss": train_loss / len(train),
                "train_accuracy": train_correct / len(train),
                "val_loss": val_loss,
                "val_accuracy": float(np.mean(val_pred == val_true)),
                "val_balanced_accuracy": balanced_accuracy(val_true, val_pred),
                "batch_size": batch_size,
            }
        )
        bar.set_postfix(val_loss=f"{val_loss:.3f}", val_acc=f"{history[-1]['val_accuracy']:.2f}")
        if on_epoch is not None:
            on_epoch(epoch + 1, settings.max_epochs)
        if val_loss < best_loss:
            best_loss, best_epoch, best_state = val_loss, epoch, copy.deepcopy(top.state_dict())
        elif epoch - best_epoch >= settings.patience:
            break
    top.load_state_dict(best_state)
    top.eval()
    return history, best_epoch


def _evaluate(top, features, y, loss_fn, device, settings):
    top.eval()

    def logits_of(indices: list[int]) -> torch.Tensor:
        with torch.inference_mode():
            return top(features[indices].to(device))

    logits = run_batched(logits_of, len(features), settings.batch_size).value
    with torch.inference_mode():
        loss = float(loss_fn(logits, y.to(device)))
    return loss, logits.argmax(1).cpu().numpy()
