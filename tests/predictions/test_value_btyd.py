import numpy as np
import pandas as pd

from predictions.value.btyd import BGNBD, GammaGamma, ParetoNBD


def simulate_bgnbd(n: int, r: float, alpha: float, a: float, b: float, days: float, seed: int = 3) -> pd.DataFrame:
    """Draw histories from the BG/NBD story itself (all customers start at day 0, observed for ``days``)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        rate, drop = rng.gamma(r, 1 / alpha), rng.beta(a, b)
        t, purchases = 0.0, []
        while True:
            t += rng.exponential(1 / rate)
            if t > days:
                break
            purchases.append(t)
            if rng.random() < drop:
                break
        rows.append((len(purchases), purchases[-1] if purchases else 0.0, days))
    return pd.DataFrame(rows, columns=["frequency", "recency", "T"]).assign(monetary=0.0)


def test_bgnbd_recovers_the_parameters_it_was_simulated_with():
    truth = {"r": 0.8, "alpha": 40.0, "a": 0.8, "b": 2.5}
    summary = simulate_bgnbd(3000, **truth, days=365)
    fitted = BGNBD().fit(summary).params
    assert abs(fitted["r"] - truth["r"]) / truth["r"] < 0.2
    assert abs(fitted["alpha"] - truth["alpha"]) / truth["alpha"] < 0.25
    # the implied mean dropout probability a / (a + b) is what matters for forecasts
    assert abs(fitted["a"] / (fitted["a"] + fitted["b"]) - 0.8 / 3.3) < 0.06


def test_bgnbd_expected_purchases_match_a_simulated_future():
    truth = {"r": 0.8, "alpha": 40.0, "a": 0.8, "b": 2.5}
    summary = simulate_bgnbd(3000, **truth, days=365)
    model = BGNBD().fit(summary)
    # the population's unconditional expectation for a fresh customer over 365 days equals the mean count observed
    fresh = pd.DataFrame({"frequency": [0.0], "recency": [0.0], "T": [0.0]})
    assert (
        abs(model.expected_purchases(fresh, 365)[0] - summary["frequency"].mean()) / summary["frequency"].mean() < 0.1
    )


def test_p_alive_falls_with_time_since_last_purchase():
    model = BGNBD()
    model.params = {"r": 0.8, "alpha": 40.0, "a": 0.8, "b": 2.5}
    summary = pd.DataFrame({"frequency": [3.0, 3.0, 0.0], "recency": [300.0, 30.0, 0.0], "T": [330.0, 330.0, 330.0]})
    recent, lapsed, single = model.p_alive(summary)
    assert recent > lapsed and single == 1.0


def test_gamma_gamma_shrinks_individual_means_towards_the_population():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 8, 800).astype(float)
    nu = rng.gamma(3.0, 1 / 20.0, 800)
    monetary = np.array([rng.gamma(4.0 * k, 1 / v) / k for k, v in zip(x, nu, strict=True)])
    summary = pd.DataFrame({"frequency": x, "monetary": monetary})
    model = GammaGamma().fit(summary)
    expected = model.expected_spend_per_purchase(summary)
    population = model.params["p"] * model.params["v"] / (model.params["q"] - 1)
    big = monetary > np.percentile(monetary, 90)
    assert np.all(expected[big] < monetary[big])
    assert abs(population - monetary.mean()) / monetary.mean() < 0.25


def test_bgnbd_recovers_each_of_r_alpha_a_and_b_from_two_years_of_simulated_histories():
    truth = {"r": 0.8, "alpha": 40.0, "a": 0.8, "b": 2.5}
    for seed in (7, 11):
        fitted = BGNBD().fit(simulate_bgnbd(5000, **truth, days=730, seed=seed)).params
        for name, value in truth.items():
            assert abs(fitted[name] - value) / value < 0.2, (seed, name, fitted[name])


def simulate_pareto(n: int, r: float, alpha: float, s: float, beta: float, days: float, seed: int = 1) -> pd.DataFrame:
    """Histories from the Pareto/NBD story: exponential lifetimes, Poisson purchases while alive."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        rate, end = rng.gamma(r, 1 / alpha), min(rng.exponential(1 / rng.gamma(s, 1 / beta)), days)
        t, purchases = 0.0, []
        while (t := t + rng.exponential(1 / rate)) <= end:
            purchases.append(t)
        rows.append((len(purchases), purchases[-1] if purchases else 0.0, days))
    return pd.DataFrame(rows, columns=["frequency", "recency", "T"])


def test_pareto_nbd_fits_its_own_world_better_than_bgnbd_and_recovers_the_purchase_rate():
    truth = {"r": 0.6, "alpha": 30.0, "s": 0.8, "beta": 200.0}
    summary = simulate_pareto(3000, **truth, days=365)
    pareto, bgnbd = ParetoNBD().fit(summary), BGNBD().fit(summary)
    assert pareto.log_likelihood > bgnbd.log_likelihood + 10
    assert abs(pareto.params["r"] - 0.6) / 0.6 < 0.2 and abs(pareto.params["alpha"] - 30) / 30 < 0.25
    fresh = pd.DataFrame({"frequency": [0.0], "recency": [0.0], "T": [0.0]})
    assert abs(pareto.expected_purchases(fresh, 365)[0] / summary["frequency"].mean() - 1) < 0.1
    alive = pareto.p_alive(pd.DataFrame({"frequency": [4.0, 4.0], "recency": [350.0, 60.0], "T": [365.0, 365.0]}))
    assert alive[0] > alive[1]
