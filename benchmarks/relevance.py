"""Benchmark: fast LRP path vs zennit vs plain forward+backward on VGG-16, plus embedding and
masking throughput.

    .venv/bin/python benchmarks/relevance.py                      # CPU, float32, batch 16, 224 px
    .venv/bin/python benchmarks/relevance.py --device cuda --dtype bfloat16

VGG-16 with random weights (seed 0). All timed methods run interleaved in each repeat (so
load from other processes hits them alike) and the median over repeats is reported, after
one warm-up call each (the fast path's clamped weights are built in the warm-up and cached,
as in a worker that keeps its model). Timed methods, all on the same batch and targets:

- forward: inference-mode forward pass (context only);
- forward+backward: the plain model, ``logits[target].sum().backward()`` with the weights
  requiring gradients, as in training -- the baseline of the targets;
- input gradient: autograd gradient of the target logits w.r.t. the input only (no weight
  gradients), i.e. the "gradient" relevance method;
- zennit: ``epsilon_plus_flat`` through zennit's Gradient attributor;
- fast: ``epsilon_plus_flat`` through modelsvc's fast path;
- fast, plan rebuilt: the same with its per-model plan (merged and clamped weights) rebuilt,
  and weights sha256: hashing every parameter -- the two ways to notice changed weights
  without ``Tensor._version`` (private), which the plan cache reads instead.

Targets: fast <= 1.0x forward+backward and >= 2.5x faster than zennit, with equal maps
(max over images of max|fast - zennit| / max|zennit|, channel-summed maps).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from modelsvc.embeddings import extract_embeddings
from modelsvc.masking import MaskingSettings, evaluate_masking, top_fraction_masks
from modelsvc.relevance import explain
from modelsvc.relevance.fast import _PLANS
from modelsvc.spec import ModelSpec

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def main() -> None:
    args = _arguments()
    if args.float32_error:
        torch.set_num_threads(args.threads)
        _report_float32_error(_float32_error(args.size, args.batch))
        return
    device = torch.device(
        args.device if args.device != "auto" else "cuda" if torch.cuda.is_available() else "cpu"
    )
    dtype = DTYPES[args.dtype]
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = torchvision.models.vgg16(num_classes=1000).eval().to(device=device, dtype=dtype)
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(args.batch, 3, args.size, args.size, generator=generator)
    inputs = ((images - 0.45) / 0.225).to(device=device, dtype=dtype)
    targets = torch.randint(0, 1000, (args.batch,), generator=generator).to(device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def forward() -> None:
        with torch.inference_mode():
            model(inputs)

    def forward_backward() -> None:
        logits = model(inputs)
        logits[torch.arange(len(logits)), targets].sum().backward()
        model.zero_grad(set_to_none=True)

    def input_gradient() -> None:
        explain(model, inputs, method="gradient", targets=targets)

    def zennit() -> None:
        explain(model, inputs, targets=targets, backend="zennit")

    def fast() -> None:
        explain(model, inputs, targets=targets, backend="fast")

    def fast_plan_rebuilt() -> None:
        _PLANS.pop(model, None)  # what a cache without change detection would have to do
        fast()

    def weights_hashed() -> None:
        _weights_digest(model)  # the public alternative to the plan cache's Tensor._version

    methods: dict[str, Callable[[], None]] = {
        "forward": forward,
        "forward+backward": forward_backward,
        "input gradient": input_gradient,
        "fast": fast,
        "fast, plan rebuilt": fast_plan_rebuilt,
        "weights sha256": weights_hashed,
    }
    if not args.skip_zennit:
        methods["zennit"] = zennit
    load_before = os.getloadavg()
    cold = _timed(fast, sync)[0]  # first call: builds and caches the clamped weights
    times, cpu_times = _interleaved(methods, args.repeats, sync)
    result = {
        "machine": _machine(device, args.threads),
        "settings": {
            "device": str(device),
            "dtype": args.dtype,
            "batch": args.batch,
            "size": args.size,
            "repeats": args.repeats,
        },
        "load_average_before": load_before,
        "median_seconds": {name: statistics.median(t) for name, t in times.items()},
        "min_seconds": {name: min(t) for name, t in times.items()},
        "median_cpu_seconds": {name: statistics.median(t) for name, t in cpu_times.items()},
        "all_seconds": times,
        "fast_first_call_seconds": cold,
    }
    pairs = [
        ("fast", "forward+backward"),
        ("fast", "input gradient"),
        ("fast", "forward"),
        ("fast, plan rebuilt", "fast"),
        ("weights sha256", "fast"),
    ]
    if not args.skip_zennit:
        pairs.append(("zennit", "fast"))
        result["map_difference"] = _map_difference(model, inputs, targets)
    median, cpu = result["median_seconds"], result["median_cpu_seconds"]
    result["ratios"] = {
        f"{a} / {b}": {
            "of medians": median[a] / median[b],
            "median of paired": _paired_ratio(times, a, b),
            "of median CPU times": cpu[a] / cpu[b] if device.type == "cpu" else None,
        }
        for a, b in pairs
    }
    if dtype != torch.float32:
        result["low_precision_vs_float32"] = _low_precision_check(model, inputs, targets)
    spec = ModelSpec("vgg16", 1000, input_size=(args.size, args.size))
    throughput_repeats = min(args.repeats, 3)
    result["embeddings_images_per_second"] = _embedding_throughput(
        model, spec, images.to(device), throughput_repeats, sync
    )
    result["masking"] = _masking_throughput(
        model, spec, images.to(device), inputs, targets, throughput_repeats, sync
    )
    result["float16_storage_topk_iou"] = _float16_storage_check(model, inputs, targets)
    result["load_average_after"] = os.getloadavg()
    _report(result)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)


def _weights_digest(model: torch.nn.Module) -> str:
    """sha256 over every parameter and buffer: detects in-place changes without private APIs."""
    digest = hashlib.sha256()
    for tensor in [*model.parameters(), *model.buffers()]:
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy())
    return digest.hexdigest()


def _timed(fn: Callable[[], None], sync: Callable[[], None]) -> tuple[float, float]:
    """Wall-clock and process CPU seconds of one call (CPU time is what the process itself
    used, so it is less disturbed by other processes on a shared machine)."""
    sync()
    start, start_cpu = time.perf_counter(), time.process_time()
    fn()
    sync()
    return time.perf_counter() - start, time.process_time() - start_cpu


def _interleaved(methods, repeats, sync) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Warm up each method, then run all of them once per repeat, rotating their order;
    wall-clock and CPU seconds per method."""
    for fn in methods.values():
        _timed(fn, sync)
    names = list(methods)
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            seconds, cpu_seconds = _timed(methods[name], sync)
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)
    return wall, cpu


def _paired_ratio(times: dict[str, list[float]], numerator: str, denominator: str) -> float:
    """Median over repeats of the ratio measured within each repeat."""
    pairs = zip(times[numerator], times[denominator], strict=True)
    return statistics.median(a / b for a, b in pairs)


def _relative_difference(result: torch.Tensor, reference: torch.Tensor) -> float:
    dims = tuple(range(1, reference.ndim))
    error = (result - reference).abs().amax(dims) / reference.abs().amax(dims)
    return float(error.max())


def _map_difference(model, inputs, targets) -> dict[str, float]:
    fast = explain(model, inputs, targets=targets, backend="fast").relevance.float()
    reference = explain(model, inputs, targets=targets, backend="zennit").relevance.float()
    return {
        "channel_summed_maps": _relative_difference(fast.sum(1), reference.sum(1)),
        "per_channel_relevance": _relative_difference(fast, reference),
    }


def _low_precision_check(model, inputs, targets) -> dict[str, float]:
    """bf16/fp16 maps against float32 maps of the same weights."""
    reference_model = _float_copy(model)
    low = explain(model, inputs, targets=targets, backend="fast").relevance.float().sum(1)
    full = explain(reference_model, inputs.float(), targets=targets, backend="fast")
    full_maps = full.relevance.sum(1)
    correlations = [
        float(np.corrcoef(a.flatten().cpu(), b.flatten().cpu())[0, 1])
        for a, b in zip(low, full_maps, strict=True)
    ]
    return {
        "max_relative_difference": _relative_difference(low, full_maps),
        "min_pearson_r": min(correlations),
        "mean_top10pct_iou": _topk_iou(low, full_maps, 0.1),
    }


def _float32_error(size: int, batch: int) -> dict[str, dict[str, float]]:
    """float32 maps against float64 maps of the same VGG-16 (channel-summed, worst image of
    max|error| / max|float64 map|), for zero biases (torchvision's initialisation) and for
    N(0, 0.1) biases. The float64 fast path is the reference (it equals zennit to ~1e-16)."""
    generator = torch.Generator().manual_seed(1)
    inputs = torch.rand(batch, 3, size, size, generator=generator, dtype=torch.float64) - 0.45
    inputs = inputs / 0.225
    targets = torch.randint(0, 1000, (batch,), generator=generator)
    errors = {}
    for biases in ("zero", "N(0, 0.1)"):
        torch.manual_seed(0)
        model = torchvision.models.vgg16(num_classes=1000).eval().double()
        if biases != "zero":
            with torch.no_grad():
                for module in model.modules():
                    if isinstance(module, torch.nn.Conv2d | torch.nn.Linear):
                        module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
        reference = explain(model, inputs, targets=targets, backend="fast").relevance.sum(1)
        model = model.float()
        errors[biases] = {
            backend: _relative_difference(
                explain(model, inputs.float(), targets=targets, backend=backend)
                .relevance.double()
                .sum(1),
                reference,
            )
            for backend in ("fast", "zennit")
        }
    return errors


def _report_float32_error(errors: dict[str, dict[str, float]]) -> None:
    print("float32 maps vs float64 (worst image, max|error| / max|map|), VGG-16:")
    for biases, by_backend in errors.items():
        shown = ", ".join(f"{backend} {value:.2e}" for backend, value in by_backend.items())
        print(f"  biases {biases:10s} {shown}")


def _float_copy(model):
    copy = torchvision.models.vgg16(num_classes=1000).eval().to(next(model.parameters()).device)
    copy.load_state_dict({k: v.float() for k, v in model.state_dict().items()})
    return copy


def _topk_iou(a: torch.Tensor, b: torch.Tensor, fraction: float) -> float:
    mask_a = top_fraction_masks(a.cpu().double(), [fraction])[0].flatten(1)
    mask_b = top_fraction_masks(b.cpu().double(), [fraction])[0].flatten(1)
    return float(((mask_a & mask_b).sum(1) / (mask_a | mask_b).sum(1)).mean())


def _float16_storage_check(model, inputs, targets) -> dict[str, float]:
    """How much top-k masks change if float32 maps were stored as float16 (no scaling)."""
    maps = explain(model, inputs, targets=targets, backend="fast").relevance.float().sum(1)
    rounded = maps.half().float()
    return {f"top{int(f * 100)}pct": _topk_iou(maps, rounded, f) for f in (0.01, 0.1, 0.5)}


def _embedding_throughput(model, spec, images, repeats, sync) -> float:
    layers = ["features.30", "classifier.1", "classifier.4"]
    times = _interleaved(
        {"embed": lambda: extract_embeddings(model, spec, images, layers)}, repeats, sync
    )[0]["embed"]
    return len(images) / statistics.median(times)


def _masking_throughput(model, spec, images, inputs, targets, repeats, sync) -> dict:
    maps = explain(model, inputs, targets=targets, backend="fast").relevance.float().sum(1)
    settings = MaskingSettings(fill="mean", fill_value=(0.45, 0.45, 0.45))
    keys = [f"img{i}" for i in range(len(images))]

    def run() -> None:
        evaluate_masking(model, spec, images, maps, targets.cpu(), keys, settings)

    seconds = statistics.median(_interleaved({"mask": run}, repeats, sync)[0]["mask"])
    evaluated = len(images) * (len(settings.fractions) + 1)  # every fraction + unmasked
    return {
        "fractions": len(settings.fractions),
        "masked_images_per_second": evaluated / seconds,
        "stimuli_per_second": len(images) / seconds,
    }


def _machine(device, threads) -> dict:
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or "unknown",
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    else:
        info["threads"] = threads
    return info


def _report(result: dict) -> None:
    settings = result["settings"]
    print(
        f"VGG-16, random weights, {settings['size']}x{settings['size']}, batch "
        f"{settings['batch']}, {settings['dtype']} on {settings['device']} "
        f"({result['machine']}); median of {settings['repeats']} interleaved repeats"
    )
    print(
        f"load average before/after: {result['load_average_before']} / "
        f"{result['load_average_after']}"
    )
    print(f"  {'method':18s} {'median':>8s} {'min':>8s} {'CPU':>8s}   all (s)")
    for name, seconds in result["median_seconds"].items():
        spread = ", ".join(f"{t:.2f}" for t in result["all_seconds"][name])
        print(
            f"  {name:18s} {seconds:8.3f} {result['min_seconds'][name]:8.3f} "
            f"{result['median_cpu_seconds'][name]:8.3f}   [{spread}]"
        )
    print(f"  fast, first call   {result['fast_first_call_seconds']:8.3f} s (builds the cache)")
    print(f"  {'ratio':26s} {'medians':>8s} {'paired':>8s} {'CPU':>8s}")
    for name, ratio in result["ratios"].items():
        values = (ratio["of medians"], ratio["median of paired"], ratio["of median CPU times"])
        print(
            f"  {name:26s} " + " ".join("     n/a" if v is None else f"{v:7.2f}x" for v in values)
        )
    for key in ("map_difference", "low_precision_vs_float32", "float16_storage_topk_iou"):
        if key in result:
            print(f"  {key}: {json.dumps(result[key])}")
    print(f"  embeddings: {result['embeddings_images_per_second']:.1f} images/s")
    masking = result["masking"]
    print(
        f"  masking evaluation: {masking['masked_images_per_second']:.1f} masked images/s "
        f"({masking['stimuli_per_second']:.2f} stimuli/s at {masking['fractions']} fractions)"
    )


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads (default 1: on a shared 2-core machine, 2 OpenMP threads are "
        "slowed down several-fold whenever another process runs)",
    )
    parser.add_argument("--skip-zennit", action="store_true")
    parser.add_argument(
        "--float32-error",
        action="store_true",
        help="only measure float32 maps against float64 (zero and non-zero biases)",
    )
    parser.add_argument("--json", help="also write the results to this JSON file")
    return parser.parse_args()


if __name__ == "__main__":
    main()
