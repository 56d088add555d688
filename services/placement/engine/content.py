"""Content balancing toward target domain proportions, largest deficit first."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def domain_deficits(given: NDArray[np.int64], targets: NDArray[np.float64]) -> NDArray[np.float64]:
    """How far each domain is behind its share of the next item: ``target * (n + 1) - given``."""
    n = int(given.sum())
    return np.asarray(targets * (n + 1) - given, dtype=np.float64)


def allowed_domains(
    given: NDArray[np.int64], targets: NDArray[np.float64], available: NDArray[np.bool_], tolerance: float = 0.0
) -> NDArray[np.bool_]:
    """Domains the next item may come from: those (with items available) within ``tolerance`` of
    the largest deficit. ``tolerance`` 0 is strict largest-deficit-first; ties are all allowed so
    the selector can take the most informative item among them."""
    deficits = domain_deficits(given, targets)
    deficits = np.where(available & (targets > 0), deficits, -np.inf)
    top = deficits.max()
    if not np.isfinite(top):
        return np.asarray(available)
    return np.asarray(deficits >= top - tolerance - 1e-9)


def uncovered(given: NDArray[np.int64], targets: NDArray[np.float64]) -> int:
    """How many domains with a positive target have not had an item yet."""
    return int(((given == 0) & (targets > 0)).sum())
