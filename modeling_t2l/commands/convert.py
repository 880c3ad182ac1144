"""`t2l convert`: turn an official T2L / EZ-CLIP, TC-CLIP or ViFi-CLIP checkpoint into a directory `from_pretrained`
loads."""
from __future__ import annotations

import argparse
import sys

FAMILIES = ("auto", "t2l", "tc_clip", "vifi_clip")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True,
                        help="official checkpoint: T2L / EZ-CLIP (.pt, e.g. model_best_K_400.pt), TC-CLIP or ViFi-CLIP "
                             "(.pth)")
    parser.add_argument("--output-dir", required=True, help="directory to write config.json + model.safetensors to")
    parser.add_argument("--family", choices=FAMILIES, default="auto",
                        help="which official code saved the checkpoint (default: detected from its keys)")
    parser.add_argument("--text-heads", type=int, default=None,
                        help="attention heads of the text tower (default: width // 64, as the official code)")
    parser.add_argument("--vision-heads", type=int, default=None,
                        help="attention heads of the vision tower (default: width // 64, as the official code)")
    parser.add_argument("--no-processor", action="store_true",
                        help="do not save a processor (bundled CLIP tokenizer) next to the weights")
    fine_tuned = parser.add_argument_group("TC-CLIP and ViFi-CLIP")
    fine_tuned.add_argument("--clip", default=None,
                            help="the CLIP the checkpoint was fine-tuned from, for its token table (TC-CLIP and ViFi-CLIP "
                                 "checkpoints do not hold it), e.g. openai/clip-vit-base-patch16 (TC-CLIP also takes an "
                                 "OpenAI state dict; ViFi-CLIP's default is that Hub id)")
    vifi_clip = parser.add_argument_group("ViFi-CLIP only")
    vifi_clip.add_argument("--num-frames", type=int, default=None,
                           help="frames per clip the saved processor samples (default 32, the official test)")
    tc_clip = parser.add_argument_group("TC-CLIP only")
    tc_clip.add_argument("--wise-ft", type=float, default=None, metavar="ALPHA",
                         help="write the WiSE-FT blend (1 - ALPHA) * CLIP + ALPHA * TC-CLIP (official zero-shot: 0.7)")
    tc_clip.add_argument("--context-tokens", type=int, default=None, help="k context tokens (default 96)")
    tc_clip.add_argument("--merge-r", type=int, default=None, help="merges per round (default 100)")
    tc_clip.add_argument("--seed-ratio", type=float, default=None, help="seed tokens per frame / patches (default 0.3)")
    tc_clip.add_argument("--context-length", type=int, default=None,
                         help="text length of the prompts (default 30; 77 for the LLM-name checkpoints)")


def _family(args) -> str:
    if args.family != "auto":
        return args.family
    from modeling_t2l.models.tc_clip.conversion import detect_checkpoint_family

    detected = detect_checkpoint_family(args.checkpoint)
    if detected in ("tc_clip", "vifi_clip"):
        return detected
    return "t2l"  # T2L's converter reports anything else


def run(args: argparse.Namespace) -> int:
    try:
        family = _family(args)
    except Exception as err:  # ConversionError (missing file)
        print(f"t2l convert: error: {err}", file=sys.stderr)
        return 1
    if args.num_frames is not None and family != "vifi_clip":
        print(f"t2l convert: error: --num-frames applies to ViFi-CLIP checkpoints only (this is a {family} checkpoint, "
              f"whose tensors fix its clip length)", file=sys.stderr)
        return 2
    runners = {"tc_clip": _run_tc_clip, "vifi_clip": _run_vifi_clip}
    return runners.get(family, _run_t2l)(args)


def _run_t2l(args: argparse.Namespace) -> int:
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


def _run_tc_clip(args: argparse.Namespace) -> int:
    from modeling_t2l.models.tc_clip.conversion import ConversionError, convert_checkpoint, describe

    overrides = {
        name: value
        for name, value in (("context_tokens", args.context_tokens), ("merge_r", args.merge_r),
                            ("seed_ratio", args.seed_ratio), ("context_length", args.context_length))
        if value is not None
    }
    try:
        model = convert_checkpoint(
            args.checkpoint, args.output_dir, clip=args.clip, text_heads=args.text_heads,
            vision_heads=args.vision_heads, wise_ft_alpha=args.wise_ft, save_processor=not args.no_processor,
            **overrides,
        )
    except ConversionError as err:
        print(f"t2l convert: error: {err}", file=sys.stderr)
        return 1
    print(describe(model.config))
    print(f"TC-CLIP written to {args.output_dir}; the converted weights stay under the checkpoint's licence "
          f"(CC BY-NC 4.0 for the released TC-CLIP models)")
    return 0


def _run_vifi_clip(args: argparse.Namespace) -> int:
    from modeling_t2l.models.vifi_clip.conversion import DEFAULT_CLIP, ConversionError, convert_checkpoint, describe

    try:
        model = convert_checkpoint(
            args.checkpoint, args.output_dir, clip=args.clip or DEFAULT_CLIP, num_frames=args.num_frames or 32,
            text_heads=args.text_heads, vision_heads=args.vision_heads, save_processor=not args.no_processor,
        )
    except ConversionError as err:
        print(f"t2l convert: error: {err}", file=sys.stderr)
        return 1
    total = sum(p.numel() for p in model.parameters())
    print(describe(model.config))
    print(f"{total:,} ViFi-CLIP parameters (all trained: full fine-tuning); written to {args.output_dir}; the weights "
          f"keep their authors' terms (the ViFi-CLIP repository states no licence)")
    return 0
