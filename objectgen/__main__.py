"""Command line: ``python -m objectgen OUTDIR [--per-class K] [--size S] [--seed S] ...``."""

from __future__ import annotations

import argparse
import sys

from objectgen.classes import CLASSES
from objectgen.dataset import write_dataset


def main(argv: list[str] | None = None) -> int:
    """Write a generated object dataset and print what was written."""
    parser = argparse.ArgumentParser(
        prog="python -m objectgen", description="Write a generated non-face object dataset."
    )
    parser.add_argument("outdir", help="output directory (must be empty or not exist)")
    parser.add_argument("--per-class", type=int, default=8, help="images per class (default 8)")
    parser.add_argument(
        "--classes", type=int, default=len(CLASSES), help=f"classes (default {len(CLASSES)})"
    )
    parser.add_argument("--size", type=int, default=128, help="width and height (default 128)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    try:
        root = write_dataset(
            args.outdir,
            images_per_class=args.per_class,
            n_classes=args.classes,
            size=args.size,
            seed=args.seed,
        )
    except ValueError as error:
        parser.error(str(error))
    print(
        f"Wrote {args.classes * args.per_class} object images ({args.classes} classes x "
        f"{args.per_class}, {args.size}x{args.size} px, seed {args.seed}) to {root}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
