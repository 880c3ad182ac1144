"""What `t2l demo`'s numbers depend on besides its options, fixed where it can be and recorded where it cannot.

Measured: the same run in two processes gives bit-identical weights with the same intra-op thread count, and
different weights (already in the tiny CLIP's pre-training) with 1 and 2 threads, because CPU kernels split their
reductions by thread. So the demo runs every step on a fixed number of threads (`DEFAULT_THREADS` unless
`--threads` says otherwise), whatever the machine's core count or OMP_NUM_THREADS. What a process cannot change
once torch is loaded (the vector instruction set its kernels were dispatched for, the library versions) is written
into the report, so two reports say themselves whether their numbers are comparable digit for digit.
"""
from __future__ import annotations

import contextlib
import platform
import sys

import torch

from .options import DEFAULT_THREADS  # noqa: F401  (the published numbers were measured with 2 threads)


@contextlib.contextmanager
def reproducible_torch(threads: int):
    """Run the block on `threads` intra-op threads with deterministic algorithms, restoring both afterwards."""
    if threads < 1:
        raise ValueError(f"--threads must be at least 1, got {threads}")
    previous = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled())
    torch.set_num_threads(threads)
    # every op the demo uses has a deterministic CPU kernel; warn_only: an op without one warns instead of failing
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.set_num_threads(previous[0])
        torch.use_deterministic_algorithms(previous[1], warn_only=previous[2])


def environment() -> dict:
    """Everything outside the options that the numbers depend on (for ablation.json / ablation.md)."""
    import av
    import numpy
    import transformers

    return {
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "machine": platform.machine(),
        "system": platform.system(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "numpy": numpy.__version__,
        "av": av.__version__,
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
    }


def describe(env: dict) -> str:
    """One line for the report."""
    return (f"torch {env['torch']} on {env['torch_threads']} thread(s), CPU kernels {env['cpu_capability']}, "
            f"{env['system']} {env['machine']}, Python {env['python']}, transformers {env['transformers']}, "
            f"PyAV {env['av']}, NumPy {env['numpy']}")


__all__ = ["DEFAULT_THREADS", "describe", "environment", "reproducible_torch"]
