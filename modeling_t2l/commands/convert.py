"""`t2l convert`: turn an official T2L / EZ-CLIP checkpoint into a directory `from_pretrained` loads."""
from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True,
                        help="official checkpoint (.pt) saved by the T2L / EZ-CLIP code, e.g. model_best_K_400.pt")
    parser.add_argument("--output-dir", required=True, help="directory to write config.json + model.safetensors to")
    parser.add_argument("--text-heads", type=int, default=None,
                        help="attention heads of the text tower (default: width // 64, as the official build_model)")
    parser.add_argument("--vision-heads", type=int, default=None,
                        help="attention heads of the vision tower (default: width // 64, as the official CLIP class)")
    parser.add_argument("--no-processor", action="store_true",
                        help="do not save a T2LProcessor (bundled CLIP tokenizer) next to the weights")


def run(args: argparse.Namespace) -> int:
    from modeling_t2l.models.t2l.conversion import ConversionError, convert_checkpoint, describe

    try:
        model = convert_checkpoint(
            args.checkpoint, args.output_dir, text_heads=args.text_heads, vision_heads=args.vision_heads,
            save_processor=not args.no_processor,
        )
    except ConversionError as err:
        print(f"t2l convert: error: {err}", file=sys.stderr)
        return 1
    names = set(model.trainable_parameter_names())
    trainable = sum(p.numel() for n, p in model.named_parameters() if n in names)
    print(describe(model.config))
    print(f"{trainable:,} T2L parameters (temporal tokens + adapters); written to {args.output_dir}")
    return 0
