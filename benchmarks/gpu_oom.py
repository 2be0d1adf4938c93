"""GPU check: a real CUDA out-of-memory error halves the batch and the results do not change.

    .venv/bin/python benchmarks/gpu_oom.py            # needs a CUDA device
    .venv/bin/python benchmarks/gpu_oom.py --images 32 --start-batch 65536

The unit tests can only simulate ``torch.cuda.OutOfMemoryError`` (CI has no GPU). Here VGG-16
(random weights, seed 0, 224 px) runs embeddings and fast-path LRP through
``modelsvc.device.run_batched`` with a first batch far beyond the card's memory (padded, so
the first call really allocates it), and the maps and embeddings are compared with a run
at a batch that fits. Prints the batch size that was kept, the number of halvings, the
seconds per run (the baseline is the fitting run, measured in the same process) and the
largest difference, and for relevance maps also the smallest per-image Pearson r and the
mean top-1 % pixel overlap (IoU), since LRP's divisions amplify rounding where a neuron's
input is near zero. With ``--deterministic`` cuDNN uses deterministic algorithms only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from modelsvc.device import run_batched
from modelsvc.relevance import explain


def main() -> None:
    args = _arguments()
    if not torch.cuda.is_available():
        raise SystemExit("gpu_oom.py needs a CUDA device (torch.cuda.is_available() is False).")
    device = torch.device("cuda")
    torch.backends.cudnn.allow_tf32 = False  # full float32, so batch sizes compare exactly
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.deterministic = args.deterministic
    torch.backends.cudnn.benchmark = False
    torch.manual_seed(0)
    model = torchvision.models.vgg16(num_classes=1000).eval().to(device)
    images = torch.rand(args.images, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    images = images.to(device)
    targets = torch.arange(args.images, device=device) % 1000
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")

    def embed(indices: list[int]) -> torch.Tensor:
        with torch.inference_mode():
            return model.features(images[indices]).mean(dim=(2, 3))

    def relevance(indices: list[int]) -> torch.Tensor:
        index = torch.as_tensor(indices, device=device)
        result = explain(model, images[index], targets=targets[index], backend="fast")
        return result.relevance.sum(dim=1)

    for name, fn in (("embeddings", embed), ("relevance (fast LRP)", relevance)):
        fitting, fitting_s = _timed(fn, args.images, args.fitting_batch)
        halved, halved_s = _timed(fn, args.images, args.start_batch)
        scale = fitting.value.abs().max().item()
        difference = (fitting.value - halved.value).abs().max().item() / scale
        r, iou = _agreement(fitting.value.flatten(1), halved.value.flatten(1))
        print(
            f"{name}: start batch {args.start_batch} -> kept {halved.batch_size} after "
            f"{halved.oom_retries} out-of-memory halvings; {halved_s:.2f} s vs "
            f"{fitting_s:.2f} s at batch {args.fitting_batch} ({halved_s / fitting_s:.2f}x); "
            f"max |difference| / max |value| = {difference:.2e}; "
            f"min per-image Pearson r = {r:.6f}; mean top-1 % IoU = {iou:.4f}"
        )
        if halved.oom_retries == 0:
            raise SystemExit(f"{name}: the start batch did not run out of memory; raise it.")
        if r < args.min_pearson:
            raise SystemExit(f"{name}: per-image Pearson r {r:.6f} < {args.min_pearson}.")
    print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")


def _agreement(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    """Smallest per-row Pearson r, and mean IoU of the rows' top 1 % entries."""
    r = torch.corrcoef(torch.cat([a, b]).double())[: len(a), len(a) :].diagonal()
    k = max(1, a.shape[1] // 100)
    top_a, top_b = a.topk(k, dim=1).indices, b.topk(k, dim=1).indices
    shared = [len(set(x.tolist()) & set(y.tolist())) for x, y in zip(top_a, top_b, strict=True)]
    return r.min().item(), sum(s / (2 * k - s) for s in shared) / len(shared)


def _timed(fn, n_items: int, batch: int):
    torch.cuda.synchronize()
    start = time.perf_counter()
    run = run_batched(fn, n_items, batch)
    torch.cuda.synchronize()
    return run, time.perf_counter() - start


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--start-batch", type=int, default=65536)
    parser.add_argument("--fitting-batch", type=int, default=16)
    parser.add_argument("--min-pearson", type=float, default=0.9999)
    parser.add_argument("--deterministic", action="store_true")
    return parser.parse_args()


if __name__ == "__main__":
    main()
