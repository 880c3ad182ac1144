"""`t2l evaluate --model M --protocol NAME --data-root R`: every split / seed of a protocol, paper-table numbers.

The data is a registered protocol (`--protocol`), the protocol of a training recipe (`--recipe`, so what `t2l train`
trained on your data is evaluated the same way), or your own lists (`--labels CSV --eval-list [NAME=]LIST ...`).
Any family's saved model works (the Auto classes pick it from its config). Writes `results.json`, `results.md` and
one `confusion_<split>.png` per split into --output-dir. For the 3-seed base-to-novel aggregate pass one model per
seed: `--model train_seed1=run1 --model train_seed2=run2 ...`.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

import yaml

logger = logging.getLogger(__name__)

VIEW_OPTIONS = ("num_clips", "num_crops", "clip_sampling", "clip_seed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", action="append", required=True, metavar="[SEED=]PATH",
                        help="a model folder or Hub id (save_pretrained / t2l train output), or an adapters folder; "
                        "repeat as SEED=PATH for the base-to-novel seeds")
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--protocol", help="a protocol name (see `t2l validate-data --help`)")
    data.add_argument("--recipe", metavar="YAML", help="a training recipe: evaluate on its data.protocol "
                      "(a registered name with its protocol_options, or your own {name, labels, train, eval} lists)")
    data.add_argument("--labels", metavar="CSV", help="your own data: the label file (id,name); with --eval-list")
    parser.add_argument("--eval-list", action="append", default=[], metavar="[NAME=]LIST",
                        help="with --labels: a `<video> <label>` list to score (repeat for several splits)")
    parser.add_argument("--data-root", required=True, help="the folder holding the protocol's videos")
    parser.add_argument("--split", action="append", help="only these eval splits (default: every scored split)")
    parser.add_argument("--num-clips", type=int, default=None, help="temporal views (default: the protocol's, 1)")
    parser.add_argument("--num-crops", type=int, choices=(1, 3), default=None, help="spatial views (default 1)")
    parser.add_argument("--clip-sampling", choices=("uniform", "random"), default=None,
                        help="evenly spaced clips (default) or independent random TSN draws per clip, the TC-CLIP / "
                        "ViFi-CLIP multi-view test (e.g. --num-clips 2 --clip-sampling random --seed 1024)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the random clip draw (default 0); reported in results.json and results.md")
    parser.add_argument("--protocol-option", action="append", default=[], metavar="KEY=VALUE",
                        help="get_protocol option, e.g. hmdb_label_order=legacy, text_mode=templates")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--output-dir", default=None, help="default: eval_results/<protocol>")
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32")
    parser.add_argument("--missing", choices=("error", "skip"), default="error",
                        help="videos of the list that are not under --data-root: fail (default) or leave out")


def load_model_and_processor(path: str, device: str, dtype: str):
    """Any family's model and its processor from a saved folder / Hub id, or a T2L adapters folder."""
    import torch
    from transformers import AutoModelForVideoClassification

    from ..models.registry import get_family
    from ..models.t2l.adapters import ADAPTER_CONFIG_NAME
    from ..models.t2l.modeling_t2l import T2LForVideoClassification
    from ..processing.processing_t2l import T2LProcessor

    torch_dtype = getattr(torch, dtype)
    if (Path(path) / ADAPTER_CONFIG_NAME).is_file():
        model = T2LForVideoClassification.from_adapters(path, dtype=torch_dtype)
    else:
        model = AutoModelForVideoClassification.from_pretrained(path, dtype=torch_dtype)
    try:
        processor = T2LProcessor.from_pretrained(path)
    except (OSError, ValueError) as error:
        defaults = dict(get_family(model.config.model_type).processor_defaults)
        defaults["num_frames"] = model.num_frames or defaults.get("num_frames", 8)
        logger.warning("no processor saved with %s (%s); using the family's defaults for %d frames",
                       path, error, defaults["num_frames"])
        processor = T2LProcessor.from_clip_tokenizer(**defaults)
    return model.to(device).eval(), processor


def build_protocol(args: argparse.Namespace, options: dict):
    """The protocol named by --protocol, --recipe or --labels/--eval-list."""
    from ..data import custom_protocol, get_protocol
    from ..training.arguments import load_recipe

    if args.eval_list and not args.labels:
        raise ValueError("--eval-list needs --labels (the id,name label file of your lists)")
    if args.labels:
        if not args.eval_list:
            raise ValueError("--labels needs at least one --eval-list [NAME=]LIST")
        lists = {}
        for item in args.eval_list:
            name, _, path = item.rpartition("=") if "=" in item else ("", "", item)
            lists[name or Path(path).stem] = path
        return custom_protocol({"name": Path(args.labels).stem, "labels": args.labels, "eval": lists},
                               num_frames=options.get("num_frames", 8), train=False)
    if args.recipe:
        recipe = load_recipe(args.recipe, [f"data.data_root={args.data_root}", "training.use_cpu=true"])
        options = {**recipe.data.protocol_options, **options}
        if isinstance(recipe.data.protocol, dict):
            # evaluate where training validated: the recipe's eval lists, scored
            return custom_protocol(recipe.data.protocol, options["num_frames"], options.get("text_mode", "templates"),
                                   train=False)
        return _get_protocol(recipe.data.protocol, options)
    return _get_protocol(args.protocol, options)


def _get_protocol(name: str, options: dict):
    from ..data import get_protocol

    try:
        return get_protocol(name, **options)
    except TypeError as error:  # an option that is not a protocol field
        raise ValueError(f"--protocol-option: {error}") from None


def run(args: argparse.Namespace) -> int:
    from ..data import MissingVideosError
    from .errors import USER_ERRORS, report

    try:
        return _run(args)
    except MissingVideosError as error:
        advice = "Check --data-root and the folder layout (README, 'Preparing datasets'), run `t2l validate-data`"
        if len(error.missing) < error.total:  # leaving them out helps only when some are there
            advice += ", or pass --missing skip to leave them out"
        return report("evaluate", error.with_advice(advice + "."))
    except USER_ERRORS as error:  # an unknown protocol or split, a bad list or label file, an unreadable model
        return report("evaluate", error)


def _run(args: argparse.Namespace) -> int:
    import torch

    from ..data import get_protocol
    from ..evaluation.evaluate import evaluate_protocol, markdown_table, write_reports

    if args.protocol:
        get_protocol(args.protocol)  # an unknown name fails here (naming the known ones), before a model loads
    options = {}
    for item in args.protocol_option:
        key, separator, value = item.partition("=")
        if not separator:
            raise ValueError(f"--protocol-option {item!r} must look like KEY=VALUE")
        options[key] = yaml.safe_load(value)
    for key in ("num_clips", "num_crops", "clip_sampling"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    if args.seed is not None:
        options["clip_seed"] = args.seed
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    models, processor = {}, None
    for item in args.model:
        seed, _, path = item.rpartition("=") if "=" in item else ("", "", item)
        models[seed or None], processor = load_model_and_processor(path, device, args.dtype)
    options.setdefault("num_frames", processor.num_frames)  # the protocol samples what the model was built for
    protocol = build_protocol(args, options)
    # the views apply to every kind of protocol (a --labels protocol is built without them)
    views = {key: options[key] for key in VIEW_OPTIONS if key in options}
    protocol = dataclasses.replace(protocol, **views) if views else protocol
    model = models[None] if list(models) == [None] else models
    if isinstance(model, dict) and None in model:
        raise ValueError("--model: give every model as SEED=PATH when passing several")
    results = evaluate_protocol(model, processor, protocol, args.data_root, splits=args.split,
                                batch_size=args.batch_size, num_workers=args.num_workers, missing=args.missing)
    output_dir = Path(args.output_dir or Path("eval_results") / protocol.name)
    paths = write_reports(results, output_dir)
    print(markdown_table(results))
    print(f"wrote {paths['json']}, {paths['markdown']} and {len(paths) - 2} confusion matrices")
    return 0
