"""Content balancing toward target domain proportions, largest deficit first.

Pure Python over the handful of domains (numpy's per-call overhead would dominate at this size).
"""

from __future__ import annotations


def deficits(given: list[int], targets: list[float]) -> list[float]:
    """How far each domain is behind its share of the next item: ``target * (n + 1) - given``."""
    n = sum(given)
    return [t * (n + 1) - g for g, t in zip(given, targets, strict=True)]


def content_order(given: list[int], targets: list[float], tolerance: float = 0.0) -> list[list[int]]:
    """Groups of domains to draw the next item from, best first: the largest deficit first;
    domains within ``tolerance`` items of each other share a group (0: strict largest deficit,
    ties pooled so the selector can take the most informative item among them). Domains with a
    zero target never appear. The caller falls through to the next group when a group has no
    eligible item left."""
    following = sum(given) + 1
    ranked = sorted([(t * following - g, d) for d, (g, t) in enumerate(zip(given, targets, strict=True)) if t > 0])
    ranked.reverse()  # largest deficit first (ties: the higher index first, as before)
    groups: list[list[int]] = []
    heads: list[float] = []
    for deficit, d in ranked:
        if heads and heads[-1] - deficit <= tolerance + 1e-9:
            groups[-1].append(d)
        else:
            groups.append([d])
            heads.append(deficit)
    return groups


def uncovered(given: list[int], targets: list[float]) -> int:
    """How many domains with a positive target have not had an item yet."""
    return sum(1 for g, t in zip(given, targets, strict=True) if t > 0 and g == 0)


def first_group(given: list[int], targets: list[float], n: int, tolerance: float = 0.0) -> list[int]:
    """``content_order(given, targets, tolerance)[0]`` (``[]`` when no domain has a target), without
    ranking the others: ``n`` is ``sum(given)``. The step asks for the rest only when this group has
    no eligible item left. (Plain loops: with cold caches every comprehension is one more code
    object to fetch.)

    The group is every targeted domain within ``tolerance`` of the largest deficit, in
    ``content_order``'s order: deficit first, then the higher index (so, collected from the highest
    index down, it needs sorting only when its deficits differ)."""
    following = n + 1
    top, best = 0.0, -1
    for d in range(len(targets)):
        t = targets[d]
        if t > 0:
            x = t * following - given[d]
            if best < 0 or x >= top:
                top, best = x, d
    if best < 0:
        return []
    floor = tolerance + 1e-9
    group = []
    uneven = False
    for d in range(len(targets) - 1, -1, -1):
        t = targets[d]
        if t > 0:
            x = t * following - given[d]
            if top - x <= floor:
                group.append(d)
                uneven = uneven or x != top
    if uneven:
        group.sort(key=lambda d: targets[d] * following - given[d], reverse=True)  # stable: ties keep the order
    return group
