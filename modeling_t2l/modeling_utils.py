"""The family contract: what every zero-shot video model offers the shared layers.

The pipeline, evaluation, training, benchmark, hub and search code call only these members, never a family's
class by name. A family's `PreTrainedModel` classes (its base model and its `ForVideoClassification` head) mix
`ZeroShotVideoModelMixin` in and set the class attributes below.

Feature methods follow transformers 5.x CLIP and X-CLIP: they return a `BaseModelOutputWithPooling` whose
`pooler_output` is the projected embedding, not L2-normalised. A family whose text tower reads the video
(`text_depends_on_video`, e.g. TC-CLIP's video-conditioned prompts) takes the video's features in
`get_text_features(..., video_outputs=...)` and returns one text embedding per video and text, (B, K, E).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import CLIPConfig, CLIPModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPooling
from transformers.models.clip.modeling_clip import CLIPMLP, CLIPAttention, CLIPTextEmbeddings, CLIPVisionEmbeddings

from .remote_code import write_remote_code

VISUAL_MARKER = "vision_model."
"""Parameter names containing this are the vision tower's (the default optimizer groups' `visual_lr_ratio`)."""


class ZeroShotVideoModelMixin:
    """Mixed into every family's `PreTrainedModel` subclasses (before `PreTrainedModel` in the bases)."""

    text_depends_on_video: bool = False
    """True when the text embedding is a function of the video: no label cache, text encoded per video."""

    trainable_name_markers: Sequence[str] | None = None
    """Substrings of the parameter names the family trains; None means every parameter (full fine-tuning)."""

    remote_code_auto_map: dict[str, str] = {}
    """`auto_map` written into a saved config: {Auto class: "<flat module>.<class>"} for every class of the family."""

    # -- what a clip looks like -------------------------------------------------------------------------------

    @property
    def num_frames(self) -> int | None:
        """Frames per clip the model expects (None: any number)."""
        return getattr(self.config, "num_frames", None)

    @property
    def zero_shot_logit_scale(self) -> float:
        """`scale` in softmax(scale * cos(video, text)) at zero-shot test time.

        A config's `eval_logit_scale` (T2L's official fixed 100) wins; otherwise the learned temperature.
        """
        fixed = getattr(self.config, "eval_logit_scale", None)
        if fixed is not None:
            return float(fixed)
        return float(self.get_logit_scale().exp())

    def get_video_embeddings(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, H, W) -> (B, E) video embeddings alone, not normalised: `get_video_features(...).pooler_output`.
        A family overrides it when the embedding alone takes less work than the whole output."""
        return self.get_video_features(pixel_values).pooler_output

    def get_logit_scale(self) -> torch.Tensor:
        """The learned log-temperature (a scalar tensor)."""
        for name, parameter in self.named_parameters():
            if name == "logit_scale" or name.endswith(".logit_scale"):
                return parameter.detach()
        raise AttributeError(f"{type(self).__name__} has no logit_scale parameter")

    # -- the declared trainable set -------------------------------------------------------------------------

    def trainable_parameter_names(self) -> list[str]:
        """Names of the parameters the family trains."""
        markers = self.trainable_name_markers
        return [name for name, _ in self.named_parameters() if markers is None or any(m in name for m in markers)]

    def apply_trainable_set(self):
        """`requires_grad` exactly on `trainable_parameter_names()`; everything else frozen. Returns the model."""
        trainable = set(self.trainable_parameter_names())
        for name, parameter in self.named_parameters():
            parameter.requires_grad_(name in trainable)
        return self

    @property
    def training_negatives(self) -> str:
        """The texts a training step contrasts each video against: "batch" (the classes present in the batch, the
        official T2L/ActionCLIP KL loss's B x B matrix) or "vocabulary" (every class: a cross-entropy over classes)."""
        return "batch" if getattr(self.config, "contrastive_loss", "cross_entropy") == "kl" else "vocabulary"

    @classmethod
    def for_training(cls, clip_name_or_path: str, *, num_frames: int, config: dict | None = None,
                     options: dict | None = None):
        """The model a recipe trains, built from a CLIP checkpoint (`from_clip`) with the declared trainable set.

        `config`: overrides of the family's config fields; `options`: family build options (none by default).
        """
        if options:
            raise ValueError(f"{cls.__name__} takes no model.options; got {sorted(options)}")
        return cls.from_clip(clip_name_or_path, num_frames=num_frames, **(config or {}))

    @classmethod
    def from_clip(cls, clip_name_or_path: str, **kwargs):
        """The family built from any transformers CLIP checkpoint (Hub id or local directory): its config from the
        CLIP's (`config_from_clip`), every CLIP tensor loaded, the family's own tensors initialised.

        Keyword arguments that are fields of the family's config override it; the others go to `from_pretrained`
        (`dtype`, `revision`, `local_files_only`, `output_loading_info`, ...). Families extend this with their
        own initialisation (T2L: adapters; TC-CLIP: its prompt vectors from CLIP's token embeddings).
        """
        config = cls.config_from_clip(clip_name_or_path, kwargs)
        return cls.from_pretrained(clip_name_or_path, config=config, **kwargs)

    @classmethod
    def config_from_clip(cls, clip_name_or_path: str, kwargs: dict):
        """`cls.config_class` with the towers, projection and logit scale of a CLIP checkpoint's config; the
        config fields found in `kwargs` are removed from it and override the config."""
        fields = set(cls.config_class.__dataclass_fields__)
        overrides = {key: kwargs.pop(key) for key in list(kwargs) if key in fields}
        clip_config = load_clip_config(clip_name_or_path, kwargs)
        return cls.config_class(
            text_config=clip_config.text_config.to_dict(),
            vision_config=clip_config.vision_config.to_dict(),
            projection_dim=clip_config.projection_dim,
            logit_scale_init_value=clip_config.logit_scale_init_value,
            **overrides,
        )

    # Every way of getting a model (the constructor, `from_config`, `from_pretrained` and so the Auto classes,
    # remote code, the pipeline and `from_adapters`) ends with the declared trainable set applied. Construction
    # goes through `post_init`; `from_pretrained` must re-apply it because transformers' loader replaces every
    # loaded tensor with a new `nn.Parameter(requires_grad=True)`. To train more (full fine-tuning), call
    # `model.requires_grad_(True)` after loading.

    def post_init(self):
        super().post_init()
        self.apply_trainable_set()

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        loaded = super().from_pretrained(*args, **kwargs)
        loaded_model(loaded).apply_trainable_set()
        return loaded

    # -- class texts ----------------------------------------------------------------------------------------

    def class_prompts(self, class_names: Sequence[str]) -> list[str] | None:
        """The family's own text for every class (one per class), or None: the shared templates / descriptions.

        A family trained on one fixed prompt form returns it here (TC-CLIP: "a photo of a {class}.", whose first
        words become its learned prompt vectors); the pipeline, the evaluation and the training collator then
        encode these texts unless the caller asks for templates or descriptions explicitly.
        """
        return None

    # -- training hooks -------------------------------------------------------------------------------------

    def optimizer_parameter_groups(self, args) -> list[dict]:
        """AdamW parameter groups for the trainable tensors (`{"params", "lr", "weight_decay", "name"}`).

        Default: every trainable tensor at `args.learning_rate`, vision-tower tensors at `learning_rate *
        args.visual_lr_ratio`, weight decay `args.weight_decay` on all of them (biases and prompts included, as
        the official T2L code does). Families with other official groups override this.
        """
        text, visual = [], []
        for name, parameter in self.named_parameters():
            if parameter.requires_grad:
                (visual if VISUAL_MARKER in name else text).append(parameter)
        visual_lr = args.learning_rate * getattr(args, "visual_lr_ratio", 1.0)
        groups = [
            {"name": "default", "params": text, "lr": args.learning_rate, "weight_decay": args.weight_decay},
            {"name": "visual", "params": visual, "lr": visual_lr, "weight_decay": args.weight_decay},
        ]
        return [group for group in groups if group["params"]]

    def training_batch_transform(self):
        """A function `(batch, rng) -> batch` applied to every training micro-batch before `forward`, or None.

        For batch-level augmentation that changes the targets (TC-CLIP: mixup / cutmix into soft targets).
        `rng` is a `numpy.random.Generator` the trainer seeds from the run's seed and the step.
        """
        return None

    # -- features (implemented by each family) --------------------------------------------------------------

    def get_video_features(self, pixel_values: torch.Tensor, **kwargs) -> BaseModelOutputWithPooling:
        raise NotImplementedError

    def get_text_features(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, video_outputs=None, **kwargs
    ) -> BaseModelOutputWithPooling:
        raise NotImplementedError

    encode_shared_text = None
    """Optional, for `text_depends_on_video` families: `encode_shared_text(input_ids, attention_mask)` returns the
    video-independent part of the text tower for a label set, which `get_text_features(..., shared_text_states=...)`
    then reuses for every batch of videos (the zero-shot classifier computes it once per label set). None: no
    such split; the text tower runs whole for every batch."""

    # -- saving ---------------------------------------------------------------------------------------------

    def save_pretrained(self, save_directory, *args, **kwargs):
        """`PreTrainedModel.save_pretrained`, plus the family's code, flattened, and an `auto_map` naming it.

        transformers' own remote-code copy follows only same-folder imports; the family's modules import the
        shared layers, so the bundle is written by `remote_code.write_remote_code` instead.
        """
        self.config.auto_map = {**(getattr(self.config, "auto_map", None) or {}), **self.remote_code_auto_map}
        result = super().save_pretrained(save_directory, *args, **kwargs)
        if kwargs.get("is_main_process", True):
            write_remote_code([type(self).__module__, type(self.config).__module__], save_directory)
        return result


# `from_pretrained` arguments that also locate a CLIP checkpoint's config
CLIP_HUB_KWARGS = ("cache_dir", "revision", "token", "local_files_only", "force_download", "subfolder")


def load_clip_config(clip_name_or_path: str, from_pretrained_kwargs: dict) -> CLIPConfig:
    """The `CLIPConfig` of a CLIP checkpoint, found with the Hub arguments among `from_pretrained_kwargs`."""
    hub_kwargs = {key: from_pretrained_kwargs[key] for key in CLIP_HUB_KWARGS if key in from_pretrained_kwargs}
    return CLIPConfig.from_pretrained(clip_name_or_path, **hub_kwargs)


def loaded_model(loaded):
    """The model of what `from_pretrained` returned: the model, or `(model, loading_info)` with
    `output_loading_info=True`."""
    return loaded[0] if isinstance(loaded, tuple) else loaded


def frame_mean_video_features(model, pixel_values: torch.Tensor, output_class: type, **kwargs):
    """CLIP applied to every frame, the projected frame features averaged over time (ViFi-CLIP, frozen CLIP):
    (B, T, 3, H, W) -> `output_class(pooler_output=(B, E), frame_embeds=(B, T, E))`, not normalised.
    `model` is a `CLIPModel`; `output_class` a `BaseModelOutputWithPooling` with a `frame_embeds` field;
    `kwargs` go to `get_image_features`."""
    if pixel_values.ndim != 5:
        raise ValueError(
            f"pixel_values must have shape (batch, frames, 3, height, width); got {tuple(pixel_values.shape)}"
        )
    batch_size, num_frames = pixel_values.shape[:2]
    frames = CLIPModel.get_image_features(model, pixel_values=pixel_values.flatten(0, 1), **kwargs)
    frame_embeds = frames.pooler_output.view(batch_size, num_frames, -1)
    return output_class(pooler_output=frame_embeds.mean(dim=1), frame_embeds=frame_embeds)


@torch.no_grad()
def init_clip_weights(module: torch.nn.Module, factor: float) -> None:
    """CLIP's initialisation of its blocks (embeddings, attention, MLP), as `CLIPPreTrainedModel._init_weights`
    does it, for the CLIP parts of every family (whose models do not inherit from CLIP's pre-trained class)."""
    if isinstance(module, CLIPTextEmbeddings):
        init.normal_(module.token_embedding.weight, std=0.02 * factor)
        init.normal_(module.position_embedding.weight, std=0.02 * factor)
        init.copy_(module.position_ids, torch.arange(module.position_ids.shape[-1]).expand((1, -1)))
    elif isinstance(module, CLIPVisionEmbeddings):
        init.normal_(module.class_embedding, std=module.embed_dim**-0.5 * factor)
        init.normal_(module.patch_embedding.weight, std=module.config.initializer_range * factor)
        init.normal_(module.position_embedding.weight, std=module.config.initializer_range * factor)
        init.copy_(module.position_ids, torch.arange(module.num_positions).expand((1, -1)))
    elif isinstance(module, CLIPAttention):
        in_std = module.embed_dim**-0.5 * (2 * module.config.num_hidden_layers) ** -0.5 * factor
        for projection in (module.q_proj, module.k_proj, module.v_proj):
            init.normal_(projection.weight, std=in_std)
        init.normal_(module.out_proj.weight, std=module.embed_dim**-0.5 * factor)
    elif isinstance(module, CLIPMLP):
        width = module.config.hidden_size
        init.normal_(module.fc1.weight, std=(2 * width) ** -0.5 * factor)
        init.normal_(module.fc2.weight, std=width**-0.5 * (2 * module.config.num_hidden_layers) ** -0.5 * factor)


def video_embeddings(model, pixel_values: torch.Tensor) -> torch.Tensor:
    """(B, T, 3, H, W) -> (B, E): `get_video_features(...).pooler_output`, not normalised (the model's
    `get_video_embeddings` where it has one: the same values, maybe for less work)."""
    if hasattr(model, "get_video_embeddings"):
        return model.get_video_embeddings(pixel_values)
    return model.get_video_features(pixel_values).pooler_output


def text_embeddings(model, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, video_outputs=None):
    """(K, L) -> (K, E), or (B, K, E) when the model's text depends on the video (then `video_outputs` is needed)."""
    if model.text_depends_on_video and video_outputs is None:
        raise ValueError(
            f"{type(model).__name__}'s text embedding depends on the video: pass video_outputs "
            f"(what get_video_features returned for the batch)"
        )
    if model.text_depends_on_video:
        return model.get_text_features(input_ids, attention_mask, video_outputs=video_outputs).pooler_output
    return model.get_text_features(input_ids, attention_mask).pooler_output


__all__ = [
    "CLIP_HUB_KWARGS",
    "ZeroShotVideoModelMixin",
    "frame_mean_video_features",
    "init_clip_weights",
    "load_clip_config",
    "loaded_model",
    "text_embeddings",
    "video_embeddings",
]
