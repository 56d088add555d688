"""The adaptive-testing engine: pure numpy, no I/O.

It reads the way catsim does: small strategies behind tiny interfaces, each tested alone.

- :mod:`.model`: 2PL/3PL probability and information, vectorised over the bank.
- :mod:`.estimator`: EAP ability estimate on a fixed quadrature grid (always finite).
- :mod:`.exposure`: randomesque choice and eligibility from live exposure counts.
- :mod:`.content`: content balancing toward target domain proportions.
- :mod:`.selector`: maximum Fisher / Kullback-Leibler information selection.
- :mod:`.stopper`: multi-cut SPRT or GLR, or a posterior-probability rule, with min/max length.
- :mod:`.cat`: the test configuration and one adaptive step that ties them together.
- :mod:`.calibration`: marginal maximum likelihood (EM) item calibration.
- :mod:`.simulate`: simulated examinees through the real engine.
"""

from services.placement.domain.cat.cat import Bank, Step, TestConfig, TestState, step
from services.placement.domain.cat.estimator import EAPEstimator, Estimate

__all__ = ["Bank", "EAPEstimator", "Estimate", "Step", "TestConfig", "TestState", "step"]
