"""The `t2l` command.

Each sub-command lives in its own module under `modeling_t2l.commands` and exposes
`add_arguments(parser)` and `run(args) -> int` (the exit code). Modules are imported only when their
sub-command runs, so `t2l --help` stays fast and one broken optional path cannot break the others.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module under modeling_t2l.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "classify": ("classify", "classify videos against candidate labels (zero-shot)"),
    "convert": ("convert", "convert an official T2L / EZ-CLIP or ViFi-CLIP checkpoint to this library's format"),
    "validate-data": ("validate_data", "check every video of a protocol: missing, undecodable, too short"),
    "train": ("train", "fine-tune a model family with a recipe (a bundled name or a YAML file)"),
    "evaluate": ("evaluate", "evaluate a model on a named protocol"),
    "push": ("push_to_hub", "upload a trained model, its processor, code and model card to the Hub"),
    "benchmark": ("benchmark", "measure speed and memory against CLIP, X-CLIP and full fine-tuning"),
    "demo": ("demo", "the offline quickstart: T2L's experiment in miniature"),
    "index": ("index", "embed a folder of videos (or windows of long videos) into a searchable index"),
    "search": ("search", "find the videos of an index that best match a text query"),
    "timeline": ("timeline", "score a long video window by window: segments, timeline.json and a PNG"),
    "serve": ("serve", "start the Gradio demo page for a model (needs the `demo` extra)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="t2l", description="T2L zero-shot video action recognition (Hugging Face transformers)."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_module=module_name)
        # Arguments are added lazily (see main) so that `t2l --help` imports nothing heavy.
    return parser


def _load(module_name: str):
    return importlib.import_module(f"modeling_t2l.commands.{module_name}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0
    name = argv[0]
    if name not in COMMANDS:
        parser.error(f"unknown command {name!r}; choose from {', '.join(COMMANDS)}")
    module_name, help_text = COMMANDS[name]
    module = _load(module_name)
    sub = argparse.ArgumentParser(prog=f"t2l {name}", description=help_text)
    module.add_arguments(sub)
    args = sub.parse_args(argv[1:])
    from . import _register  # the commands load models through the Auto classes and the pipeline task

    _register()
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
