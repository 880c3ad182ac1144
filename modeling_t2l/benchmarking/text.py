"""Section 3, the text cost of a training step: the batch's classes vs all classes."""
from __future__ import annotations

from typing import Callable

from .models import _random_text, build_t2l
from .rows import TextCostRow
from .settings import BenchmarkSettings
from .timing import count_flops, measure_interleaved, synchronizer


# ---------------------------------------------------------------------------------------------------------------
# 3. Text cost per training step
# ---------------------------------------------------------------------------------------------------------------


def run_text_cost(settings: BenchmarkSettings, t2l=None, report_row: Callable = print) -> list[TextCostRow]:
    """Forward + backward of T2L's text tower (its adapters train) for the batch's classes vs all classes."""
    model = t2l if t2l is not None else build_t2l(settings).to(settings.device, settings.torch_dtype)
    model.apply_trainable_set().train()
    sync = synchronizer(settings.device)
    cases = {
        f"only the batch's classes ({settings.train_batch_size})": settings.train_batch_size,
        f"all {settings.num_classes} classes": settings.num_classes,
    }
    texts = {label: _random_text(settings, count, seed=2) for label, count in cases.items()}

    def forward_backward(label):
        ids, mask = texts[label]
        model.get_text_features(ids, mask).pooler_output.float().square().mean().backward()
        model.zero_grad(set_to_none=True)

    functions = {label: (lambda label=label: forward_backward(label)) for label in cases}
    flops = {label: count_flops(function) for label, function in functions.items()}  # also the warm-up
    timings = measure_interleaved(functions, warmup=0, repeats=settings.repeats if not settings.quick else 1,
                                  synchronize=sync, timer=settings.timer())
    model.eval()
    rows = []
    for label, count in cases.items():
        row = TextCostRow(label, count, texts[label][0].shape[1], timings[label].median, timings[label].spread,
                          flops[label] / 1e9)
        rows.append(row)
        report_row(row)
    return rows
