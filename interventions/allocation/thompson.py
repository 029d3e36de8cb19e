"""Thompson sampling over arms with binary or real-valued rewards.

An arm's posterior is Beta(1 + successes, 1 + failures) for 0/1 rewards, and a normal around the arm's mean
with the standard error of that mean otherwise (a flat prior, weak until the arm has data). The allocation
probability of an arm is its posterior probability of being the best one (what Thompson sampling plays on
average), estimated with a fixed number of joint draws; an exploration floor keeps every arm's probability
above zero so that any other policy can still be evaluated on the log (off-policy, with these propensities).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DRAWS = 4000


@dataclass
class ArmStats:
    n: int = 0
    total: float = 0.0
    total_sq: float = 0.0

    def add(self, reward: float) -> None:
        self.n += 1
        self.total += reward
        self.total_sq += reward * reward


def posterior_draws(stats: list[ArmStats], rng: np.random.Generator, draws: int, binary: bool) -> np.ndarray:
    """draws x arms samples of each arm's mean reward."""
    columns = []
    for arm in stats:
        if binary:
            columns.append(rng.beta(1 + arm.total, 1 + arm.n - arm.total, size=draws))
            continue
        mean = arm.total / arm.n if arm.n else 0.0
        variance = max(arm.total_sq / arm.n - mean * mean, 1e-12) if arm.n > 1 else 1.0
        columns.append(rng.normal(mean, np.sqrt(variance / max(arm.n, 1)), size=draws))
    return np.column_stack(columns)


def best_arm_probabilities(
    stats: list[ArmStats], *, rng: np.random.Generator, draws: int = DRAWS, binary: bool = True, floor: float = 0.0
) -> np.ndarray:
    """Each arm's posterior probability of being the best, mixed with a uniform floor (a share of 0..1)."""
    samples = posterior_draws(stats, rng, draws, binary)
    wins = np.bincount(samples.argmax(axis=1), minlength=len(stats)) / draws
    return (1 - floor) * wins + floor / len(stats)


@dataclass
class Thompson:
    """The classic one-draw-per-decision sampler (what the replay evaluation runs)."""

    arms: int
    binary: bool = True
    seed: int = 42
    stats: list[ArmStats] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stats = self.stats or [ArmStats() for _ in range(self.arms)]
        self.rng = np.random.default_rng(self.seed)

    def choose(self) -> int:
        return int(posterior_draws(self.stats, self.rng, 1, self.binary)[0].argmax())

    def update(self, arm: int, reward: float) -> None:
        self.stats[arm].add(float(reward))


def replay(arms: np.ndarray, rewards: np.ndarray, n_arms: int, *, seed: int = 42) -> np.ndarray:
    """The replay method (Li et al. 2011) on a log whose arms were chosen uniformly at random: walk the stream,
    let the bandit choose, keep the event only when it chose the logged arm. Returns the kept rewards in order."""
    bandit = Thompson(n_arms, binary=bool(np.isin(rewards, (0, 1)).all()), seed=seed)
    kept = []
    for arm, reward in zip(arms, rewards, strict=True):
        if bandit.choose() == arm:
            bandit.update(int(arm), float(reward))
            kept.append(reward)
    return np.asarray(kept, dtype=float)
