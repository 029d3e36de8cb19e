"""BG/NBD (Fader, Hardie & Lee 2005) and Gamma-Gamma (Fader, Hardie & Lee 2005b), fitted by maximum likelihood."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, special


def _bgnbd_negative_ll(log_params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, penalty: float) -> float:
    r, alpha, a, b = np.exp(log_params)
    common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    term_alive = special.betaln(a, b + x) - special.betaln(a, b) + common - (r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        term_dead = np.where(
            x > 0,
            special.betaln(a + 1, b + np.maximum(x, 1) - 1)
            - special.betaln(a, b)
            + common
            - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    ll = np.logaddexp(term_alive, term_dead)
    return -ll.sum() + penalty * (log_params**2).sum()


class BGNBD:
    """Purchase counts while alive are Poisson (rate ~ Gamma(r, alpha)); after each purchase a customer drops out
    with probability p ~ Beta(a, b). Time is in days."""

    def fit(self, summary: pd.DataFrame, penalty: float = 0.0) -> BGNBD:
        x, t_x, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
        scale = max(T.max(), 1.0) / 10.0  # fit in rescaled time for a well-conditioned alpha
        start = np.log([0.5, 1.0, 1.0, 1.0])
        # bounds keep the dropout Beta away from the degenerate a -> 0, b -> infinity corner ("nobody ever leaves")
        bounds = [(-8, 6), (-8, 8), (np.log(0.05), 6), (np.log(0.05), np.log(1e4))]
        best = optimize.minimize(
            _bgnbd_negative_ll, start, args=(x, t_x / scale, T / scale, penalty), method="L-BFGS-B", bounds=bounds
        )
        r, alpha, a, b = np.exp(best.x)
        self.params = {"r": float(r), "alpha": float(alpha * scale), "a": float(a), "b": float(b)}
        self.log_likelihood = float(-best.fun)
        return self

    def p_alive(self, summary: pd.DataFrame) -> np.ndarray:
        r, alpha, a, b = (self.params[k] for k in ("r", "alpha", "a", "b"))
        x, t_x, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
        log_ratio = (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        odds = np.where(x > 0, a / (b + np.maximum(x, 1) - 1) * np.exp(np.minimum(log_ratio, 700)), 0.0)
        return 1.0 / (1.0 + odds)

    def expected_purchases(self, summary: pd.DataFrame, horizon_days: float) -> np.ndarray:
        r, alpha, a, b = (self.params[k] for k in ("r", "alpha", "a", "b"))
        x, t_x, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
        t = float(horizon_days)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        numerator = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
        log_ratio = (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        denominator = 1 + np.where(x > 0, a / (b + np.maximum(x, 1) - 1) * np.exp(np.minimum(log_ratio, 700)), 0.0)
        return np.clip(np.nan_to_num(numerator / denominator, nan=0.0), 0, None)


def _gg_negative_ll(log_params: np.ndarray, x: np.ndarray, m: np.ndarray) -> float:
    p, q, v = np.exp(log_params)
    ll = (
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(v + m * x)
    )
    return -ll.sum()


class GammaGamma:
    """Spend per purchase ~ Gamma(p, nu) with nu ~ Gamma(q, gamma) across customers."""

    def fit(self, summary: pd.DataFrame) -> GammaGamma:
        repeaters = summary[(summary["frequency"] > 0) & (summary["monetary"] > 0)]
        self.population_mean = float(summary["monetary"].mean())
        if len(repeaters) < 20:
            self.params = None
            return self
        x, m = repeaters["frequency"].to_numpy(float), repeaters["monetary"].to_numpy(float)
        start = np.log([1.0, 1.0, float(np.mean(m))])
        result = optimize.minimize(_gg_negative_ll, start, args=(x, m), method="Nelder-Mead", options={"maxiter": 5000})
        p, q, v = np.exp(result.x)
        self.params = {"p": float(p), "q": float(q), "v": float(v)} if q > 1 else None
        return self

    def expected_spend_per_purchase(self, summary: pd.DataFrame) -> np.ndarray:
        if not self.params:
            return np.full(len(summary), self.population_mean)
        p, q, v = self.params["p"], self.params["q"], self.params["v"]
        x, m = summary["frequency"].to_numpy(float), summary["monetary"].to_numpy(float)
        population = p * v / (q - 1)
        individual = (v + m * x) * p / (p * x + q - 1)
        return np.where(x > 0, individual, population)


def _pareto_log_a0(r, alpha, s, beta, x, t_x, T):
    """log of A0 in the Pareto/NBD likelihood (Fader, Hardie & Lee 2005, "A Note on Deriving the Pareto/NBD
    Model"), with the hypergeometric terms taken on the side (alpha >= beta or not) where they converge."""
    if alpha >= beta:
        big, b_param, rate = alpha, s + 1, alpha - beta
    else:
        big, b_param, rate = beta, r + x, beta - alpha
    total = r + s + x

    def log_term(age):
        z = rate / (big + age)
        return np.log(special.hyp2f1(total, b_param, total + 1, z)) - total * np.log(big + age)

    first, second = log_term(t_x), log_term(T)
    with np.errstate(divide="ignore", invalid="ignore"):
        return first + np.log1p(-np.exp(np.minimum(second - first, 0.0)))


def _pareto_terms(params, x, t_x, T):
    r, alpha, s, beta = params
    log_a0 = _pareto_log_a0(r, alpha, s, beta, x, t_x, T)
    log_alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    log_dead = np.log(s) - np.log(r + s + x) + log_a0
    return log_alive, log_dead


def _pareto_negative_ll(log_params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> float:
    r, alpha, s, beta = np.exp(log_params)
    log_alive, log_dead = _pareto_terms((r, alpha, s, beta), x, t_x, T)
    common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    ll = common + np.logaddexp(log_alive, np.nan_to_num(log_dead, nan=-np.inf))
    total = ll.sum()
    return float(-total) if np.isfinite(total) else 1e12


class ParetoNBD:
    """Purchases while alive are Poisson (rate ~ Gamma(r, alpha)); lifetimes are exponential (dropout rate ~
    Gamma(s, beta)), so a customer may leave at any moment, not only right after a purchase. Time is in days."""

    def fit(self, summary: pd.DataFrame) -> ParetoNBD:
        x, t_x, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
        scale = max(T.max(), 1.0) / 10.0
        bounds = [(-8, 6), (-8, 8), (np.log(0.05), 6), (-8, 10)]
        best = None
        for start in (np.log([0.5, 1.0, 0.5, 1.0]), np.log([1.0, 5.0, 1.5, 10.0])):
            found = optimize.minimize(
                _pareto_negative_ll, start, args=(x, t_x / scale, T / scale), method="L-BFGS-B", bounds=bounds
            )
            if best is None or found.fun < best.fun:
                best = found
        r, alpha, s, beta = np.exp(best.x)
        self.params = {"r": float(r), "alpha": float(alpha * scale), "s": float(s), "beta": float(beta * scale)}
        self.log_likelihood = float(-best.fun)
        return self

    def _values(self):
        return tuple(self.params[k] for k in ("r", "alpha", "s", "beta"))

    def p_alive(self, summary: pd.DataFrame) -> np.ndarray:
        x, t_x, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
        log_alive, log_dead = _pareto_terms(self._values(), x, t_x, T)
        odds = np.exp(np.clip(np.nan_to_num(log_dead - log_alive, nan=-np.inf), -700, 700))
        return 1.0 / (1.0 + odds)

    def expected_purchases(self, summary: pd.DataFrame, horizon_days: float) -> np.ndarray:
        r, alpha, s, beta = self._values()
        x, T = summary["frequency"].to_numpy(float), summary["T"].to_numpy(float)
        t = float(horizon_days)
        rate = (r + x) / (alpha + T)
        if abs(s - 1) < 1e-6:
            lifetime = (beta + T) * np.log((beta + T + t) / (beta + T))
        else:
            lifetime = (beta + T) / (s - 1) * (1 - ((beta + T) / (beta + T + t)) ** (s - 1))
        return np.clip(np.nan_to_num(rate * lifetime * self.p_alive(summary), nan=0.0), 0, None)
