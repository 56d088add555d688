"""Item calibration by marginal maximum likelihood with the EM algorithm (Bock & Aitkin 1981).

Adaptive tests produce a sparse response matrix: every examinee answers a few items of a large
bank. The E-step therefore works on a mask of observed responses: each examinee's posterior over a
fixed quadrature grid uses only the items they answered, and the expected counts of every item
gather only the examinees who answered it. The M-step maximises each item's expected complete-data
log likelihood with a few Fisher-scoring steps, vectorised across items, with weak priors
(log a ~ N(0, 0.5^2), b ~ N(0, 2^2) and, for 3PL, c ~ Beta(2, 20) unless the caller gives
another) that keep items seen by few
examinees finite. The ability distribution is fixed at N(0, 1), which sets the scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from services.placement.domain.cat.model import Array, prob

LOG_A_SD, B_SD = 0.5, 2.0
# The default Beta prior on c: mode .05, mean .09, weak (22 pseudo-observations); unlike Beta(5, 17)
# (mode .2) it does not pull the guessing of low-guessing banks (and a and b with it) upwards.
C_PRIOR = (2.0, 20.0)


@dataclass
class Calibration:
    a: Array
    b: Array
    c: Array
    se_a: Array
    se_b: Array
    se_c: Array
    n: NDArray[np.int64]  # responses per item
    chi2: Array  # item fit: sum over quadrature groups of (r - nP)^2 / (nP(1-P)), expected counts
    df: NDArray[np.int64]
    iterations: int
    converged: bool
    log_likelihood: float


def _expected(
    a: Array, b: Array, c: Array, cells: _Cells, nodes: Array, log_w: Array, block: int = 0
) -> tuple[Array, Array, float]:
    """E-step over the observed cells only: each examinee's posterior on the quadrature nodes from
    the items they answered, then the expected number answering (n) and answering right (r) per
    item and node. Examinees are taken in blocks, each expanded to a small dense block (block x
    items), so memory stays bounded however many examinees there are, and the sums are BLAS
    matrix products."""
    p = prob(nodes[None, :], a[:, None], b[:, None], c[:, None])  # items x nodes
    log_p, log_q = np.log(p), np.log1p(-p)
    n_items = len(a)
    n = np.zeros((n_items, len(nodes)))
    r = np.zeros((n_items, len(nodes)))
    marginal = 0.0
    block = block or max(256, 2_000_000 // max(n_items, 1))
    for lo in range(0, cells.people, block):
        hi = min(lo + block, cells.people)
        first, last = np.searchsorted(cells.person, [lo, hi])
        rows = cells.person[first:last] - lo
        cols = cells.item[first:last]
        seen = np.zeros((hi - lo, n_items))
        right = np.zeros((hi - lo, n_items))
        seen[rows, cols] = 1.0
        right[rows, cols] = cells.correct[first:last]
        loglik = right @ log_p + (seen - right) @ log_q + log_w[None, :]
        top = loglik.max(axis=1, keepdims=True)
        post = np.exp(loglik - top)
        total = post.sum(axis=1, keepdims=True)
        post /= total
        marginal += float((np.log(total[:, 0]) + top[:, 0]).sum())
        n += seen.T @ post
        r += right.T @ post
    return n, r, marginal


def _derivatives(a: Array, b: Array, c: Array, nodes: Array, three_pl: bool) -> tuple[Array, Array]:
    """P (items x nodes) and dP/d(log a, b[, c]) (items x nodes x k)."""
    z = a[:, None] * (nodes[None, :] - b[:, None])
    s = 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))
    p = np.clip(c[:, None] + (1 - c[:, None]) * s, 1e-9, 1 - 1e-9)
    ds = (1 - c[:, None]) * s * (1 - s)
    parts = [ds * (nodes[None, :] - b[:, None]) * a[:, None], -ds * a[:, None]] + ([1 - s] if three_pl else [])
    return p, np.stack(parts, axis=2)


def _observed_information(
    a: Array, b: Array, c: Array, cells: _Cells, nodes: Array, log_w: Array, three_pl: bool, block: int = 0
) -> Array:
    """Each item's observed information from the data actually seen (items x k x k): the sum over
    the examinees who answered it of the outer product of their marginal score, the score of
    log P(answer | theta) averaged over that examinee's posterior (Louis' identity for the item's
    own parameters: complete-data information minus the missing information, estimated by the
    cross-product of the observed scores). Unlike the expected complete-data information of the
    M-step, it knows how little a sparse, adaptive design tells about each examinee's ability."""
    p, dp = _derivatives(a, b, c, nodes, three_pl)
    log_p, log_q = np.log(p), np.log1p(-p)
    n_items, k = len(a), dp.shape[2]
    xpd = np.zeros((n_items, k, k))
    block = block or max(256, 2_000_000 // max(n_items, 1))
    for lo in range(0, cells.people, block):
        hi = min(lo + block, cells.people)
        first, last = np.searchsorted(cells.person, [lo, hi])
        rows = cells.person[first:last] - lo
        cols = cells.item[first:last]
        right = cells.correct[first:last]
        seen = np.zeros((hi - lo, n_items))
        won = np.zeros((hi - lo, n_items))
        seen[rows, cols] = 1.0
        won[rows, cols] = right
        loglik = won @ log_p + (seen - won) @ log_q + log_w[None, :]
        post = np.exp(loglik - loglik.max(axis=1, keepdims=True))
        post /= post.sum(axis=1, keepdims=True)
        # d log P(x) / dP = 1/P for a right answer, -1/(1-P) for a wrong one
        weight = np.where(right[:, None], 1.0 / p[cols], -1.0 / (1.0 - p[cols])) * post[rows]  # cells x nodes
        score = np.einsum("cq,cqk->ck", weight, dp[cols])
        np.add.at(xpd, cols, score[:, :, None] * score[:, None, :])
    return xpd


@dataclass(frozen=True)
class _Cells:
    person: NDArray[np.int64]
    item: NDArray[np.int64]
    correct: NDArray[np.bool_]
    people: int


def _m_step(
    a: Array,
    b: Array,
    c: Array,
    n: Array,
    r: Array,
    nodes: Array,
    three_pl: bool,
    steps: int = 4,
    c_prior: tuple[float, float] = C_PRIOR,
) -> tuple[Array, Array, Array, Array]:
    """Fisher scoring per item on (log a, b[, c]); returns new a, b, c and the inverse information."""
    k = 3 if three_pl else 2
    inv: Array = np.zeros((len(a), k, k))
    for _ in range(steps):
        z = a[:, None] * (nodes[None, :] - b[:, None])
        s = 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))
        p = np.clip(c[:, None] + (1 - c[:, None]) * s, 1e-9, 1 - 1e-9)
        resid = (r - n * p) / (p * (1 - p))
        ds = (1 - c[:, None]) * s * (1 - s)
        d_loga = ds * (nodes[None, :] - b[:, None]) * a[:, None]
        d_b = -ds * a[:, None]
        derivs = [d_loga, d_b] + ([1 - s] if three_pl else [])
        grad = np.stack([(resid * d).sum(axis=1) for d in derivs], axis=1)
        weight = n / (p * (1 - p))
        info = np.empty((len(a), k, k))
        for i in range(k):
            for j in range(i, k):
                info[:, i, j] = info[:, j, i] = (weight * derivs[i] * derivs[j]).sum(axis=1)
        # priors (gradient and curvature of the log prior)
        loga = np.log(a)
        grad[:, 0] -= loga / LOG_A_SD**2
        info[:, 0, 0] += 1 / LOG_A_SD**2
        grad[:, 1] -= b / B_SD**2
        info[:, 1, 1] += 1 / B_SD**2
        if three_pl:
            cc = np.clip(c, 1e-4, 0.5 - 1e-4)
            alpha, beta = c_prior
            grad[:, 2] += (alpha - 1) / cc - (beta - 1) / (1 - cc)
            info[:, 2, 2] += (alpha - 1) / cc**2 + (beta - 1) / (1 - cc) ** 2
        info += np.eye(k)[None] * 1e-6
        delta = np.linalg.solve(info, grad[:, :, None])[:, :, 0]
        delta = np.clip(delta, -0.5, 0.5)
        loga = np.clip(loga + delta[:, 0], np.log(0.05), np.log(6.0))
        a = np.exp(loga)
        b = np.clip(b + delta[:, 1], -6.0, 6.0)
        if three_pl:
            c = np.clip(c + delta[:, 2] * 0.5, 1e-4, 0.45)
        inv = np.asarray(np.linalg.inv(info), dtype=np.float64)
    return a, b, c, inv


def calibrate(
    responses: NDArray[np.float64],
    observed: NDArray[np.bool_],
    three_pl: bool = False,
    start: tuple[Array, Array, Array] | None = None,
    max_iterations: int = 100,
    tolerance: float = 1e-3,
    nodes: int = 41,
    c_prior: tuple[float, float] | None = None,
) -> Calibration:
    """Estimate item parameters from a persons x items matrix (``observed`` marks answered cells)."""
    person, item = np.nonzero(observed)
    return calibrate_cells(
        person,
        item,
        responses[person, item] > 0.5,
        observed.shape[0],
        observed.shape[1],
        three_pl,
        start,
        max_iterations,
        tolerance,
        nodes,
        c_prior=c_prior,
    )


def calibrate_cells(
    person: NDArray[np.int64],
    item: NDArray[np.int64],
    correct: NDArray[np.bool_],
    people: int,
    items: int,
    three_pl: bool = False,
    start: tuple[Array, Array, Array] | None = None,
    max_iterations: int = 100,
    tolerance: float = 1e-3,
    nodes: int = 41,
    block: int = 0,
    c_prior: tuple[float, float] | None = None,
) -> Calibration:
    """Estimate item parameters from the answered cells only (examinee, item, right?): the sparse
    form adaptive tests produce, where each examinee saw a few items of a large bank."""
    order = np.argsort(person, kind="stable")  # a block of examinees is then a contiguous run of cells
    cells = _Cells(
        np.asarray(person, dtype=np.int64)[order],
        np.asarray(item, dtype=np.int64)[order],
        np.asarray(correct, dtype=bool)[order],
        people,
    )
    grid = np.linspace(-5.0, 5.0, nodes)
    log_w = -0.5 * grid**2
    log_w -= np.log(np.exp(log_w).sum())
    seen = np.bincount(cells.item, minlength=items).astype(np.float64)
    if start is None:
        right = np.bincount(cells.item, weights=cells.correct.astype(np.float64), minlength=items)
        pc = np.clip(right / np.maximum(seen, 1.0), 0.05, 0.95)
        a, b, c = np.ones(items), -np.log(pc / (1 - pc)), np.full(items, 0.2 if three_pl else 0.0)
    else:
        a, b, c = (np.array(x, dtype=np.float64) for x in start)
        c = np.clip(c, 1e-4, 0.45) if three_pl else np.zeros(items)
    converged, it = False, 0
    inv: Array = np.zeros((items, 3 if three_pl else 2, 3 if three_pl else 2))
    for it in range(1, max_iterations + 1):  # noqa: B007
        n_q, r_q, _ = _expected(a, b, c, cells, grid, log_w, block)
        new_a, new_b, new_c, inv = _m_step(a, b, c, n_q, r_q, grid, three_pl, c_prior=c_prior or C_PRIOR)
        change = max(np.abs(new_a - a).max(), np.abs(new_b - b).max(), np.abs(new_c - c).max())
        a, b, c = new_a, new_b, new_c
        if change < tolerance:
            converged = True
            break
    n_q, r_q, marginal = _expected(a, b, c, cells, grid, log_w, block)
    p = prob(grid[None, :], a[:, None], b[:, None], c[:, None])
    keep = n_q > 0.5
    chi = np.where(keep, (r_q - n_q * p) ** 2 / np.maximum(n_q * p * (1 - p), 1e-9), 0.0).sum(axis=1)
    df = np.maximum(keep.sum(axis=1) - (3 if three_pl else 2), 1)
    # standard errors from the observed information (missing data accounted for) plus the priors
    info = _observed_information(a, b, c, cells, grid, log_w, three_pl, block)
    info[:, 0, 0] += 1 / LOG_A_SD**2
    info[:, 1, 1] += 1 / B_SD**2
    if three_pl:
        alpha, beta = c_prior or C_PRIOR
        cc = np.clip(c, 1e-4, 0.5 - 1e-4)
        info[:, 2, 2] += (alpha - 1) / cc**2 + (beta - 1) / (1 - cc) ** 2
    info += np.eye(info.shape[1])[None] * 1e-6
    inv = np.asarray(np.linalg.inv(info), dtype=np.float64)
    se = np.sqrt(np.clip(np.diagonal(inv, axis1=1, axis2=2), 0, None))
    return Calibration(
        a=a,
        b=b,
        c=c,
        se_a=se[:, 0] * a,  # delta method from log a
        se_b=se[:, 1],
        se_c=se[:, 2] if three_pl else np.zeros(items),
        n=seen.astype(np.int64),
        chi2=chi,
        df=df.astype(np.int64),
        iterations=it,
        converged=converged,
        log_likelihood=marginal,
    )


def review(
    items: list[tuple[str, str, float, float, float]], cal: Calibration, min_responses: int, three_pl: bool
) -> list[dict[str, Any]]:
    """A draft's rows, one per item (id, code, a, b, c): old beside new parameters with standard
    errors and fit; items with fewer than ``min_responses`` answers keep their parameters."""
    out: list[dict[str, Any]] = []
    for k, (item_id, code, a, b, c) in enumerate(items):
        old = {"a": a, "b": b, "c": c}
        n = int(cal.n[k])
        row: dict[str, Any] = {"item_id": item_id, "code": code, "responses": n, "old": old}
        if n < min_responses:
            row.update(new=None, standard_errors=None, fit_chi2=None, fit_df=None, fit_p_flag=None)
            row["note"] = f"kept: fewer than {min_responses} responses"
            out.append(row)
            continue
        chi2, df = float(cal.chi2[k]), int(cal.df[k])
        row["new"] = {
            "a": round(float(cal.a[k]), 4),
            "b": round(float(cal.b[k]), 4),
            "c": round(float(cal.c[k]), 4) if three_pl else c,
        }
        row["standard_errors"] = {
            "a": round(float(cal.se_a[k]), 4),
            "b": round(float(cal.se_b[k]), 4),
            "c": round(float(cal.se_c[k]), 4),
        }
        row["fit_chi2"] = round(chi2, 3)
        row["fit_df"] = df
        # a rough flag: chi-square beyond mean + 3 SD of its reference distribution
        row["fit_p_flag"] = bool(chi2 > df + 3 * (2 * df) ** 0.5)
        row["note"] = ""
        out.append(row)
    return out
