"""`Monitor`: how training is watched while it runs (never what it computes).

Bound in gin (`Monitor.epoch_lines = True` in the paper tier) and built once per cell by
`benchmarks.compose`; `hyperens run/matrix --tensorboard DIR` sets `tensorboard_dir` (the flag is
not part of the configuration text, so it changes no run id). Neither field is part of a trial's
identity: watching changes no number.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Monitor:
    """epoch_lines: print one line per trained epoch to stderr (epoch, train loss, val NLL, val
    accuracy, seconds); tensorboard_dir: write per-epoch TensorBoard scalars under this directory
    (`<trial key>/` per trial, `<run id>/member_<m>/` per run member); None: off."""

    epoch_lines: bool = False
    tensorboard_dir: str | None = None
