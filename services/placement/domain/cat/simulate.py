"""Simulated examinees through the real engine (used by `lms placement simulate` and bench/)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from services.placement.domain.cat.cat import Bank, TestConfig, TestState, step
from services.placement.domain.cat.model import prob
from services.placement.domain.cat.stopper import level_of


@dataclass
class SimulationReport:
    examinees: int
    exact_accuracy: float
    within_one_accuracy: float
    mean_length: float
    p95_length: float
    rmse: float
    max_exposure: float
    step_p50_us: float
    step_p95_us: float
    stop_reasons: dict[str, int]
    levels: list[int]
    lengths: list[int]
    assigned_probs: list[float]  # each examinee's posterior probability of the level assigned
    max_length: int = 0
    pretest_per_examinee: float = 0.0

    def figures(self) -> dict[str, object]:
        return {
            "examinees": self.examinees,
            "exact_level_accuracy": round(self.exact_accuracy, 4),
            "within_one_level_accuracy": round(self.within_one_accuracy, 4),
            "mean_length": round(self.mean_length, 2),
            "p95_length": round(self.p95_length, 1),
            "ability_rmse": round(self.rmse, 4),
            "max_exposure_rate": round(self.max_exposure, 4),
            "step_p50_us": round(self.step_p50_us, 1),
            "step_p95_us": round(self.step_p95_us, 1),
            "stop_reasons": self.stop_reasons,
        }


def simulate(
    bank: Bank,
    cfg: TestConfig,
    examinees: int,
    seed: int,
    thetas: np.ndarray | None = None,
    uniforms: np.ndarray | None = None,
) -> SimulationReport:
    """Run ``examinees`` simulated officials with abilities from N(0, 1) (or ``thetas``).

    ``uniforms[e, i]`` is the shared random number deciding examinee e's answer to item i
    (right when below P), so two engines can be compared on the same response draws."""
    rng = np.random.default_rng(seed)
    if thetas is None:
        thetas = rng.standard_normal(examinees)
    if uniforms is None:
        uniforms = rng.random((examinees, len(bank)))
    counts = np.zeros(len(bank), dtype=np.int64)
    est, lengths, levels = np.zeros(examinees), np.zeros(examinees, dtype=np.int64), np.zeros(examinees, dtype=np.int64)
    reasons: dict[str, int] = {}
    durations: list[float] = []
    assigned = np.zeros(examinees)
    pretest = 0
    for e in range(examinees):
        state = TestState()
        while True:
            t0 = time.perf_counter()
            s = step(bank, cfg, state, counts, e + 1, rng)
            durations.append(time.perf_counter() - t0)
            if s.done:
                break
            assert s.item is not None
            i = s.item
            counts[i] += 1
            p = float(prob(thetas[e], bank.a[i : i + 1], bank.b[i : i + 1], bank.c[i : i + 1])[0])
            state.items.append(i)
            state.scored.append(not s.pretest)
            state.responses.append(int(uniforms[e, i] < p))
        est[e], lengths[e], levels[e] = s.theta, s.n_scored, s.level if s.level is not None else -1
        assigned[e] = s.level_probs[levels[e]] if s.level is not None else 0.0
        pretest += len(state.scored) - s.n_scored
        reasons[s.reason] = reasons.get(s.reason, 0) + 1
    truth = np.asarray(level_of(thetas, cfg.cuts))
    d = np.asarray(durations) * 1e6
    operational = bank.operational
    return SimulationReport(
        examinees=examinees,
        exact_accuracy=float((levels == truth).mean()),
        within_one_accuracy=float((np.abs(levels - truth) <= 1).mean()),
        mean_length=float(lengths.mean()),
        p95_length=float(np.percentile(lengths, 95)),
        rmse=float(np.sqrt(((est - thetas) ** 2).mean())),
        max_exposure=float(counts[operational].max() / examinees) if examinees else 0.0,
        step_p50_us=float(np.percentile(d, 50)),
        step_p95_us=float(np.percentile(d, 95)),
        stop_reasons=reasons,
        levels=levels.tolist(),
        lengths=lengths.tolist(),
        assigned_probs=assigned.tolist(),
        max_length=int(lengths.max()) if examinees else 0,
        pretest_per_examinee=pretest / examinees if examinees else 0.0,
    )


def synthetic_bank(n: int = 500, mean_a: float = 1.5, seed: int = 7, domains: int = 5, three_pl: bool = True) -> Bank:
    """A simulated bank: a lognormal (SD 0.25 on the log scale) rescaled to mean ``mean_a``,
    b ~ N(0, 1.2), c ~ U(0, 0.2) (3PL) or 0 (2PL); domains in turn."""
    rng = np.random.default_rng(seed)
    sigma = 0.25
    a = rng.lognormal(np.log(mean_a) - sigma**2 / 2, sigma, n)
    a *= mean_a / a.mean()  # exactly the requested mean discrimination
    b = rng.normal(0.0, 1.2, n)
    c = rng.uniform(0.0, 0.2, n) if three_pl else np.zeros(n)
    d = np.arange(n) % domains
    return Bank(a, b, c, d, tuple(f"d{k}" for k in range(domains)))
