"""What every family's checkpoint converter shares: the official codes all build on OpenAI CLIP, so their files
differ in names and extras, not in how CLIP is stored.

- reading a file without running pickled code (`read_checkpoint`) and taking its model state dict
  (`clean_state_dict`: a training dict or a bare state dict, `module.` stripped, fp32);
- OpenAI CLIP's layout under a checkpoint's prefixes (`ClipLayout`) and its transformers `CLIPModel` names;
- the towers' dimensions and head counts from the tensor shapes (`clip_config_from_shapes`);
- the refusals that list every unmapped, missing and misshapen key at once (`check_keys`);
- the value checks (`check_tensor_values`): a converter that checks only names and shapes lets NaN / Inf values
  (a diverged run, a bad fp16 cast) and integer tensors where weights belong (which `load_state_dict` copies into
  float parameters without a word) through, so each refuses them too, naming every key.

A family's `conversion.py` keeps its public API (`convert_state_dict`, `convert_checkpoint`, ...) and what only
its checkpoints have (T2L's temporal prompts, TC-CLIP's prompting blocks, ViFi-CLIP's prompt buffers).
"""
from __future__ import annotations

import math
import pickle
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch


class ConversionError(ValueError):
    """The checkpoint cannot be converted; the message names the file (when known) and every offending key."""


# ----------------------------------------------------------------------------------------------------------------
# values
# ----------------------------------------------------------------------------------------------------------------

# Keys listed in one message before "... and N more": a whole broken checkpoint would otherwise print thousands.
MAX_LISTED_KEYS = 20


def _listing(keys: list[str]) -> str:
    shown = ", ".join(keys[:MAX_LISTED_KEYS])
    return shown + (f", ... and {len(keys) - MAX_LISTED_KEYS} more" if len(keys) > MAX_LISTED_KEYS else "")


def tensor_value_problems(state_dict: Mapping[str, torch.Tensor], float_keys: Iterable[str] | None = None) -> list[str]:
    """One line per kind of problem: keys of `float_keys` (default: every key) that are not floating point, and
    floating tensors holding NaN or Inf. An empty list means the values are fit to convert."""
    float_keys = set(state_dict) if float_keys is None else set(float_keys)
    not_float, not_finite = [], []
    for key in sorted(state_dict):
        tensor = state_dict[key]
        if tensor.is_floating_point() or tensor.is_complex():
            # fp16 / bf16 checkpoints are checked in their own dtype: a finite fp16 value stays finite in fp32
            if not bool(torch.isfinite(tensor).all()):
                count = int((~torch.isfinite(tensor)).sum())
                not_finite.append(f"{key} ({count} of {tensor.numel()} values)")
        elif key in float_keys:
            not_float.append(f"{key} ({str(tensor.dtype).replace('torch.', '')})")
    problems = []
    if not_finite:
        problems.append(f"{len(not_finite)} tensor(s) with NaN or Inf values: {_listing(not_finite)}")
    if not_float:
        problems.append(f"{len(not_float)} integer/bool tensor(s) where floating-point weights belong: "
                        f"{_listing(not_float)}")
    return problems


def check_tensor_values(state_dict: Mapping[str, torch.Tensor], float_keys: Iterable[str] | None = None, *,
                        error: type[Exception] = ValueError) -> None:
    """Raise `error` listing every key of `tensor_value_problems`; do nothing when there are none."""
    problems = tensor_value_problems(state_dict, float_keys)
    if problems:
        raise error("refusing to convert tensors with invalid values; " + "; ".join(problems))


# ----------------------------------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------------------------------


class _Inert(dict):
    """Stands in for every class a checkpoint names besides tensors (OmegaConf / yacs configs, optimizer state
    types): it takes any arguments and state and runs none of the named class's code. A dict, so pickled dict
    subclasses (yacs' `CfgNode`) fill it without error."""

    def __init__(self, *args, **kwargs):
        super().__init__()
        self.arguments = args

    def __setstate__(self, state):
        self["__state__"] = state


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only torch's own weights-only globals; any other global becomes `_Inert`."""

    def find_class(self, module, name):
        allowed = torch._weights_only_unpickler._get_allowed_globals()
        full_name = f"{module}.{name}"
        if full_name in allowed:
            return allowed[full_name]
        return type(name, (_Inert,), {"__module__": f"inert.{module}"})


class RestrictedPickle:
    """The `pickle_module` torch.load uses for files that `weights_only=True` refuses."""

    Unpickler = _RestrictedUnpickler
    __name__ = "restricted_pickle"

    @staticmethod
    def load(file, **kwargs):
        return _RestrictedUnpickler(file, **kwargs).load()


def read_checkpoint(path: str | Path, *, pickled_objects: bool = False, mmap: bool = False):
    """The object saved in a checkpoint file, read without executing pickled code.

    `torch.load(weights_only=True)` first. `pickled_objects`: a file that also pickles objects (the official
    TC-CLIP and ViFi-CLIP files pickle their training config) is read again by `RestrictedPickle`, which rebuilds
    tensors and plain containers and turns every other object into an inert placeholder; otherwise it is refused.
    """
    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"{path}: no such checkpoint file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as err:  # weights_only refuses pickled code; anything else is a corrupt or foreign file
        if not pickled_objects:
            raise ConversionError(
                f"{path}: cannot be read with torch.load(weights_only=True) (only tensors and plain containers are "
                f"allowed, pickled code is never executed): {err}"
            ) from err
        safe_error = err
    try:
        return torch.load(path, map_location="cpu", weights_only=False, mmap=mmap, pickle_module=RestrictedPickle)
    except Exception as err:
        raise ConversionError(f"{path}: cannot be read as a checkpoint ({safe_error}; {err})") from err


def strip_module_prefix(key: str) -> str:
    """A key without the `module.` prefix DataParallel / DistributedDataParallel add."""
    return key[len("module."):] if key.startswith("module.") else key


def clean_state_dict(obj, wrapper: str, drop: Iterable[str] = ()) -> dict[str, torch.Tensor]:
    """`{wrapper: state_dict, ...}` (an official training layout) or a bare state dict -> clean fp32 state dict.

    Everything beside `wrapper` (optimizer state, epoch, config, ...) is ignored; `module.` is stripped; keys in
    `drop` (buffers derived from one label set, never weights) are left out; floating tensors become fp32.
    """
    if isinstance(obj, Mapping) and wrapper in obj and not isinstance(obj[wrapper], torch.Tensor):
        obj = obj[wrapper]
    if not isinstance(obj, Mapping) or not obj:
        raise ConversionError(f"expected a state dict or {{{wrapper!r}: ...}}, got {type(obj).__name__}")
    not_tensors = sorted(str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor))
    if not_tensors:
        raise ConversionError(
            f"not a model state dict and no {wrapper!r} entry; non-tensor entries: " + ", ".join(not_tensors)
        )
    drop = set(drop)
    state_dict = {}
    for key, tensor in obj.items():
        name = strip_module_prefix(key)
        if name in state_dict:
            raise ConversionError(f"key {name!r} occurs both with and without the 'module.' prefix")
        if name in drop:
            continue
        state_dict[name] = tensor.detach().to("cpu", torch.float32) if tensor.is_floating_point() else tensor
    return state_dict


# ----------------------------------------------------------------------------------------------------------------
# OpenAI CLIP's layout and its transformers names
# ----------------------------------------------------------------------------------------------------------------

# official -> transformers names inside a block (after `resblocks.{i}.`); the packed in_proj is split separately
CLIP_BLOCK_NAMES = {
    "attn.out_proj.weight": "self_attn.out_proj.weight",
    "attn.out_proj.bias": "self_attn.out_proj.bias",
    "ln_1.weight": "layer_norm1.weight",
    "ln_1.bias": "layer_norm1.bias",
    "ln_2.weight": "layer_norm2.weight",
    "ln_2.bias": "layer_norm2.bias",
    "mlp.c_fc.weight": "mlp.fc1.weight",
    "mlp.c_fc.bias": "mlp.fc1.bias",
    "mlp.c_proj.weight": "mlp.fc2.weight",
    "mlp.c_proj.bias": "mlp.fc2.bias",
}
# nn.MultiheadAttention packs q, k, v in one tensor
PACKED_ATTENTION = {"attn.in_proj_weight": "weight", "attn.in_proj_bias": "bias"}
VISION_LAYERS = "vision_model.encoder.layers."
TEXT_LAYERS = "text_model.encoder.layers."


@dataclass(frozen=True)
class ClipLayout:
    """Where a checkpoint keeps OpenAI CLIP's tensors: the vision root (`"visual."` in OpenAI's own layout and
    T2L's, `"image_encoder."` in TC-CLIP's and ViFi-CLIP's) and the text root (`""`, `"text_encoder."`)."""

    vision: str
    text: str

    @property
    def vision_blocks(self) -> str:
        return f"{self.vision}transformer.resblocks."

    @property
    def text_blocks(self) -> str:
        return f"{self.text}transformer.resblocks."

    @property
    def token_embedding(self) -> str:
        return f"{self.text}token_embedding.weight"

    @property
    def shape_keys(self) -> tuple[str, ...]:
        """The keys `clip_config_from_shapes` reads the dimensions from: without them nothing can be checked."""
        v, t = self.vision, self.text
        return (f"{v}conv1.weight", f"{v}positional_embedding", f"{v}proj", f"{t}positional_embedding",
                f"{t}text_projection")

    @property
    def towers(self) -> dict[str, str]:
        """Block prefix -> transformers layer prefix, per tower."""
        return {self.vision_blocks: VISION_LAYERS, self.text_blocks: TEXT_LAYERS}

    @property
    def transposed(self) -> dict[str, str]:
        """The projections: `x @ proj` in the official code, `nn.Linear` computes `x @ weight.T`."""
        return {
            f"{self.vision}proj": "visual_projection.weight",
            f"{self.text}text_projection": "text_projection.weight",
        }

    def top_level_names(self, token_embedding: bool = True) -> dict[str, str]:
        """Official -> transformers names of the tensors outside the blocks (the projections excluded).
        `token_embedding=False` for checkpoints that never store the token table (it is then unmapped)."""
        v, t = self.vision, self.text
        names = {
            "logit_scale": "logit_scale",
            f"{v}conv1.weight": "vision_model.embeddings.patch_embedding.weight",
            f"{v}class_embedding": "vision_model.embeddings.class_embedding",
            f"{v}positional_embedding": "vision_model.embeddings.position_embedding.weight",
            f"{v}ln_pre.weight": "vision_model.pre_layrnorm.weight",
            f"{v}ln_pre.bias": "vision_model.pre_layrnorm.bias",
            f"{v}ln_post.weight": "vision_model.post_layernorm.weight",
            f"{v}ln_post.bias": "vision_model.post_layernorm.bias",
            f"{t}positional_embedding": "text_model.embeddings.position_embedding.weight",
            f"{t}ln_final.weight": "text_model.final_layer_norm.weight",
            f"{t}ln_final.bias": "text_model.final_layer_norm.bias",
        }
        if token_embedding:
            names[self.token_embedding] = "text_model.embeddings.token_embedding.weight"
        return names

    def map_key(self, key: str, block_names: Mapping[str, str] = CLIP_BLOCK_NAMES,
                token_embedding: bool = True) -> str | None:
        """The transformers name of a CLIP key (for a packed `in_proj`, with a `{q,k,v}` placeholder); None if
        unknown. `block_names`: the block entries (CLIP's, or CLIP's plus a family's additions)."""
        top_level = self.top_level_names(token_embedding)
        if key in top_level:
            return top_level[key]
        if key in self.transposed:
            return self.transposed[key]
        return map_block_key(key, self.towers, block_names)


def map_block_key(key: str, towers: Mapping[str, str], names: Mapping[str, str],
                  attention: str = "self_attn") -> str | None:
    """`<block prefix><i>.<rest>` -> `<layer prefix><i>.<names[rest]>`, a packed `in_proj` -> `<layer prefix><i>.
    <attention>.{q,k,v}_proj.<weight|bias>`; None when the key is in none of `towers` or `rest` is unknown."""
    for official, ours in towers.items():
        m = re.fullmatch(re.escape(official) + r"(\d+)\.(.+)", key)  # anchored: text never matches visual.*
        if m:
            index, rest = m.groups()
            if rest in names:
                return f"{ours}{index}.{names[rest]}"
            if rest in PACKED_ATTENTION:
                return f"{ours}{index}.{attention}.{{q,k,v}}_proj.{PACKED_ATTENTION[rest]}"
    return None


def put_converted(converted: dict[str, torch.Tensor], target: str, tensor: torch.Tensor, *,
                  transpose: bool = False, split: int | None = None) -> None:
    """Store one official tensor under its transformers name(s): transposed (a projection), split into q/k/v (a
    `{q,k,v}` target: thirds, or parts of `split` rows), or copied."""
    if transpose:  # official x @ proj; nn.Linear computes x @ weight.T
        converted[target] = tensor.t().contiguous()
    elif "{q,k,v}" in target:  # nn.MultiheadAttention packs q, k, v along the rows
        parts = tensor.chunk(3, dim=0) if split is None else tensor.split(split, dim=0)
        for name, part in zip("qkv", parts):
            converted[target.replace("{q,k,v}", name)] = part.clone()
    else:
        converted[target] = tensor.clone()


# ----------------------------------------------------------------------------------------------------------------
# configuration from shapes
# ----------------------------------------------------------------------------------------------------------------


def num_blocks(state_dict: Mapping[str, torch.Tensor], prefix: str) -> int:
    """How many `<prefix><i>.` blocks a state dict holds (the largest index + 1)."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    found = [int(m.group(1)) for k in state_dict if (m := pattern.match(k))]
    return max(found) + 1 if found else 0


def attention_heads(width: int, override: int | None, tower: str, option: str) -> int:
    """The heads of a tower: `override`, else the official width // 64. Head counts are not stored in official
    checkpoints; `option` is how the caller spells the override (`--text-heads`, `text_heads`)."""
    heads = width // 64 if override is None else int(override)
    if heads < 1 or width % heads:
        spelt = (lambda value: f"{option} {value}") if option.startswith("--") else (lambda value: f"{option}={value}")
        how = spelt(heads) if override is not None else f"the official default width // 64 = {heads}"
        raise ConversionError(
            f"{tower} width {width} cannot be split into heads with {how}; pass {spelt('N')} with N dividing {width} "
            f"(head counts are not stored in official checkpoints)"
        )
    return heads


def clip_config_from_shapes(state_dict: Mapping[str, torch.Tensor], layout: ClipLayout, vocab_size: int,
                            text_heads: int | None = None, vision_heads: int | None = None,
                            heads_option: str = "{tower}_heads") -> dict:
    """The CLIP part of a family config, read from the tensor shapes: `text_config`, `vision_config` (dicts),
    `projection_dim` and `logit_scale_init_value` (ln 100 when the checkpoint has none).

    The caller checks its own anchor keys first. `heads_option` spells the head overrides in messages
    (`"--{tower}-heads"` for the command line)."""
    conv_key, positions_key = f"{layout.vision}conv1.weight", f"{layout.vision}positional_embedding"
    conv = state_dict[conv_key]
    if conv.ndim != 4 or conv.shape[1] != 3 or conv.shape[2] != conv.shape[3]:
        raise ConversionError(f"{conv_key} has shape {tuple(conv.shape)}, expected (width, 3, patch, patch)")
    vision_width, patch = conv.shape[0], conv.shape[-1]
    positions = state_dict[positions_key].shape[0]
    grid = math.isqrt(positions - 1)
    if grid * grid + 1 != positions:
        raise ConversionError(f"{positions_key} has {positions} positions, not 1 + a square number of patches")
    embed_dim = state_dict[f"{layout.vision}proj"].shape[1]
    context_length, text_width = state_dict[f"{layout.text}positional_embedding"].shape
    vision_layers = num_blocks(state_dict, layout.vision_blocks)
    text_layers = num_blocks(state_dict, layout.text_blocks)
    if not vision_layers or not text_layers:
        raise ConversionError(
            f"found {vision_layers} vision and {text_layers} text transformer blocks; need at least one of each"
        )

    def mlp_size(prefix, width):
        key = f"{prefix}0.mlp.c_fc.weight"
        return state_dict[key].shape[0] if key in state_dict else 4 * width

    def heads(width, override, tower):
        return attention_heads(width, override, tower, heads_option.format(tower=tower))

    common = dict(hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=embed_dim)
    text_config = dict(
        vocab_size=vocab_size, hidden_size=text_width, intermediate_size=mlp_size(layout.text_blocks, text_width),
        num_hidden_layers=text_layers, num_attention_heads=heads(text_width, text_heads, "text"),
        max_position_embeddings=context_length,
        # OpenAI's vocabulary ends with <|startoftext|>, <|endoftext|>; the official codes pool at the largest id
        # (= end-of-text) and pad with 0, which the causal mask makes equivalent to padding with end-of-text.
        bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1, pad_token_id=vocab_size - 1, **common,
    )
    vision_config = dict(
        hidden_size=vision_width, intermediate_size=mlp_size(layout.vision_blocks, vision_width),
        num_hidden_layers=vision_layers, num_attention_heads=heads(vision_width, vision_heads, "vision"),
        image_size=grid * patch, patch_size=patch, num_channels=3, **common,
    )
    logit_scale = state_dict.get("logit_scale")
    return dict(
        text_config=text_config,
        vision_config=vision_config,
        projection_dim=embed_dim,
        logit_scale_init_value=float(logit_scale) if logit_scale is not None else math.log(100.0),
    )


# ----------------------------------------------------------------------------------------------------------------
# refusals and the converted model
# ----------------------------------------------------------------------------------------------------------------


def check_keys(tensors: Mapping[str, torch.Tensor], expected: Mapping[str, tuple[int, ...]], model_name: str, *,
               unmapped: Iterable[str] | None = None, optional: Iterable[str] = (), kind: str = "key(s)") -> None:
    """Refuse, listing every key at once, when `tensors` has keys `expected` lacks (or the given `unmapped`), lacks
    keys of `expected` (but `optional`), or holds a tensor of another shape."""
    optional = set(optional)
    unmapped = sorted(k for k in tensors if k not in expected) if unmapped is None else list(unmapped)
    missing = sorted(k for k in expected if k not in tensors and k not in optional)
    wrong = sorted(
        f"{k}: {tuple(tensors[k].shape)}, expected {expected[k]}"
        for k in expected if k in tensors and tuple(tensors[k].shape) != expected[k]
    )
    if unmapped or missing or wrong:
        parts = []
        if unmapped:
            parts.append(f"{len(unmapped)} unmapped key(s) (not part of the official {model_name} model):\n  "
                         + "\n  ".join(unmapped))
        if missing:
            parts.append(f"{len(missing)} missing {kind}:\n  " + "\n  ".join(missing))
        if wrong:
            parts.append(f"{len(wrong)} {kind} with the wrong shape:\n  " + "\n  ".join(wrong))
        raise ConversionError("refusing to convert an incomplete or unknown checkpoint; " + "\n".join(parts))


def build_converted(model_class, config, converted: Mapping[str, torch.Tensor]):
    """A `model_class(config)` (eval mode) whose base model (`base_model_prefix`) holds exactly `converted`
    (buffers `position_ids` aside): a disagreement is a bug of the mapping, not bad input."""
    model = model_class(config)
    base_model = getattr(model, model.base_model_prefix)
    result = base_model.load_state_dict(dict(converted), strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("position_ids")]
    if missing or result.unexpected_keys:
        raise ConversionError(
            f"the converted weights do not fit {type(base_model).__name__}; missing: " + ", ".join(missing)
            + "; unexpected: " + ", ".join(result.unexpected_keys)
        )
    return model.eval()


def save_converted(model, output_dir: str | Path) -> Path:
    """`model.save_pretrained(output_dir)`, the directory made first; returns it as a `Path`."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output_dir)
    return output_dir


def describe_towers(config, vision_extra: str = "", text_extra: str | None = None) -> str:
    """The first two lines of a converter's summary: one per tower (for the CLI); `text_extra` defaults to the
    context length."""
    v, t = config.vision_config, config.text_config
    if text_extra is None:
        text_extra = f", context {t.max_position_embeddings}"
    return (
        f"vision: width {v.hidden_size}, {v.num_hidden_layers} layers, {v.num_attention_heads} heads, "
        f"patch {v.patch_size}, image {v.image_size}{vision_extra}\n"
        f"text: width {t.hidden_size}, {t.num_hidden_layers} layers, {t.num_attention_heads} heads, "
        f"vocab {t.vocab_size}{text_extra}\n"
    )


__all__ = [
    "CLIP_BLOCK_NAMES",
    "ClipLayout",
    "ConversionError",
    "PACKED_ATTENTION",
    "RestrictedPickle",
    "attention_heads",
    "check_keys",
    "clean_state_dict",
    "clip_config_from_shapes",
    "describe_towers",
    "build_converted",
    "map_block_key",
    "num_blocks",
    "put_converted",
    "save_converted",
    "read_checkpoint",
    "strip_module_prefix",
]
