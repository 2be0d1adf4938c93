"""Command line: ``python -m facegen OUTDIR [--identities N] [--per-identity K] [--seed S] ...``."""

from __future__ import annotations

import argparse
import sys

from facegen.dataset import write_dataset


def main(argv: list[str] | None = None) -> int:
    """Write a generated face dataset and print what was written."""
    parser = argparse.ArgumentParser(
        prog="python -m facegen", description="Write a generated face dataset."
    )
    parser.add_argument("outdir", help="output directory (must be empty or not exist)")
    parser.add_argument(
        "--identities", type=int, default=12, help="number of identities (default 12)"
    )
    parser.add_argument(
        "--per-identity", type=int, default=4, help="images per identity (default 4)"
    )
    parser.add_argument(
        "--size", type=int, default=128, help="image width and height in pixels (default 128)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--glasses-rate",
        type=float,
        default=0.3,
        help="share of identities with glasses (default 0.3)",
    )
    parser.add_argument(
        "--view-variation",
        type=float,
        default=1.0,
        help="scale of the per-image nuisance variation, 0-1.5 (default 1)",
    )
    args = parser.parse_args(argv)
    try:
        root = write_dataset(
            args.outdir,
            n_identities=args.identities,
            images_per_identity=args.per_identity,
            size=args.size,
            seed=args.seed,
            glasses_rate=args.glasses_rate,
            view_variation=args.view_variation,
        )
    except ValueError as error:
        parser.error(str(error))
    n_images = args.identities * args.per_identity
    print(
        f"Wrote {n_images} face images ({args.identities} identities x {args.per_identity} views, "
        f"{args.size}x{args.size} px, seed {args.seed}) to {root}:\n"
        f"  images/ ({n_images} PNG), masks/ ({n_images} PNG label maps), "
        "metadata.csv, parts.json, params.json"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
