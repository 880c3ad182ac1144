"""Top-k accuracy of class scores: top-1 and top-5, as fractions in [0, 1].

Shipped with modeling_t2l because `evaluate.load("accuracy")` needs the Hub (spec hf_integration F8). Load it with
`evaluate.load("<path to this folder>")`. evaluate scans this file's imports to check dependencies, and its scanner
needs one module per `import` line.
"""
import datasets
import evaluate
import numpy as np

_DESCRIPTION = """Top-k accuracy: the fraction of examples whose true class is among the k highest-scoring classes.
`predictions` are per-class scores (one row per example, any monotone score: logits or probabilities), `references`
the true class ids. Returns `top1` and `top5` (top-k with k = min(5, number of classes)). Ties are broken by class id
(the lower id ranks first), as a stable arg-sort does."""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of lists of floats, shape (num_examples, num_classes).
    references: list of ints, the true class of each example.
    k: optional extra k, reported as `top{k}`.
Returns:
    dict with `top1`, `top5` (and `top{k}`) as fractions.
Example:
    >>> metric = evaluate.load(path)
    >>> metric.compute(predictions=[[0.1, 0.9], [0.8, 0.2]], references=[1, 1])
    {'top1': 0.5, 'top5': 1.0}
"""


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of rows whose label is among the k best scores (stable: lower class id wins a tie)."""
    k = min(k, scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float((order == labels[:, None]).any(axis=1).mean())


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class TopkAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Sequence(datasets.Value("float32")), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references, k=None):
        scores = np.asarray(predictions, dtype=np.float64)
        labels = np.asarray(references, dtype=np.int64)
        if scores.ndim != 2 or len(scores) != len(labels) or len(labels) == 0:
            raise ValueError(f"topk_accuracy: need (N, C) scores and N labels, got {scores.shape} and {labels.shape}")
        if labels.min() < 0 or labels.max() >= scores.shape[1]:
            raise ValueError(f"topk_accuracy: labels must lie in [0, {scores.shape[1]}), got {labels.min()}..{labels.max()}")
        result = {"top1": topk_accuracy(scores, labels, 1), "top5": topk_accuracy(scores, labels, 5)}
        if k is not None:
            result[f"top{k}"] = topk_accuracy(scores, labels, int(k))
        return result
