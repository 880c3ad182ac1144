"""Run a protocol and report it: top-1/top-5 per split, mean ± population std, base/novel/HM, tables and plots."""
from .evaluate import (
    SplitResult,
    aggregate,
    evaluate_dataset,
    evaluate_protocol,
    evaluate_split,
    evaluate_videos,
    markdown_table,
    results_to_json,
    split_class_texts,
    write_reports,
)

__all__ = [
    "SplitResult",
    "aggregate",
    "evaluate_dataset",
    "evaluate_protocol",
    "evaluate_split",
    "evaluate_videos",
    "markdown_table",
    "results_to_json",
    "split_class_texts",
    "write_reports",
]
