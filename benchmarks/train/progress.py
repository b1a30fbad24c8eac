"""The training engine's epoch progress bar."""

from __future__ import annotations

import sys


def progress_bar(enabled: bool | None, total: int, initial: int):
    """An epochs bar on stderr (tqdm) if `enabled` (None: when stderr is a terminal), else None."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="epochs", unit="ep", leave=False)
