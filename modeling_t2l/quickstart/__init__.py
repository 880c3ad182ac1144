"""The offline quickstart: T2L's central experiment in miniature, built and run on a laptop CPU in minutes.

1. `dataset`: coloured shapes moving on random backgrounds, written as mp4 files; base and novel classes.
2. `tiny_clip`: a tiny transformers CLIP pre-trained on captioned *stills* (appearance, no motion); cached.
3. `ablation`: T2L adaptation on the base classes with the library's data builder, collator and Trainer,
   zero-shot scoring of the novel classes with the library's evaluation code, for every row of Table 7.
4. `report`: the ablation table (Markdown, JSON) and bar chart; `runner` ties the steps together.
`world` holds the vocabulary and the drawing code.
"""
import importlib

__all__ = ["DemoOptions", "run_demo"]


def __getattr__(name: str):
    # lazy: `t2l demo --help` reads the options without importing torch
    if name == "DemoOptions":
        return importlib.import_module(".options", __name__).DemoOptions
    if name == "run_demo":
        return importlib.import_module(".runner", __name__).run_demo
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
