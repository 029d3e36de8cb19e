"""The allocation policy fitted on a logged experiment and evaluated off-policy on a held-out half.

The policy is the Thompson allocation of the training half: for each context stratum (the combinations of the
chosen features, numeric ones cut into quartiles of the training half; one stratum without features), each
arm's probability of being the best under its posterior. A stratum's posterior borrows `PRIOR_STRENGTH`
pseudo-observations at the arm's overall mean, so a small stratum follows the overall evidence rather than its
own noise. The reward model of the doubly robust estimate is the same posterior mean per stratum and arm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from interventions.allocation import offpolicy
from interventions.allocation.thompson import ArmStats, best_arm_probabilities

PRIOR_STRENGTH = 50
SEED = 42


class PolicyDataError(ValueError):
    """The logged experiment cannot be evaluated as given (the message says why)."""


@dataclass
class Log:
    arms: np.ndarray  # arm index per row
    rewards: np.ndarray
    propensity: np.ndarray
    strata: pd.Series  # stratum label per row
    names: list[str]


def read_log(
    frame: pd.DataFrame, *, arm_col: str, reward_col: str, propensity_col: str | None, features: list[str]
) -> tuple[pd.DataFrame, list[str]]:
    """The columns the evaluation needs, checked: arms as given, numeric rewards, propensities in (0, 1]."""
    wanted = [arm_col, reward_col, *([propensity_col] if propensity_col else []), *features]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise PolicyDataError(f"column(s) not in the file: {', '.join(missing)}; it has {', '.join(frame.columns)}")
    data = frame[wanted].copy()
    data[reward_col] = _numeric(data[reward_col], reward_col)
    if propensity_col:
        data[propensity_col] = _numeric(data[propensity_col], propensity_col)
        if not data[propensity_col].between(0, 1, inclusive="right").all():
            raise PolicyDataError(f"{propensity_col} must be a probability above 0 and at most 1 in every row")
    data[arm_col] = data[arm_col].astype(str)
    names = sorted(data[arm_col].unique())
    if len(names) < 2:
        raise PolicyDataError(f"{arm_col} needs at least two arms; found {names}")
    return data, names


def _numeric(column: pd.Series, name: str) -> pd.Series:
    if column.dtype == bool or column.astype(str).str.lower().isin(["true", "false"]).all():
        return column.astype(str).str.lower().eq("true").astype(float)
    values = pd.to_numeric(column, errors="coerce")
    bad = values.isna()
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise PolicyDataError(f"{name} is not a number in {int(bad.sum())} row(s), first at data row {first + 1}")
    return values.astype(float)


def split(data: pd.DataFrame, arm_col: str, reward_col: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Half and half, stratified by arm and (for a binary reward) by reward, seed 42."""
    rewards = data[reward_col]
    key = data[arm_col] + ("|" + rewards.astype(int).astype(str) if rewards.isin([0, 1]).all() else "")
    if key.value_counts().min() < 2:
        key = data[arm_col]
    return train_test_split(data, test_size=0.5, random_state=SEED, stratify=key)


def strata(train: pd.DataFrame, frame: pd.DataFrame, features: list[str]) -> pd.Series:
    if not features:
        return pd.Series("all", index=frame.index)
    parts = []
    for name in features:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) and train[name].nunique() > 8:
            edges = np.unique(np.quantile(train[name].dropna(), [0.25, 0.5, 0.75]))
            parts.append(pd.Series(np.searchsorted(edges, column.to_numpy(), side="right"), index=frame.index))
        else:
            parts.append(column.astype(str))
    label = parts[0].astype(str)
    for part in parts[1:]:
        label = label + "|" + part.astype(str)
    return label


@dataclass
class FittedPolicy:
    names: list[str]
    probabilities: dict[str, np.ndarray]  # stratum -> arm probabilities
    q: dict[str, np.ndarray]  # stratum -> posterior mean reward per arm
    overall_p: np.ndarray
    overall_q: np.ndarray

    def for_rows(self, labels: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        p = np.vstack([self.probabilities.get(s, self.overall_p) for s in labels])
        q = np.vstack([self.q.get(s, self.overall_q) for s in labels])
        return p, q


def fit(arms: np.ndarray, rewards: np.ndarray, labels: pd.Series, names: list[str]) -> FittedPolicy:
    rng = np.random.default_rng(SEED)
    binary = bool(np.isin(rewards, (0, 1)).all())
    k = len(names)
    overall = [_stats(rewards[arms == a]) for a in range(k)]
    overall_q = np.array([s.total / max(s.n, 1) for s in overall])
    overall_p = best_arm_probabilities(overall, rng=rng, binary=binary)
    probabilities, q = {}, {}
    for label in pd.unique(labels):
        mask = (labels == label).to_numpy()
        shrunk = [_shrunk(rewards[mask & (arms == a)], overall[a], overall_q[a]) for a in range(k)]
        probabilities[label] = best_arm_probabilities(shrunk, rng=rng, binary=binary)
        q[label] = np.array([s.total / s.n for s in shrunk])
    return FittedPolicy(names, probabilities, q, overall_p, overall_q)


def _stats(values: np.ndarray) -> ArmStats:
    return ArmStats(len(values), float(values.sum()), float((values**2).sum()))


def _shrunk(values: np.ndarray, overall: ArmStats, mean: float) -> ArmStats:
    """The stratum's observations plus PRIOR_STRENGTH pseudo-observations at the arm's overall mean (with the
    arm's overall spread, so a real-valued reward keeps its variance)."""
    second = overall.total_sq / max(overall.n, 1)
    return ArmStats(
        len(values) + PRIOR_STRENGTH,
        float(values.sum()) + PRIOR_STRENGTH * mean,
        float((values**2).sum()) + PRIOR_STRENGTH * second,
    )


def evaluate(
    frame: pd.DataFrame,
    *,
    arm_col: str,
    reward_col: str,
    propensity_col: str | None = None,
    features: list[str] | None = None,
) -> tuple[dict, dict]:
    """Fit on one half, evaluate on the other: (the figures the evaluate_policy command ends with, details)."""
    features = features or []
    data, names = read_log(
        frame, arm_col=arm_col, reward_col=reward_col, propensity_col=propensity_col, features=features
    )
    train, test = split(data, arm_col, reward_col)
    index = {name: i for i, name in enumerate(names)}
    train_arms = train[arm_col].map(index).to_numpy()
    policy = fit(train_arms, train[reward_col].to_numpy(), strata(train, train, features), names)
    arms = test[arm_col].map(index).to_numpy()
    rewards = test[reward_col].to_numpy()
    logged = test[propensity_col].to_numpy() if propensity_col else np.full(len(test), 1 / len(names))
    target, q = policy.for_rows(strata(train, test, features))
    rows = np.arange(len(test))
    dr = offpolicy.doubly_robust(rewards, logged, arms, target, q)
    single = {
        name: offpolicy.doubly_robust(rewards, logged, arms, np.eye(len(names))[[a] * len(test)], q).value
        for a, name in enumerate(names)
    }
    best = max(single, key=single.get)
    return {
        "policy_value": round(dr.value, 4),
        "policy_value_ci": [round(dr.ci_low, 4), round(dr.ci_high, 4)],
        "ipw": round(offpolicy.ipw(rewards, logged, target[rows, arms]).value, 4),
        "snipw": round(offpolicy.snipw(rewards, logged, target[rows, arms]).value, 4),
        "best_single_arm": best,
        "best_single_arm_value": round(single[best], 4),
        "arm_shares": {name: round(float(target[:, a].mean()), 4) for a, name in enumerate(names)},
    }, {"single_arm_values": {name: round(v, 4) for name, v in single.items()}, "rows": (len(train), len(test))}
