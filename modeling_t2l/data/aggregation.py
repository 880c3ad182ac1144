"""How a protocol turns per-split accuracies into the number a paper table reports.

* Several splits (zero-shot HMDB/UCF test splits 1-3, the K600 ER-ZSAR splits 1-3): mean ± **population**
  standard deviation (ddof = 0), as TC-CLIP's `main_testing` computes it with `np.std`.
* Base-to-novel: B = mean over the 3 seeds of the base accuracy, N = the same for novel, and the harmonic mean
  of those *averages*, HM = 2BN / (B + N) (TC-CLIP `docs/TRAIN_EVAL.md`), not the mean of per-seed HMs.
* One split: the value itself.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population standard deviation (ddof = 0)."""
    if not values:
        raise ValueError("no values to aggregate")
    mean = sum(values) / len(values)
    variance = sum((value - mean) ** 2 for value in values) / len(values)
    return mean, math.sqrt(variance)


def harmonic_mean(base: float, novel: float) -> float:
    return 0.0 if base + novel == 0 else 2 * base * novel / (base + novel)


def aggregate_splits(per_split: Mapping[str, float], expected: Sequence[str]) -> dict:
    """`{"split1": 52.1, ...}` -> `{"mean", "std", "num_splits", "per_split"}` over exactly `expected`."""
    _require(per_split, expected)
    values = [float(per_split[name]) for name in expected]
    mean, std = mean_std(values)
    return {"mean": mean, "std": std, "num_splits": len(values), "per_split": {n: float(per_split[n]) for n in expected}}


def aggregate_base_to_novel(per_seed: Mapping[str, Mapping[str, float]], expected_seeds: Sequence[str]) -> dict:
    """`{"seed1": {"base": 77.0, "novel": 58.0}, ...}` -> base, novel (seed means, with population std) and the
    harmonic mean of the two means."""
    _require(per_seed, expected_seeds)
    for seed in expected_seeds:
        _require(per_seed[seed], ("base", "novel"), where=f" for {seed}")
    base_mean, base_std = mean_std([float(per_seed[s]["base"]) for s in expected_seeds])
    novel_mean, novel_std = mean_std([float(per_seed[s]["novel"]) for s in expected_seeds])
    return {
        "base": base_mean,
        "base_std": base_std,
        "novel": novel_mean,
        "novel_std": novel_std,
        "hm": harmonic_mean(base_mean, novel_mean),
        "num_seeds": len(expected_seeds),
        "per_seed": {s: {"base": float(per_seed[s]["base"]), "novel": float(per_seed[s]["novel"])} for s in expected_seeds},
    }


def _require(results: Mapping, expected: Sequence[str], where: str = "") -> None:
    missing = [name for name in expected if name not in results]
    if missing:
        raise KeyError(f"missing results{where}: {missing} (expected {list(expected)}, got {sorted(results)})")
