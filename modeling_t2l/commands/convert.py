"""`t2l convert`: turn an official checkpoint (T2L / EZ-CLIP, or ViFi-CLIP) into a directory `from_pretrained` loads."""
from __future__ import annotations

import argparse
import sys

FAMILIES = ("t2l", "vifi_clip")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True,
                        help="official checkpoint (.pt / .pth): T2L / EZ-CLIP (e.g. model_best_K_400.pt) or ViFi-CLIP")
    parser.add_argument("--output-dir", required=True, help="directory to write config.json + model.safetensors to")
    parser.add_argument("--family", choices=FAMILIES, default=None,
                        help="the checkpoint's model family (default: ViFi-CLIP when its keys say so, else T2L)")
    parser.add_argument("--text-heads", type=int, default=None,
                        help="attention heads of the text tower (default: width // 64, as the official build_model)")
    parser.add_argument("--vision-heads", type=int, default=None,
                        help="attention heads of the vision tower (default: width // 64, as the official CLIP class)")
    parser.add_argument("--clip", default=None,
                        help="ViFi-CLIP: the CLIP checkpoint the token embedding (not stored in ViFi-CLIP files) and "
                             "the tokenizer come from (default: openai/clip-vit-base-patch16)")
    parser.add_argument("--num-frames", type=int, default=None,
                        help="ViFi-CLIP: frames per clip the saved processor samples (default: 32, the official test)")
    parser.add_argument("--no-processor", action="store_true",
                        help="do not save a processor (bundled CLIP tokenizer) next to the weights")


def _detect_family(checkpoint: str) -> str:
    """ViFi-CLIP if its key layout says so; anything else (unreadable files included) goes to the T2L converter,
    whose errors name the problem."""
    from modeling_t2l.models.vifi_clip.conversion import (
        ConversionError,
        extract_state_dict_from_file,
        is_vifi_clip_state_dict,
    )

    try:
        keys = extract_state_dict_from_file(checkpoint).keys()
    except ConversionError:
        return "t2l"
    return "vifi_clip" if is_vifi_clip_state_dict(keys) else "t2l"


def _run_vifi_clip(args: argparse.Namespace) -> int:
    from modeling_t2l.models.vifi_clip.conversion import DEFAULT_CLIP, ConversionError, convert_checkpoint, describe

    try:
        model = convert_checkpoint(
            args.checkpoint, args.output_dir, clip_name_or_path=args.clip or DEFAULT_CLIP,
            num_frames=args.num_frames or 32, text_heads=args.text_heads, vision_heads=args.vision_heads,
            save_processor=not args.no_processor,
        )
    except ConversionError as err:
        print(f"t2l convert: error: {err}", file=sys.stderr)
        return 1
    total = sum(p.numel() for p in model.parameters())
    print(describe(model.config))
    print(f"{total:,} ViFi-CLIP parameters (all trained: full fine-tuning); written to {args.output_dir}")
    return 0


def run(args: argparse.Namespace) -> int:
    family = args.family or _detect_family(args.checkpoint)
    if family == "vifi_clip":
        return _run_vifi_clip(args)
    if args.clip is not None or args.num_frames is not None:
        print("t2l convert: error: --clip and --num-frames apply to ViFi-CLIP checkpoints only (T2L checkpoints "
              "store every tensor and their clip length)", file=sys.stderr)
        return 2
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
