"""Benchmark: streamed network dissection vs a naive in-memory loop per unit.

    .venv/bin/python benchmarks/dissection.py --device cuda                  # VGG-16, 224 px
    .venv/bin/python benchmarks/dissection.py --architecture small_cnn --size 64 --naive-images 100

Dissects every convolutional layer (the ReLU after each conv) of a network with random
weights (seed 0) on generated faces (``facegen``; chunks of 50 identities, one view each, from
consecutive seeds, rendered in parallel) with their part masks at image resolution. For each
image count in ``--images`` a fresh process runs the streamed path (three threshold passes and
one counting pass) and reports images/s, units x images/s, peak host memory (ru_maxrss), the
bytes of its outputs and dictionary (which grow with N by design) and the peak accelerator
memory. Runs use a fixed glibc mmap threshold (``--mmap-threshold``, see README). A last
process runs the naive reimplementation (all activations in memory,
``np.quantile`` and a Python loop per unit and part) and the streamed path on the first
``--naive-images`` images and checks that every threshold and count is identical.
Targets: >= 10x the naive throughput, flat peak memory, identical scores.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from facegen import make_dataset
from facegen.dictionary import PART_GROUPS
from facegen.render import PART_NAMES
from modelsvc.architectures import get_architecture
from modelsvc.dissection import build_dictionary
from modelsvc.dissection.activations import dissect_units
from modelsvc.dissection.reference import naive_dissect_units

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CHUNK = 50


def main() -> None:
    args = _arguments()
    if args.single is not None:
        print(json.dumps(_single(args, args.single, naive=args.naive_run)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        args.data = tmp
        started = time.perf_counter()
        _render(args.data, max(args.images), args.size, args.workers)
        render_s = time.perf_counter() - started
        runs = [_child(args, n, naive=False) for n in args.images]
        naive = _child(args, args.naive_images, naive=True)
    result = {
        "mmap_threshold": args.mmap_threshold,
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cpus",
        "device": runs[0]["device"],
        "architecture": args.architecture,
        "size": args.size,
        "render_s": render_s,
        "runs": runs,
        "naive": naive,
        "speedup": runs[-1]["images_per_s"] / naive["naive_images_per_s"],
        "load_average_after": os.getloadavg(),
    }
    _report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


def _render(path: str, n_images: int, size: int, workers: int) -> None:
    """Render `n_images` faces (chunks of CHUNK identities from seeds 0, 1, ...) into the
    folder `path` (``images.npy``, ``maps.npy``)."""
    seeds = range((n_images + CHUNK - 1) // CHUNK)
    with ProcessPoolExecutor(workers) as pool:
        chunks = list(pool.map(_render_chunk, seeds, [size] * len(seeds)))
    images = np.concatenate([c[0] for c in chunks])[:n_images]
    maps = np.concatenate([c[1] for c in chunks])[:n_images]
    np.save(Path(path) / "images.npy", images)
    np.save(Path(path) / "maps.npy", maps)


def _render_chunk(seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    samples = make_dataset(n_identities=CHUNK, images_per_identity=1, size=size, seed=seed)
    return np.stack([np.asarray(s.image) for s in samples]), np.stack([s.parts for s in samples])


def _child(args: argparse.Namespace, n_images: int, *, naive: bool) -> dict:
    command = [sys.executable, __file__, "--single", str(n_images), "--data", args.data]
    command += ["--architecture", args.architecture, "--size", str(args.size)]
    command += ["--device", args.device, "--batch", str(args.batch), "--threads", str(args.threads)]
    command += ["--naive-run"] if naive else []
    env = dict(os.environ)
    if args.mmap_threshold:
        env["MALLOC_MMAP_THRESHOLD_"] = str(args.mmap_threshold)
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise SystemExit(f"child run failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _single(args: argparse.Namespace, n_images: int, *, naive: bool) -> dict:
    device = torch.device(
        args.device if args.device != "auto" else "cuda" if torch.cuda.is_available() else "cpu"
    )
    torch.set_num_threads(args.threads)
    data = {k: np.load(Path(args.data) / f"{k}.npy", mmap_mode="r") for k in ("images", "maps")}
    dictionary = build_dictionary(
        names=[str(i) for i in range(n_images)],
        label_maps=data["maps"][:n_images],
        part_names=PART_NAMES,
        part_groups=PART_GROUPS,
        min_positives=1,
    )
    torch.manual_seed(0)
    model = get_architecture(args.architecture).build(10).eval().to(device)
    layers = _conv_layers(model)
    units = sum(_conv_width(model, name) for name in layers)
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1)

    def batches():
        for start in range(0, n_images, args.batch):
            pixels = torch.from_numpy(
                np.array(data["images"][start : min(start + args.batch, n_images)])
            )
            images = pixels.to(device).permute(0, 3, 1, 2).float() / 255
            yield (images - mean) / std

    result = {"images": n_images, "units": units, "layers": len(layers), "device": str(device)}
    if device.type == "cuda":
        result["device"] = torch.cuda.get_device_name(device)
        torch.cuda.reset_peak_memory_stats(device)
    kwargs = {"layers": layers, "batches": batches, "dictionary": dictionary}
    started = time.perf_counter()
    streamed = dissect_units(model, **kwargs)
    _sync(device)
    seconds = time.perf_counter() - started
    result |= {
        "seconds": seconds,
        "images_per_s": n_images / seconds,
        "unit_images_per_s": units * n_images / seconds,
        "output_bytes": sum(a.nbytes for c in streamed.values() for a in vars(c).values()),
        "dictionary_bytes": dictionary.label_maps.nbytes,
    }
    if device.type == "cuda":
        result["peak_gpu_bytes"] = torch.cuda.max_memory_allocated(device)
    if naive:
        started = time.perf_counter()
        reference = naive_dissect_units(model, **kwargs)
        _sync(device)
        naive_seconds = time.perf_counter() - started
        differing = {
            field: int(
                sum(
                    (getattr(streamed[n], field) != getattr(reference[n], field)).sum()
                    for n in layers
                )
            )
            for field in ("threshold", "intersection", "activated", "part_area")
        }
        result |= {
            "naive_seconds": naive_seconds,
            "naive_images_per_s": n_images / naive_seconds,
            "differing_values": differing,
            "max_response_difference": max(
                float(np.abs(streamed[n].response - reference[n].response).max()) for n in layers
            ),
        }
    result["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return result


def _conv_layers(model: nn.Module) -> list[str]:
    """The ReLU after every convolution (post-activation maps, as Network Dissection)."""
    modules = list(model.named_modules())
    return [
        name
        for (_, before), (name, module) in itertools.pairwise(modules)
        if isinstance(before, nn.Conv2d) and isinstance(module, nn.ReLU)
    ]


def _conv_width(model: nn.Module, relu: str) -> int:
    modules = list(model.named_modules())
    index = [n for n, _ in modules].index(relu)
    return modules[index - 1][1].out_channels


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _report(result: dict) -> None:
    print(f"machine: {result['machine']}; device: {result['device']}")
    print(f"MALLOC_MMAP_THRESHOLD_={result['mmap_threshold'] or 'glibc default'}")
    print(
        f"{result['architecture']} at {result['size']} px; rendered in {result['render_s']:.1f} s"
    )
    for run in result["runs"]:
        gpu = (
            f", peak GPU {run['peak_gpu_bytes'] / 2**20:.0f} MiB" if "peak_gpu_bytes" in run else ""
        )
        print(
            f"streamed, {run['images']} images x {run['units']} units ({run['layers']} layers): "
            f"{run['seconds']:.1f} s = {run['images_per_s']:.1f} images/s = "
            f"{run['unit_images_per_s']:.3g} units x images/s; peak RSS "
            f"{run['peak_rss_bytes'] / 2**20:.0f} MiB (outputs "
            f"{run['output_bytes'] / 2**20:.0f} MiB, masks "
            f"{run['dictionary_bytes'] / 2**20:.0f} MiB)"
            f"{gpu}"
        )
    naive = result["naive"]
    print(
        f"naive on {naive['images']} images: {naive['naive_seconds']:.1f} s = "
        f"{naive['naive_images_per_s']:.2f} images/s (streamed on the same images: "
        f"{naive['seconds']:.1f} s)"
    )
    print(
        f"differing values streamed vs naive: {naive['differing_values']}; max |response "
        f"difference| {naive['max_response_difference']:.2g}"
    )
    print(
        f"speedup (streamed at {result['runs'][-1]['images']} images vs naive): "
        f"{result['speedup']:.1f}x"
    )
    print(f"load average after: {result['load_average_after'][0]:.2f}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", default="vgg16")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--images", type=int, nargs="+", default=[250, 1000])
    parser.add_argument("--naive-images", type=int, default=10)
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--mmap-threshold",
        type=int,
        default=1_000_000,
        help="glibc MALLOC_MMAP_THRESHOLD_ of the runs (0: glibc's dynamic default, under "
        "which freed per-batch buffers fragment the heap and RSS creeps up with N)",
    )
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--single", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--naive-run", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    main()
