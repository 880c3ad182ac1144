"""PyTorch T2L: a frozen CLIP with per-layer temporal tokens and bottleneck adapters.

Reads top to bottom: output dataclass, losses, the two T2L pieces (adapter, drop-path), the vision layer with
temporal tokens, the text layer, the two towers, the pre-trained base, `T2LModel`, `T2LForVideoClassification`.
CLIP's attention, MLP and embeddings are transformers' own, under CLIP's parameter names, so any CLIP checkpoint
loads with only the T2L tensors reported as new (the MLP's QuickGELU is computed in place, `quick_gelu.py`: the same
values and gradients with less memory). The defaults reproduce the official T2L code
(spec: t2l_reference.md); paper variants are config options.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers import initialization as init
from transformers.masking_utils import create_causal_mask
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.models.clip.modeling_clip import (
    CLIPMLP,
    CLIPAttention,
    CLIPTextEmbeddings,
    CLIPVisionEmbeddings,
    eager_attention_forward,
)
from transformers.modeling_outputs import BaseModelOutputWithPooling
from transformers.utils import ModelOutput, logging

from ...attention_dropout import dropout_attention, uses_dropout_attention
from ...losses import cross_entropy_contrastive_loss, kl_contrastive_loss, tfd_loss
from ...modeling_utils import ZeroShotVideoModelMixin, init_clip_weights, loaded_model
from ...quick_gelu import use_lean_quick_gelu
from .adapters import apply_text_lora, load_adapters, read_adapter_config, save_adapters
from .configuration_t2l import T2LConfig, adapter_hidden_size

logger = logging.get_logger(__name__)

# Names of the parameters T2L adds and trains; everything else is CLIP and stays frozen. `lora_` names exist only
# in the paper's LoRA variant of the text adapters (`adapters.apply_text_lora`).
TRAINABLE_NAME_MARKERS = ("temporal_prompt", "adapter.", "lora_")


@dataclass
class T2LOutput(ModelOutput):
    r"""
    loss (`torch.FloatTensor` of shape `()`, returned with `labels`):
        `loss_contrastive + tfd_loss_weight * loss_tfd`.
    logits (`torch.FloatTensor` of shape `(batch_size, num_texts)`):
        Same as `logits_per_video`; the name `Trainer` and metrics look for.
    logits_per_video (`torch.FloatTensor` of shape `(batch_size, num_texts)`):
        `logit_scale.exp()` times the cosine similarity of every video with every text row.
    logits_per_text (`torch.FloatTensor` of shape `(num_texts, batch_size)`):
        The transpose of `logits_per_video`.
    video_embeds (`torch.FloatTensor` of shape `(batch_size, projection_dim)`):
        L2-normalised video embeddings (mean of the frame embeddings over time, then normalised).
    text_embeds (`torch.FloatTensor` of shape `(num_texts, projection_dim)`):
        L2-normalised text embeddings.
    frame_embeds (`torch.FloatTensor` of shape `(batch_size, num_frames, projection_dim)`):
        Projected per-frame embeddings, not normalised (what the TFD loss sees).
    loss_contrastive (`torch.FloatTensor` of shape `()`, returned with `labels`):
        The video-text contrastive term (symmetric KL by default).
    loss_tfd (`torch.FloatTensor` of shape `()`, returned with `labels`):
        The temporal feature diversity term, before weighting.
    text_model_output (`BaseModelOutputWithPooling`):
        The text tower's output: `last_hidden_state` (num_texts, L, D), `pooler_output` (num_texts, D) at the
        end-of-text token, and with `output_hidden_states` / `output_attentions` one tensor per layer, as CLIP's.
    vision_model_output (`BaseModelOutputWithPooling`):
        The vision tower's output over the B*T frames, video-major: `last_hidden_state` (B*T, L, D),
        `pooler_output` (B*T, D), `hidden_states` (embeddings + one per layer) and `attentions` (B*T, heads,
        L + 1, L + 1) per layer when asked for: the spatial attention, the temporal token being the last key.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    logits_per_video: torch.FloatTensor | None = None
    logits_per_text: torch.FloatTensor | None = None
    video_embeds: torch.FloatTensor | None = None
    text_embeds: torch.FloatTensor | None = None
    frame_embeds: torch.FloatTensor | None = None
    loss_contrastive: torch.FloatTensor | None = None
    loss_tfd: torch.FloatTensor | None = None
    text_model_output: BaseModelOutputWithPooling | None = None
    vision_model_output: BaseModelOutputWithPooling | None = None

    def to_tuple(self) -> tuple:
        # as CLIPOutput: the towers' outputs become tuples too
        return tuple(
            self[k].to_tuple() if k in ("text_model_output", "vision_model_output") else self[k] for k in self.keys()
        )


@dataclass
class T2LVideoFeaturesOutput(BaseModelOutputWithPooling):
    r"""
    pooler_output (`torch.FloatTensor` of shape `(batch_size, projection_dim)`):
        The video embedding: the mean of the projected frame embeddings over time, not normalised.
    frame_embeds (`torch.FloatTensor` of shape `(batch_size, num_frames, projection_dim)`):
        Projected per-frame embeddings, not normalised.
    last_hidden_state, hidden_states, attentions:
        The vision tower's, over the B*T frames (see `T2LOutput.vision_model_output`).
    """

    frame_embeds: torch.FloatTensor | None = None


# ----------------------------------------------------------------------------------------------------------------
# Layers
# ----------------------------------------------------------------------------------------------------------------


class T2LAdapterLinear(nn.Linear):
    """A linear layer of the adapter. A leaf class so that `_init_weights` sees it (see `_init_weights`)."""

    def __init__(self, in_features: int, out_features: int, zero_init: bool = False):
        super().__init__(in_features, out_features)
        self.zero_init = zero_init


class T2LAdapter(nn.Module):
    """Bottleneck adapter with its own skip connection: x + fc2(GELU(fc1(x))). fc2 starts at zero (identity)."""

    def __init__(self, width: int, hidden_size: int):
        super().__init__()
        self.fc1 = T2LAdapterLinear(width, hidden_size)
        self.activation = nn.GELU()  # exact erf GELU, not CLIP's QuickGELU
        self.fc2 = T2LAdapterLinear(hidden_size, width, zero_init=True)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return hidden_states + self.fc2(self.activation(self.fc1(hidden_states)))


class T2LDropPath(nn.Module):
    """Stochastic depth on a residual branch of shape (batch, tokens, width).

    `per_token` reproduces the official DropPath, whose mask has one entry per token position shared across the
    batch (its tensors are sequence-first); `per_sample` is the usual one entry per sample.
    """

    def __init__(self, drop_prob: float, mode: str = "per_token"):
        super().__init__()
        self.drop_prob = drop_prob
        self.mode = mode

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return hidden_states
        keep_prob = 1.0 - self.drop_prob
        if self.mode == "per_token":
            mask_shape = (1, hidden_states.shape[1], 1)
        else:
            mask_shape = (hidden_states.shape[0], 1, 1)
        mask = hidden_states.new_empty(mask_shape).bernoulli_(keep_prob)
        return _ScaleByMask.apply(hidden_states, mask, keep_prob)


class _ScaleByMask(torch.autograd.Function):
    """`hidden_states * mask / keep_prob` and its gradient, the same operations in the same order, with the mask
    kept on `ctx` instead of among autograd's saved tensors.

    Why: under activation checkpointing, recomputation stops as soon as the last tensor autograd saved has been
    recomputed. A drop path's multiply is the last op of a T2L block that saves one (its mask), and it sits after
    the MLP's output, so recomputation would have to run the MLP's second matmul (a third of a block's linear
    work) only to reach it. The mask does not depend on the recomputed values, so keeping it from the first
    forward is exact, and recomputation stops before that matmul, as it does for a plain CLIP block.
    """

    @staticmethod
    def forward(ctx, hidden_states: torch.Tensor, mask: torch.Tensor, keep_prob: float) -> torch.Tensor:
        ctx.mask, ctx.keep_prob = mask, keep_prob
        return hidden_states * mask / keep_prob

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        return grad_output / ctx.keep_prob * ctx.mask, None, None


class T2LAttention(CLIPAttention):
    """CLIP's attention (same parameters, same results) that, in training on CPU with attention-probability
    dropout, computes the attention with `dropout_attention` instead of SDPA's unfused math kernel: the same
    computation with masks of the same distribution, without keeping three attention matrices per layer for
    backward (`modeling_t2l/attention_dropout.py`). Everywhere else it is `CLIPAttention.forward`, except that
    `num_queries` (inference) lets only the first positions attend."""

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None,
                num_queries: int | None = None, **kwargs):
        """`num_queries`: only the first `num_queries` positions attend (every position is still a key and a
        value), so the output has `num_queries` positions; inference only (see `T2LVisionEncoderLayer`)."""
        if num_queries is not None:
            return self._first_queries(hidden_states, attention_mask, num_queries, **kwargs)
        if not uses_dropout_attention(self, hidden_states):
            return super().forward(hidden_states, attention_mask, **kwargs)
        input_shape = hidden_states.shape[:-1]
        hidden_shape = (*input_shape, -1, self.head_dim)
        queries = self.q_proj(hidden_states).view(hidden_shape).transpose(1, 2)
        keys = self.k_proj(hidden_states).view(hidden_shape).transpose(1, 2)
        values = self.v_proj(hidden_states).view(hidden_shape).transpose(1, 2)
        # SDPA's rule: `is_causal` holds only for several queries and no explicit mask
        is_causal = kwargs.get("is_causal", self.is_causal) and attention_mask is None and queries.shape[2] > 1
        attention_output = dropout_attention(queries, keys, values, attention_mask, self.scale, self.dropout,
                                             is_causal)
        attention_output = attention_output.transpose(1, 2).reshape(*input_shape, -1).contiguous()
        return self.out_proj(attention_output), None

    def _first_queries(self, hidden_states, attention_mask, num_queries: int, **kwargs):
        if self.training:
            raise ValueError("attention from the first positions only is an inference path (eval mode)")
        batch_size, length = hidden_states.shape[:2]
        queries = self.q_proj(hidden_states[:, :num_queries]).view(batch_size, num_queries, -1, self.head_dim)
        keys = self.k_proj(hidden_states).view(batch_size, length, -1, self.head_dim)
        values = self.v_proj(hidden_states).view(batch_size, length, -1, self.head_dim)
        interface = ALL_ATTENTION_FUNCTIONS.get_interface(self.config._attn_implementation, eager_attention_forward)
        attention_output, attention_weights = interface(
            self, queries.transpose(1, 2), keys.transpose(1, 2), values.transpose(1, 2), attention_mask,
            scaling=self.scale, dropout=0.0, **kwargs)
        attention_output = attention_output.reshape(batch_size, num_queries, -1).contiguous()
        return self.out_proj(attention_output), attention_weights


def _drop_path_rates(config: T2LConfig, num_layers: int) -> list[float]:
    """Official: linspace(0, drop_path_rate, layers), also used as each layer's attention-probability dropout."""
    if num_layers == 1:
        return [0.0]
    return [config.drop_path_rate * i / (num_layers - 1) for i in range(num_layers)]


def _attention_dropout(config: T2LConfig, drop_path_rate: float) -> float:
    """Official: the attention-probability dropout of a layer is its drop-path rate; `attention_dropout` overrides.

    Any attention dropout makes CPU SDPA leave its fused kernel in training; `T2LAttention` then computes the same
    attention without storing the attention matrices.
    """
    return drop_path_rate if config.attention_dropout is None else config.attention_dropout


class T2LVisionEncoderLayer(GradientCheckpointingLayer):
    """A CLIP vision block with T2L's temporal token and spatial adapter.

    For every frame, a temporal token is seeded with this layer's prompt plus the mean of all the frame's tokens,
    passed through the layer's own (frozen) LayerNorm and attention across the T frames of its video (no residual),
    appended to the frame's sequence for the spatial attention, then dropped. The adapter acts on the residual stream
    after attention, before the MLP.
    """

    def __init__(self, config: T2LConfig, layer_idx: int, drop_path_rate: float):
        super().__init__()
        vision_config = config.vision_config
        width = vision_config.hidden_size
        self.num_frames = config.num_frames
        self.self_attn = T2LAttention(vision_config)
        self.self_attn.dropout = _attention_dropout(config, drop_path_rate)
        self.layer_norm1 = nn.LayerNorm(width, eps=vision_config.layer_norm_eps)
        self.mlp = use_lean_quick_gelu(CLIPMLP(vision_config))  # same values, less memory (quick_gelu.py)
        self.layer_norm2 = nn.LayerNorm(width, eps=vision_config.layer_norm_eps)
        self.drop_path = T2LDropPath(drop_path_rate, config.drop_path_mode)

        has_temporal_tokens = config.use_temporal_tokens and (config.temporal_tokens_in_all_layers or layer_idx == 0)
        if has_temporal_tokens:
            self.temporal_prompt = nn.Parameter(torch.empty(config.num_frames, width))
            self.temporal_token_dropout = config.temporal_token_dropout
        else:
            self.temporal_prompt = None
        if config.use_visual_adapters:
            self.adapter = T2LAdapter(width, adapter_hidden_size(width, config.adapter_ratio))
        else:
            self.adapter = None

    def _attention(self, hidden_states: torch.Tensor, num_queries: int | None = None):
        return self.self_attn(self.layer_norm1(hidden_states), None, num_queries=num_queries)

    def forward(self, hidden_states: torch.Tensor, num_outputs: int | None = None):
        """Returns the new hidden states and the spatial attention weights (None unless the backend is eager).

        `num_outputs` (inference): the new states of the first `num_outputs` tokens only; every token still serves
        as a key and a value. A caller that reads only the CLS state needs nothing more of the last block, and
        this skips most of that block's work for the other tokens (their queries, attention output, adapter and
        MLP): the CLS state is the same, computed on fewer rows.
        """
        batch_frames, seq_length, width = hidden_states.shape
        kept = seq_length if num_outputs is None else num_outputs
        if self.temporal_prompt is not None:
            frames = hidden_states.view(-1, self.num_frames, seq_length, width)
            prompt = F.dropout(self.temporal_prompt, self.temporal_token_dropout, self.training)
            seeds = prompt + frames.mean(dim=2)  # (B, T, D)
            temporal_tokens = self.drop_path(self._attention(seeds)[0])  # frames of one video attend to each other
            # add dummy sequence dimension: one extra token per frame, appended last, no positional embedding
            with_tokens = torch.cat([hidden_states, temporal_tokens.reshape(batch_frames, 1, width)], dim=1)
            # the updated temporal token is discarded, so only the frame tokens take the residual; slicing the
            # attention output (not the sum) keeps the residual stream contiguous for the adapter's matmul
            attention_output, attention_weights = self._attention(with_tokens, num_outputs)
            hidden_states = hidden_states[:, :kept] + self.drop_path(attention_output)[:, :kept]
        else:
            attention_output, attention_weights = self._attention(hidden_states, num_outputs)
            hidden_states = hidden_states[:, :kept] + self.drop_path(attention_output)

        if self.adapter is not None:
            hidden_states = self.adapter(hidden_states)
        hidden_states = hidden_states + self.drop_path(self.mlp(self.layer_norm2(hidden_states)))
        return hidden_states, attention_weights


class T2LTextEncoderLayer(GradientCheckpointingLayer):
    """A CLIP text block with the same bottleneck adapter after the attention residual."""

    def __init__(self, config: T2LConfig, drop_path_rate: float):
        super().__init__()
        text_config = config.text_config
        width = text_config.hidden_size
        self.self_attn = T2LAttention(text_config)
        self.self_attn.dropout = _attention_dropout(config, drop_path_rate)
        self.layer_norm1 = nn.LayerNorm(width, eps=text_config.layer_norm_eps)
        self.mlp = use_lean_quick_gelu(CLIPMLP(text_config))
        self.layer_norm2 = nn.LayerNorm(width, eps=text_config.layer_norm_eps)
        self.drop_path = T2LDropPath(drop_path_rate, config.drop_path_mode)
        if config.use_text_adapters:
            self.adapter = T2LAdapter(width, adapter_hidden_size(width, config.adapter_ratio))
        else:
            self.adapter = None

    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Returns the new hidden states and the attention weights (None unless the backend is eager)."""
        attention_output, attention_weights = self.self_attn(self.layer_norm1(hidden_states), attention_mask, **kwargs)
        hidden_states = hidden_states + self.drop_path(attention_output)
        if self.adapter is not None:
            hidden_states = self.adapter(hidden_states)
        hidden_states = hidden_states + self.drop_path(self.mlp(self.layer_norm2(hidden_states)))
        return hidden_states, attention_weights


class T2LEncoder(nn.Module):
    """Holds the layers under CLIP's name (`encoder.layers.N`), so CLIP checkpoints load unchanged."""

    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(layers)


class T2LVisionTransformer(nn.Module):
    """CLIP's vision tower over the B*T frames of a batch of videos, with the temporal embedding and T2L layers."""

    _supports_sdpa = True  # read by transformers' composite-model checks, as on CLIP's tower classes

    def __init__(self, config: T2LConfig):
        super().__init__()
        vision_config = config.vision_config
        self.config = vision_config
        width = vision_config.hidden_size
        self.num_frames = config.num_frames
        self.embeddings = CLIPVisionEmbeddings(vision_config)
        # Zero and frozen in the official code (a no-op in every released checkpoint); kept for exact loading.
        self.temporal_embedding = nn.Parameter(torch.zeros(1, config.num_frames, width))
        self.pre_layrnorm = nn.LayerNorm(width, eps=vision_config.layer_norm_eps)
        rates = _drop_path_rates(config, vision_config.num_hidden_layers)
        self.encoder = T2LEncoder(
            [T2LVisionEncoderLayer(config, i, rate) for i, rate in enumerate(rates)]
        )
        self.post_layernorm = nn.LayerNorm(width, eps=vision_config.layer_norm_eps)

    def forward(
        self, pixel_values: torch.Tensor, output_attentions: bool = False, output_hidden_states: bool = False,
        pooled_only: bool = False,
    ) -> BaseModelOutputWithPooling:
        """(B, T, 3, H, W) -> `pooler_output`: CLS states (B*T, D) after the last LayerNorm, video-major.

        `pooled_only` (inference): the last block computes the CLS states alone; `last_hidden_state` is then
        (B*T, 1, D) and no per-layer tensors are returned.
        """
        if pooled_only and (self.training or output_attentions or output_hidden_states):
            raise ValueError("pooled_only is an inference path without per-layer outputs")
        batch_size, num_frames = pixel_values.shape[:2]
        hidden_states = self.embeddings(pixel_values.flatten(0, 1))  # (B*T, L, D)
        seq_length, width = hidden_states.shape[1:]
        # the frame's temporal embedding is added to all of its tokens
        hidden_states = hidden_states.view(batch_size, num_frames, seq_length, width) + self.temporal_embedding[:, :, None]
        hidden_states = self.pre_layrnorm(hidden_states.flatten(0, 1))
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        last = len(self.encoder.layers) - 1
        for index, layer in enumerate(self.encoder.layers):
            if pooled_only and index == last:
                hidden_states, attention_weights = layer(hidden_states, num_outputs=1)
            else:
                hidden_states, attention_weights = layer(hidden_states)
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            if output_attentions:
                all_attentions += (attention_weights,)
        return BaseModelOutputWithPooling(
            last_hidden_state=hidden_states,
            pooler_output=self.post_layernorm(hidden_states[:, 0]),
            hidden_states=all_hidden_states,
            attentions=all_attentions,
        )


class T2LTextTransformer(nn.Module):
    """CLIP's text tower with T2L layers; pools at the end-of-text token as CLIP does."""

    _supports_sdpa = True

    def __init__(self, config: T2LConfig):
        super().__init__()
        text_config = config.text_config
        self.config = text_config
        self.embeddings = CLIPTextEmbeddings(text_config)
        rates = _drop_path_rates(config, text_config.num_hidden_layers)
        self.encoder = T2LEncoder([T2LTextEncoderLayer(config, rate) for rate in rates])
        self.final_layer_norm = nn.LayerNorm(text_config.hidden_size, eps=text_config.layer_norm_eps)
        self.eos_token_id = text_config.eos_token_id

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> BaseModelOutputWithPooling:
        """(K, L) token ids -> `pooler_output`: states (K, D) at the end-of-text token, after the last LayerNorm."""
        hidden_states = self.embeddings(input_ids=input_ids)
        # The cache goes in positionally: transformers 5.23 names the parameter `past_key_values`, later versions
        # `cache` (and warn on the old keyword). The text tower has no cache.
        causal_mask = create_causal_mask(self.config, hidden_states, attention_mask, None)
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.encoder.layers:
            hidden_states, attention_weights = layer(hidden_states, causal_mask, is_causal=True)
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            if output_attentions:
                all_attentions += (attention_weights,)
        hidden_states = self.final_layer_norm(hidden_states)

        rows = torch.arange(hidden_states.shape[0], device=hidden_states.device)
        if self.eos_token_id == 2:
            # Legacy CLIP configs (eos_token_id 2): the end-of-text token has the largest id of its row.
            eos_positions = input_ids.to(torch.int).argmax(dim=-1)
        else:
            eos_positions = (input_ids.to(torch.int) == self.eos_token_id).int().argmax(dim=-1)
        return BaseModelOutputWithPooling(
            last_hidden_state=hidden_states,
            pooler_output=hidden_states[rows, eos_positions],
            hidden_states=all_hidden_states,
            attentions=all_attentions,
        )


# ----------------------------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------------------------


class T2LPreTrainedModel(ZeroShotVideoModelMixin, PreTrainedModel):
    config: T2LConfig
    base_model_prefix = "t2l"
    main_input_name = "pixel_values"
    input_modalities = ("video", "text")
    supports_gradient_checkpointing = True
    _no_split_modules = ["CLIPTextEmbeddings", "CLIPVisionEmbeddings", "T2LVisionEncoderLayer", "T2LTextEncoderLayer"]
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    trainable_name_markers = TRAINABLE_NAME_MARKERS
    # every class of the family, so remote-code users load the base model and the head from one directory
    remote_code_auto_map = {
        "AutoConfig": "configuration_t2l.T2LConfig",
        "AutoModel": "modeling_t2l.T2LModel",
        "AutoModelForVideoClassification": "modeling_t2l.T2LForVideoClassification",
    }

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """CLIP's initialisation for the CLIP parts, the official one for the T2L parts.

        Special cases sit on modules that own their parameters directly: for custom code, transformers skips
        container modules without direct parameters (hf_integration.md F5), so an `isinstance(module, T2LAdapter)`
        branch would never run.
        """
        super()._init_weights(module)
        factor = self.config.initializer_factor
        if isinstance(module, T2LAdapterLinear):
            if module.zero_init:
                init.zeros_(module.weight)
                init.zeros_(module.bias)
            else:  # nn.Linear's own default, as the official adapter keeps it
                init.kaiming_uniform_(module.weight, a=math.sqrt(5))
                bound = 1.0 / math.sqrt(module.in_features)
                init.uniform_(module.bias, -bound, bound)
        elif isinstance(module, T2LVisionEncoderLayer) and module.temporal_prompt is not None:
            # official: U(-v, v), v = sqrt(6 / (3 * 16 * 16 + D)) with the patch area hard-coded to 16 x 16
            bound = math.sqrt(6.0 / (3 * 16 * 16 + module.temporal_prompt.shape[-1]))
            init.uniform_(module.temporal_prompt, -bound, bound)
        elif isinstance(module, T2LVisionTransformer):
            init.zeros_(module.temporal_embedding)
        elif isinstance(module, T2LModel):
            init.normal_(module.text_projection.weight, std=module.text_projection.in_features**-0.5 * factor)
            init.normal_(module.visual_projection.weight, std=module.visual_projection.in_features**-0.5 * factor)
            init.constant_(module.logit_scale, self.config.logit_scale_init_value)
        else:
            init_clip_weights(module, factor)

    # -- the T2L training set ------------------------------------------------------------------------------------

    def freeze_backbone(self) -> "T2LPreTrainedModel":
        """Freeze CLIP (including logit_scale and the temporal embedding); train temporal tokens and adapters only.

        The same as `apply_trainable_set()`, under the name T2L's users know.
        """
        return self.apply_trainable_set()

    def save_adapters(self, save_directory, base_model_name_or_path: str | None = None):
        """Write only the trained T2L tensors (about 21 MB for ViT-B/16) and a config naming the base CLIP."""
        return save_adapters(self, save_directory, base_model_name_or_path)

    def load_adapters(self, directory, strict: bool = True):
        """Load tensors written by `save_adapters` into this model (built on the same CLIP and settings)."""
        return load_adapters(self, directory, strict=strict)


class T2LModel(T2LPreTrainedModel):
    """T2L: video and text towers of CLIP with temporal tokens and adapters, trained with KL + TFD losses."""

    def __init__(self, config: T2LConfig):
        super().__init__(config)
        # Plain nn.Module towers do not get an attention backend of their own (hf_integration.md F6): a tower whose
        # sub-config names none takes the resolved top-level one; a tower that names one (e.g.
        # `text_config._attn_implementation = "eager"`, or a dict `attn_implementation`) keeps it.
        for key in config.sub_configs:
            sub_config = getattr(config, key, None)
            if sub_config is not None and sub_config._attn_implementation is None:
                sub_config._attn_implementation = config._attn_implementation
        self.text_model = T2LTextTransformer(config)
        self.vision_model = T2LVisionTransformer(config)
        self.visual_projection = nn.Linear(config.vision_config.hidden_size, config.projection_dim, bias=False)
        self.text_projection = nn.Linear(config.text_config.hidden_size, config.projection_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(config.logit_scale_init_value))
        self.post_init()

    def _output_flags(self, output_attentions: bool | None, output_hidden_states: bool | None) -> tuple[bool, bool]:
        config = self.config
        attentions = config.output_attentions if output_attentions is None else output_attentions
        hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        return bool(attentions), bool(hidden_states)

    def _vision(self, pixel_values, output_attentions=None, output_hidden_states=None, pooled_only=False):
        """(B, T, 3, H, W) -> (frame embeddings (B, T, E), the vision tower's output)."""
        if pixel_values.ndim != 5:
            raise ValueError(f"pixel_values must have shape (batch, frames, 3, height, width); got {tuple(pixel_values.shape)}")
        batch_size, num_frames = pixel_values.shape[:2]
        if num_frames != self.config.num_frames:
            raise ValueError(
                f"this model was built for {self.config.num_frames} frames per video (its temporal tokens have that "
                f"shape); got {num_frames}. Sample {self.config.num_frames} frames (the processor does this)."
            )
        output_attentions, output_hidden_states = self._output_flags(output_attentions, output_hidden_states)
        vision_outputs = self.vision_model(pixel_values, output_attentions, output_hidden_states, pooled_only)
        frame_embeds = self.visual_projection(vision_outputs.pooler_output).view(batch_size, num_frames, -1)
        return frame_embeds, vision_outputs

    def get_frame_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, H, W) pixel values -> (B, T, E) projected frame embeddings, not normalised."""
        return self._vision(pixel_values, False, False)[0]

    def get_video_embeddings(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, H, W) -> (B, E): `get_video_features(pixel_values).pooler_output`, with less work in inference:
        nothing reads the last block's states of the tokens other than CLS, so that block computes the CLS states
        alone (about 7 % of a ViT-B/16's FLOPs; the same embeddings to float rounding)."""
        if self.training:
            return self.get_video_features(pixel_values).pooler_output
        return self._vision(pixel_values, False, False, pooled_only=True)[0].mean(dim=1)

    def get_video_features(
        self,
        pixel_values: torch.Tensor,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> T2LVideoFeaturesOutput | tuple:
        """(B, T, 3, H, W) -> `pooler_output` (B, E): the mean of the frame embeddings over time, not normalised.

        `last_hidden_state` (B, T, L, D) and, with `output_hidden_states` / `output_attentions`, the per-layer
        tensors ((B, T, L, D) and (B, T, heads, L + 1, L + 1)) are the vision tower's, per video and frame.
        """
        frame_embeds, vision_outputs = self._vision(pixel_values, output_attentions, output_hidden_states)
        per_video = lambda tensor: tensor.unflatten(0, frame_embeds.shape[:2])  # noqa: E731  (B*T, ...) -> (B, T, ...)
        output = T2LVideoFeaturesOutput(
            last_hidden_state=per_video(vision_outputs.last_hidden_state),
            pooler_output=frame_embeds.mean(dim=1),
            hidden_states=None if vision_outputs.hidden_states is None else tuple(map(per_video, vision_outputs.hidden_states)),
            attentions=None if vision_outputs.attentions is None else tuple(
                None if weights is None else per_video(weights) for weights in vision_outputs.attentions
            ),
            frame_embeds=frame_embeds,
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        return output if return_dict else output.to_tuple()

    def get_text_features(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        video_outputs=None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPooling | tuple:
        """(K, L) token ids -> `pooler_output` (K, E) text embeddings, not normalised (T2L's text ignores the video).

        The other fields are the text tower's (`last_hidden_state` (K, L, D), per-layer tensors when asked for).
        """
        output_attentions, output_hidden_states = self._output_flags(output_attentions, output_hidden_states)
        text_outputs = self.text_model(input_ids, attention_mask, output_attentions, output_hidden_states)
        output = BaseModelOutputWithPooling(
            last_hidden_state=text_outputs.last_hidden_state,
            pooler_output=self.text_projection(text_outputs.pooler_output),
            hidden_states=text_outputs.hidden_states,
            attentions=text_outputs.attentions,
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        return output if return_dict else output.to_tuple()

    def forward(
        self,
        pixel_values: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> T2LOutput | tuple:
        r"""
        pixel_values (`(batch_size, num_frames, 3, height, width)`): the clips, video-major.
        input_ids (`(num_texts, sequence_length)`): one text per class; with `labels` it may hold only the classes
            present in the batch, so the cost of a training step does not grow with the vocabulary.
        labels (`(batch_size,)`, *optional*): the row of `input_ids` that describes each video; returns the loss.
        output_attentions, output_hidden_states (*optional*): per-layer tensors of each tower, in
            `text_model_output` and `vision_model_output` (as CLIP's output carries them). Attention weights
            exist only with the eager backend (`attn_implementation="eager"`); other backends give None per layer.

        Unknown keyword arguments raise TypeError: a misspelt option is never silently ignored.
        """
        output_attentions, output_hidden_states = self._output_flags(output_attentions, output_hidden_states)
        frame_embeds, vision_outputs = self._vision(pixel_values, output_attentions, output_hidden_states)
        text_outputs = self.text_model(input_ids, attention_mask, output_attentions, output_hidden_states)
        video_embeds = F.normalize(frame_embeds.mean(dim=1), dim=-1)
        text_embeds = F.normalize(self.text_projection(text_outputs.pooler_output), dim=-1)
        logits_per_video = self.logit_scale.exp() * video_embeds @ text_embeds.t()

        loss = loss_contrastive = loss_tfd = None
        if labels is not None:
            if self.config.contrastive_loss == "kl":
                # each video against the text of every video's class: the official B x B matrix
                loss_contrastive = kl_contrastive_loss(logits_per_video[:, labels], labels)
            else:
                loss_contrastive = cross_entropy_contrastive_loss(logits_per_video, labels)
            loss_tfd = tfd_loss(frame_embeds, unbiased=self.config.tfd_variance == "unbiased")
            loss = loss_contrastive + self.config.tfd_loss_weight * loss_tfd

        output = T2LOutput(
            loss=loss,
            logits=logits_per_video,
            logits_per_video=logits_per_video,
            logits_per_text=logits_per_video.t(),
            video_embeds=video_embeds,
            text_embeds=text_embeds,
            frame_embeds=frame_embeds,
            loss_contrastive=loss_contrastive,
            loss_tfd=loss_tfd,
            text_model_output=text_outputs,
            vision_model_output=vision_outputs,
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        return output if return_dict else output.to_tuple()


class T2LForVideoClassification(T2LPreTrainedModel):
    """T2L for zero-shot and fine-tuned video classification: the class users train and classify with.

    Classes are text: `forward` scores every video against the text rows it is given (`logits`, (B, K)); the
    zero-shot probabilities of the official test code are `zero_shot_probabilities(video, text, eval_logit_scale)`.
    """

    def __init__(self, config: T2LConfig):
        super().__init__(config)
        self.t2l = T2LModel(config)
        self.post_init()

    def get_frame_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.t2l.get_frame_features(pixel_values)

    def get_video_features(
        self, pixel_values, output_attentions=None, output_hidden_states=None, return_dict=None
    ) -> T2LVideoFeaturesOutput | tuple:
        """See `T2LModel.get_video_features`."""
        return self.t2l.get_video_features(pixel_values, output_attentions, output_hidden_states, return_dict)

    def get_video_embeddings(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """See `T2LModel.get_video_embeddings`."""
        return self.t2l.get_video_embeddings(pixel_values)

    def get_text_features(
        self, input_ids, attention_mask=None, video_outputs=None, output_attentions=None, output_hidden_states=None,
        return_dict=None,
    ) -> BaseModelOutputWithPooling | tuple:
        """See `T2LModel.get_text_features`."""
        return self.t2l.get_text_features(
            input_ids, attention_mask, video_outputs, output_attentions, output_hidden_states, return_dict
        )

    def forward(
        self,
        pixel_values: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> T2LOutput | tuple:
        """See `T2LModel.forward`."""
        return self.t2l(
            pixel_values, input_ids, attention_mask, labels=labels, output_attentions=output_attentions,
            output_hidden_states=output_hidden_states, return_dict=return_dict,
        )

    @classmethod
    def from_clip(
        cls,
        clip_name_or_path: str,
        num_frames: int = 8,
        freeze_backbone: bool = True,
        adapters: str | None = None,
        **kwargs,
    ):
        """Build T2L from any transformers CLIP checkpoint (Hub id or local directory).

        `adapters`: a directory written by `save_adapters`; its T2L tensors are loaded on top of the CLIP.

        Keyword arguments that are `T2LConfig` fields override the config; the others go to `from_pretrained`
        (`dtype`, `revision`, `local_files_only`, `output_loading_info`, ...). Only the T2L tensors are new: adapters
        start as the identity, so at initialisation the text tower equals CLIP's.
        """
        loaded = super().from_clip(clip_name_or_path, num_frames=num_frames, **kwargs)
        model = loaded_model(loaded)
        if not freeze_backbone:  # from_pretrained applied the trainable set; unfreeze CLIP too
            model.requires_grad_(True)
        if adapters is not None:
            model.load_adapters(adapters)
        return loaded

    @classmethod
    def from_adapters(cls, directory, base_model_name_or_path: str | None = None, **from_clip_kwargs):
        """Rebuild the full model from a `save_adapters` folder: `from_clip(base CLIP, saved T2L settings)`, then
        `load_adapters`. `base_model_name_or_path` overrides the saved base (e.g. a local copy of the CLIP)."""
        metadata = read_adapter_config(directory)
        saved = metadata["t2l_config"]
        fields = set(T2LConfig.__dataclass_fields__) - {"text_config", "vision_config", "projection_dim", "logit_scale_init_value"}
        overrides = {key: saved[key] for key in fields if key in saved}
        overrides.update(from_clip_kwargs)
        model = cls.from_clip(base_model_name_or_path or metadata["base_model_name_or_path"], **overrides)
        return load_adapters(model, directory)

    @classmethod
    def for_training(cls, clip_name_or_path: str, *, num_frames: int, config: dict | None = None,
                     options: dict | None = None):
        """`from_clip` for a recipe. `options`: `text_adapter` ("bottleneck", official; or "lora", the paper's
        variant: peft LoRA on the text attention instead of the text bottleneck adapters) and `lora` (its
        settings: r, alpha, dropout, target_modules)."""
        options = dict(options or {})
        text_adapter = options.pop("text_adapter", "bottleneck")
        lora = options.pop("lora", {})
        if options:
            raise ValueError(f"unknown T2L model.options {sorted(options)}; known: ['lora', 'text_adapter']")
        if text_adapter not in ("bottleneck", "lora"):
            raise ValueError(f"model.options.text_adapter must be 'bottleneck' or 'lora', got {text_adapter!r}")
        overrides = dict(config or {})
        if text_adapter == "lora":
            overrides["use_text_adapters"] = False  # the paper variant replaces the text bottleneck adapters
        model = cls.from_clip(clip_name_or_path, num_frames=num_frames, **overrides)
        if text_adapter == "lora":
            apply_text_lora(model, **lora)
        return model


__all__ = [
    "T2LOutput",
    "T2LVideoFeaturesOutput",
    "T2LPreTrainedModel",
    "T2LModel",
    "T2LForVideoClassification",
]
