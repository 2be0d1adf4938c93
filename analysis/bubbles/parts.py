"""Where a classification image's significant pixels lie, by face part.

Stimuli with part masks (label maps, e.g. facegen's eyes, nose, mouth) give each stimulus group
a per-part *presence* map: the share of the group's images that have the part at each pixel
(`group_part_presence`).  `part_shares` then compares, per part, the share of the significant
pixels that fall on the part (each pixel counted by the part's presence there) with the part's
share of the image area: a part the observers used holds far more of the significant pixels
than of the area (ratio above 1).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis._checks import fail

PartPresence = dict[str, np.ndarray]  # part name -> (H, W) share of the group's images


def group_part_presence(
    part_masks: Mapping[str, np.ndarray],
    part_labels: Mapping[int, str],
    groups: Mapping[str, str] | None = None,
) -> dict[str, PartPresence]:
    """{group: {part: presence map}} from per-stimulus label maps (stimulus name -> (H, W)).

    `groups` maps stimulus names to groups as in `participant_accumulators` (None: one group
    "all"); stimuli it does not name are left out.  Labels absent from `part_labels` (e.g. the
    background) get no map.
    """
    shapes = {np.shape(m) for m in part_masks.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise fail("group_part_presence", "part_masks", "2-D label maps of one shape", shapes)
    members: dict[str, list[np.ndarray]] = {}
    for name, labels in part_masks.items():
        group = "all" if groups is None else groups.get(name)
        if group is not None:
            members.setdefault(group, []).append(np.asarray(labels))
    return {
        group: {
            part: np.mean([labels == code for labels in maps], axis=0)
            for code, part in part_labels.items()
        }
        for group, maps in members.items()
    }


def part_shares(significant: np.ndarray, presence: PartPresence) -> pd.DataFrame:
    """Per part: its share of the significant pixels, of the image area, and their ratio."""
    significant = np.asarray(significant, dtype=bool)
    rows = []
    for part, present in presence.items():
        if present.shape != significant.shape:
            raise fail("part_shares", "presence", f"maps of shape {significant.shape}", part)
        area = float(present.mean())
        share = float(present[significant].sum() / significant.sum()) if significant.any() else 0.0
        rows.append(
            {
                "part": part,
                "significant_share": share,
                "area_share": area,
                "ratio": share / area if area > 0 else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=["part", "significant_share", "area_share", "ratio"])
