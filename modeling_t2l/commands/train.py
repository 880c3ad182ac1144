"""`t2l train --config configuration/<family>/X.yaml [section.field=value ...] [--resume | --resume-from CKPT]`.

Fine-tunes the recipe's family with Trainer. Runs as is on one device, and unchanged under `accelerate launch` or
`torchrun` (DDP); FSDP via the recipe's `training.fsdp` (TrainingArguments). The recipe's fields are the dataclasses
of modeling_t2l/training/arguments.py.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True,
                        help="a recipe: a bundled name (e.g. t2l/k400_zero_shot, tc_clip/base_to_novel_hmdb51) or a YAML file "
                        "(configuration/<family>/*.yaml)")
    parser.add_argument("overrides", nargs="*", metavar="section.field=value",
                        help="recipe overrides, e.g. data.data_root=/data/k400 training.num_train_epochs=10")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run from the last checkpoint in training.output_dir")
    parser.add_argument("--resume-from", default=None, metavar="CHECKPOINT", help="continue from this checkpoint")


# t2l train has no flag to leave missing videos out: a training list is meant to be complete
MISSING_ADVICE = ("Check data.data_root and the folder layout (README, 'Preparing datasets'), or list every missing and "
                  "undecodable file with `t2l validate-data --protocol NAME --data-root DIR`.")


def run(args: argparse.Namespace) -> int:
    from ..data import MissingVideosError
    from .errors import USER_ERRORS, report

    try:
        return _run(args)
    except MissingVideosError as error:
        return report("train", error.with_advice(MISSING_ADVICE))
    except USER_ERRORS as error:  # a bad recipe, list or label file, no checkpoint to resume, a full disk
        return report("train", error)


def _run(args: argparse.Namespace) -> int:
    from ..training.trainer import load_recipe, run_training

    recipe = load_recipe(args.config, args.overrides)
    summary = run_training(recipe, resume=args.resume_from or args.resume)
    print(json.dumps({key: summary[key] for key in ("global_step", "best_validation_top1", "model_selection",
                                                    "skipped_videos", "best_model_checkpoint")}, indent=2))
    output_dir = Path(recipe.training.output_dir)
    adapters = output_dir / "adapters"
    also = f", adapters to {adapters}" if adapters.is_dir() else ""
    print(f"model saved to {output_dir} (with its processor and code){also}, "
          f"summary in {output_dir / 'train_results.json'}")
    return 0
