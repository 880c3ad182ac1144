"""`evaluate` metric modules shipped with the package (they load offline: `evaluate.load(TOPK_ACCURACY_PATH)`)."""
from pathlib import Path

TOPK_ACCURACY_PATH = str(Path(__file__).resolve().parent / "topk_accuracy")


def load_topk_accuracy():
    """The bundled top-1/top-5 metric, loaded through `evaluate` from its local path (no Hub access).

    Kept in memory: with file-backed metrics, DDP ranks evaluating at the same time would share one cache file.
    """
    import evaluate

    return evaluate.load(TOPK_ACCURACY_PATH, keep_in_memory=True)
