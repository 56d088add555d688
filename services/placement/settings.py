"""Placement settings: the kernel's, read from LMS_PLACEMENT_* then LMS_* variables.

The test configuration fields (cuts, lengths, stopping rule, exposure, content, pretest) are the
defaults chosen with the measurement protocol of `bench/bench_placement_quality.py` (also
`lms placement simulate`); every session records the configuration it started with.
"""

from __future__ import annotations

import dataclasses

from services.common.settings import ServiceSettings, load_settings
from services.placement.domain.cat.cat import TestConfig


@dataclasses.dataclass
class Settings(ServiceSettings):
    # the answer path holds one connection per in-flight request: a pool at least as large as the
    # expected concurrency avoids opening and closing overflow connections under load
    db_pool_size: int = 20
    db_max_overflow: int = 10
    # a quarter of the answer/start pool is opened at start-up and kept, so officials arriving together
    # find connections ready; opening the whole pool on every replica and worker would hold
    # connections the database's max_connections budget needs for the other services
    db_pool_min_size: int = 5
    cuts: tuple[str, ...] = ("-1.5", "-0.5", "0.5", "1.5")
    min_items: int = 8
    max_items: int = 60
    stop_rule: str = "curtailment"
    posterior_stop: float = 0.9
    curtail_gamma: float = 0.088
    sprt_delta: float = 0.3
    sprt_alpha: float = 0.05
    sprt_beta: float = 0.05
    prior_mean: float = 0.0
    prior_sd: float = 1.0
    kl_items: int = 3
    cut_window: float = 0.3
    randomesque_items: int = 3
    randomesque_k: int = 5
    max_exposure: float = 0.30
    exposure_warmup: int = 100
    content_targets: tuple[str, ...] = ()  # "domain=share" pairs; empty: equal shares of the bank's domains
    content_tolerance: float = 0.0
    pretest_rate: float = 0.1
    pretest_max: int = 2
    session_idle_minutes: float = 60.0
    retake_cooldown_days: float = 90.0

    def test_config(self) -> TestConfig:
        try:
            cuts = tuple(float(c) for c in self.cuts)
        except ValueError as exc:
            raise SystemExit(f"LMS_PLACEMENT_CUTS must be numbers: {exc}") from exc
        targets = []
        for pair in self.content_targets:
            domain, _, share = pair.partition("=")
            try:
                targets.append((domain.strip(), float(share)))
            except ValueError as exc:
                raise SystemExit(f"LMS_PLACEMENT_CONTENT_TARGETS wants domain=share pairs, got {pair!r}") from exc
        try:
            return self._config(cuts, tuple(targets))
        except ValueError as exc:
            raise SystemExit(f"Invalid placement test configuration (LMS_PLACEMENT_*): {exc}") from exc

    def _config(self, cuts: tuple[float, ...], targets: tuple[tuple[str, float], ...]) -> TestConfig:
        return TestConfig(
            cuts=cuts,
            min_items=self.min_items,
            max_items=self.max_items,
            stop_rule=self.stop_rule,
            posterior_stop=self.posterior_stop,
            curtail_gamma=self.curtail_gamma,
            delta=self.sprt_delta,
            alpha=self.sprt_alpha,
            beta=self.sprt_beta,
            prior_mean=self.prior_mean,
            prior_sd=self.prior_sd,
            kl_items=self.kl_items,
            cut_window=self.cut_window,
            randomesque_items=self.randomesque_items,
            randomesque_k=self.randomesque_k,
            r_max=self.max_exposure,
            exposure_warmup=self.exposure_warmup,
            content_targets=targets,
            content_tolerance=self.content_tolerance,
            pretest_rate=self.pretest_rate,
            pretest_max=self.pretest_max,
        )


def get_settings(**overrides: object) -> Settings:
    return load_settings(Settings, "placement", **overrides)
