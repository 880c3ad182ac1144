"""`DemoOptions`: what `t2l demo` runs. Kept free of torch so `t2l demo --help` is fast."""
from __future__ import annotations

from dataclasses import dataclass, field

from .variants import VARIANTS

DEFAULT_THREADS = 2  # the published numbers were measured with 2 threads (a 2-core machine)


@dataclass
class DemoOptions:
    out: str = "t2l_demo"
    num_videos: int = 24  # training videos per base class
    test_videos: int = 5  # test videos per novel class (base classes get half as many)
    frames: int = 16  # frames per generated video
    num_frames: int = 8  # frames per clip the model sees (T)
    image_size: int = 32
    epochs: float = 8
    seeds: int = 1  # --seeds 3 repeats every row and reports mean ± std (about 3x the training time)
    batch_size: int = 8
    learning_rate: float = 1e-2
    official_recipe: bool = False  # train with the official T2L settings instead of the miniature's (ablation.py)
    threads: int = DEFAULT_THREADS  # torch intra-op threads: the numbers depend on it (quickstart/environment.py)
    pretrain_steps: int = 600
    cache_dir: str | None = None
    variants: tuple[str, ...] = field(default_factory=lambda: tuple(v.key for v in VARIANTS))
    command: str = "t2l demo"
    progress: bool = True
