"""A relevance job through Celery vs calling modelsvc directly, on the same images, one run.

    .venv/bin/python benchmarks/jobs.py [--architecture vgg16] [--size 224] [--images 48]

Both paths load the model, read the images from storage and compute epsilon_plus_flat maps
in calls of the job batch size (the worker's model call size too); the queue path adds
planning, one task per batch, storing each batch and merging them into the artifact, with
one worker (concurrency 1) on this host.
Each path runs twice: in a fresh process ("cold": imports, first model load, the relevance
fast path's cached weights) and again in the same process ("warm"; the second queue job is on
a copy of the set, so it cannot reuse the first job's artifact).  Also printed: seconds from
launch to the first progress.  Target (issue 4): overhead <= 10 %.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench_django import BENCH_DATABASE_URL, bench_environment, setup_django

import facegen

BROKER = os.environ.get("FACESIM_BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", default="vgg16")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    sizes = {"FACESIM_JOB_BATCH_SIZE": str(args.batch), "FACESIM_MODEL_CALL_SIZE": str(args.batch)}
    os.environ.update({"CELERY_BROKER_URL": BROKER, **sizes})
    setup_django()

    from modelsvc import ModelSpec, compute_relevance, load_model, map_over_images
    from studyapp.services.face_models import face_model_register
    from studyapp.services.jobs import job_launch
    from studyapp.services.stimuli import stimulus_set_import
    from studyapp.stimulus_sources import files_from_folder
    from tasks.items import stimulus_items
    from tasks.model_cache import model_spec
    from tests.worker import Worker, purge_broker

    stamp = time.strftime("%Y%m%d-%H%M%S")
    with tempfile.TemporaryDirectory() as folder:
        facegen.write_dataset(
            folder, n_identities=args.images // 4, images_per_identity=4, size=128
        )
        files = files_from_folder(Path(folder), max_files=10_000, max_total_bytes=10**9)
        faces, _ = stimulus_set_import(name=f"bench-jobs-{stamp}", files=files)
        # the same images again: a second job that cannot reuse the first one's artifact
        files = files_from_folder(Path(folder), max_files=10_000, max_total_bytes=10**9)
        faces_again, _ = stimulus_set_import(name=f"bench-jobs-{stamp}-again", files=files)
    spec = ModelSpec(
        architecture=args.architecture,
        num_classes=2,
        input_size=(args.size, args.size),
        class_names=("female", "male"),
        task="gender",
    )
    face_model = face_model_register(name=f"bench {args.architecture} {stamp}", spec=spec)
    ids = list(faces.stimuli.order_by("pk").values_list("pk", flat=True))

    def direct_run() -> float:
        started = time.perf_counter()
        spec_used = model_spec(face_model)
        model = load_model(spec_used, "cpu")
        items = stimulus_items(ids)
        targets = [spec_used.class_names.index(item.labels["gender"]) for item in items]
        map_over_images(
            items,
            spec_used.input_size,
            lambda images, idx: (
                compute_relevance(model, spec_used, images, targets=[targets[i] for i in idx]).maps
            ),
            args.batch,
        )
        return time.perf_counter() - started

    direct = []
    for attempt in ("cold", "warm"):
        direct.append(direct_run())
        print(f"direct modelsvc, {attempt} process: {len(ids) / direct[-1]:.2f} images/s")

    purge_broker()  # the benchmark's own Redis database
    environment = {
        **os.environ,
        **bench_environment(),
        "DATABASE_URL": BENCH_DATABASE_URL,
        "CELERY_BROKER_URL": BROKER,
        **sizes,
    }
    log = Path(tempfile.mkdtemp()) / "worker.log"
    worker = Worker(environment, log, name="bench").start()
    queued = []
    try:
        for attempt, stimulus_set in (("cold", faces), ("warm", faces_again)):
            seconds, first_progress, job = queue_run(job_launch, stimulus_set, face_model)
            queued.append(seconds)
            print(
                f"through the queue, {attempt} worker: {len(ids)} images in {seconds:.1f} s = "
                f"{len(ids) / seconds:.2f} images/s ({job.batches.count()} batches of "
                f"{args.batch}); launch to first progress {first_progress:.2f} s"
            )
    finally:
        worker.stop()
    for attempt, q, d in zip(("cold", "warm"), queued, direct, strict=True):
        print(f"queue overhead, {attempt}: {100 * (q / d - 1):+.1f} % (ratio {q / d:.3f})")


def queue_run(job_launch, stimulus_set, face_model):
    """Launch a relevance job and wait: (seconds to finished, seconds to first progress, job)."""
    from studyapp.models import Job

    launched = time.perf_counter()
    job = job_launch(kind="relevance", stimulus_set=stimulus_set, face_models=[face_model])
    first_progress = None
    while True:
        job.refresh_from_db()
        if first_progress is None and job.progress_done > 0:
            first_progress = time.perf_counter() - launched
        if job.is_finished:
            break
        time.sleep(0.02)
    if job.status != Job.Status.SUCCEEDED:
        raise SystemExit(f"job failed: {job.error}")
    return time.perf_counter() - launched, first_progress, job


if __name__ == "__main__":
    main()
