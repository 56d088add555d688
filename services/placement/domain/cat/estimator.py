"""EAP ability estimation on a fixed quadrature grid with a normal prior.

The log posterior is the log prior plus the log likelihood of each scored response on the grid;
it is normalised with log-sum-exp, so all-right and all-wrong patterns give finite estimates and
nothing is ever NaN or infinite. The posterior SD is the standard error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.placement.domain.cat.model import Array, prob_grid


@dataclass(frozen=True)
class Estimate:
    theta: float
    se: float
    log_posterior: Array  # normalised: logsumexp == 0
    weights: Array | None = None  # exp(log_posterior), when already computed

    def posterior(self) -> Array:
        return self.weights if self.weights is not None else np.asarray(np.exp(self.log_posterior))


class EAPEstimator:
    def __init__(
        self, prior_mean: float = 0.0, prior_sd: float = 1.0, lo: float = -5.0, hi: float = 5.0, points: int = 81
    ) -> None:
        if not prior_sd > 0:
            raise ValueError("prior_sd must be positive")
        self.grid: Array = np.linspace(lo, hi, points)
        self.grid_sq: Array = self.grid**2
        self.log_prior: Array = -0.5 * ((self.grid - prior_mean) / prior_sd) ** 2

    def log_likelihood(self, a: Array, b: Array, c: Array, responses: Array) -> Array:
        """Log likelihood on the grid of scored responses (1 right, 0 wrong) to items (a, b, c)."""
        if len(responses) == 0:
            return np.zeros_like(self.grid)
        p = prob_grid(self.grid, a, b, c)
        u = np.asarray(responses, dtype=np.float64)[:, None]
        return np.asarray((u * np.log(p) + (1.0 - u) * np.log1p(-p)).sum(axis=0))

    def add(self, loglik: Array, a: float, b: float, c: float, response: int) -> Array:
        """The log likelihood after one more response (incremental form of :meth:`log_likelihood`)."""
        p = prob_grid(self.grid, np.array([a]), np.array([b]), np.array([c]))[0]
        return np.asarray(loglik + (np.log(p) if response else np.log1p(-p)))

    def moment_matrix(self, level_matrix: Array) -> Array:
        """(grid points, 3 + levels): columns 1, theta, theta^2 and each level's weights, so that
        one product with the posterior gives its mass, mean, second moment and level probabilities."""
        return np.ascontiguousarray(np.column_stack([np.ones_like(self.grid), self.grid, self.grid_sq, level_matrix]))

    def summarise(self, loglik: Array, moments: Array) -> tuple[Array, float, list[float]]:
        """The engine's path: the posterior weights on the grid (unnormalised: their sum is the
        returned mass) and, in one product with :meth:`moment_matrix`,
        ``[1, mean, second moment, P(level 0), ...]`` (normalised)."""
        w = loglik + self.log_prior
        w -= w.max()  # log-sum-exp: the largest term is exp(0) = 1, nothing overflows
        np.exp(w, out=w)
        m = (w @ moments).tolist()
        mass = m[0]
        return w, mass, [x / mass for x in m]

    def estimate(self, loglik: Array) -> Estimate:
        log_post = self.log_prior + loglik
        log_post -= log_post.max()  # log-sum-exp: the largest term is exp(0) = 1, nothing overflows
        w = np.exp(log_post)
        total = w.sum()
        w /= total
        log_post -= np.log(total)
        theta = float(w @ self.grid)
        var = max(float(w @ self.grid_sq) - theta * theta, 1e-12)
        return Estimate(theta=theta, se=float(np.sqrt(var)), log_posterior=log_post, weights=w)
