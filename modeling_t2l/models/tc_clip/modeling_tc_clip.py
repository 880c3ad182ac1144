"""PyTorch TC-CLIP: CLIP with Temporal Contextualization (vision) and Video-conditional Prompting (text).

Method: "Leveraging Temporal Contextualization for Video Action Recognition" (ECCV 2024, arXiv 2404.09490); the token
merging is the bipartite soft matching of Bolya et al., "Token Merging: Your ViT but Faster", ICLR 2023. This is an
independent implementation written from the method's description (spec: tc_clip_reference.md); it reproduces the
official model's outputs on its parity fixtures.

Reads top to bottom: output dataclasses, the two discrete steps of Temporal Contextualization (seed selection,
bipartite merging), the vision attention and layer, the video-conditional prompting block, the two towers, the
pre-trained base, `TCCLIPModel`, `TCCLIPForVideoClassification`. CLIP's attention, MLP, embeddings and text layers
are transformers' own, under CLIP's parameter names, so a CLIP checkpoint loads with only the TC-CLIP tensors new.

Shapes: B videos, T frames, N = 1 + Np tokens per frame (CLS first), D vision width, K' context tokens per video,
C classes, L text length, W text width, E projection dim.

Numerics of the discrete choices. Seed selection (top-s patches by the [CLS] query's attention) and the merge
ranking (best-partner argmax and the descending sort) are computed in fp32 with autocast off, whatever the model's
dtype or autocast state, so bf16 training picks the seeds fp32 would pick on the same activations. Ties are broken
towards the lower index (stable sort; `max` returns the first maximum): torch's `topk`, which the official code
uses, leaves the order of tied values unspecified. The attention probabilities behind the seeds are recomputed for
the [CLS] rows only, so SDPA (default) and eager attention make the same choices.
"""


from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.masking_utils import create_causal_mask
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPooling
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.models.clip.modeling_clip import (
    CLIPAttention,
    CLIPEncoderLayer,
    CLIPMLP,
    CLIPTextEmbeddings,
    CLIPVisionEmbeddings,
    eager_attention_forward,
)
from transformers.utils import ModelOutput

from ...modeling_utils import ZeroShotVideoModelMixin, init_clip_weights, loaded_model
from ...quick_gelu import use_lean_quick_gelu
from .configuration_tc_clip import TCCLIPConfig, prompt_texts
from .losses import MixupCutmix, label_smoothing_cross_entropy, soft_target_cross_entropy

# The official recipe's learning-rate factor of the prompting group (`lr_10x: true`).
LR_10X_FACTOR = 10.0
# Parameters the official recipe trains at 10x the base learning rate (its `prompt_learner` / `prompt_generation`).
LR_10X_NAME_MARKERS = ("prompt_context", "video_prompt_layers.")
# The one tensor TC-CLIP never trains: the token table lives outside the official model (taken from OpenAI CLIP).
FROZEN_NAME_MARKERS = ("embeddings.token_embedding.",)


@dataclass
class TCCLIPVisionOutput(BaseModelOutputWithPooling):
    r"""
    pooler_output (`torch.FloatTensor` of shape `(batch_size, projection_dim)`):
        The video embedding: the mean over frames of `frame_embeds`, not normalised.
    last_hidden_state (`torch.FloatTensor` of shape `(batch_size, num_frames * tokens_per_frame, hidden_size)`):
        Frame tokens after the last vision layer, frame-major (frame t at `[t * N, (t + 1) * N)`, CLS first).
    frame_embeds (`torch.FloatTensor` of shape `(batch_size, num_frames, projection_dim)`):
        Per-frame CLS after the last layer, `post_layernorm` and `visual_projection`.
    context_embeds (`torch.FloatTensor` of shape `(batch_size, len(vp_levels), num_context_tokens, projection_dim)`):
        The context tokens of the vision layers named by `vp_levels`, after `post_layernorm` and
        `visual_projection`: the keys/values of the video-conditional prompts.
    context_tokens (`tuple(torch.FloatTensor)`, one per vision layer, each `(batch_size, num_context_tokens, hidden_size)`):
        The context tokens built in each layer, after its MLP (keys/values of the next layer).
    context_token_sizes (`tuple(torch.FloatTensor)`, one per vision layer, each `(batch_size, num_context_tokens)`):
        How many seed tokens were merged into each context token.
    seed_indices (`tuple(torch.LongTensor)`, one per vision layer, each `(batch_size, num_frames, seeds_per_frame)`):
        The seed patches of every frame (0-based over the patches, CLS excluded), in descending score order.
    seed_scores (`tuple(torch.FloatTensor)`, one per vision layer, each `(batch_size, num_frames, num_patches)`):
        The ranked score: post-softmax attention of the frame's [CLS] query on its own patches, mean over heads.
    hidden_states (`tuple(torch.FloatTensor)`, returned with `output_hidden_states=True`):
        The embeddings after `pre_layrnorm`, then the frame tokens after every layer, each
        `(batch_size, num_frames * tokens_per_frame, hidden_size)`.
    attentions (`tuple(torch.FloatTensor)`, returned with `output_attentions=True` and eager attention):
        Each layer's attention probabilities per frame, `(batch_size * num_frames, heads, tokens_per_frame,
        tokens_per_frame + K')` (video-major, as CLIP's vision tower gives them per image): the frame's queries over
        its own tokens, then the previous layer's K' context tokens (none in the first layer).
    """

    frame_embeds: torch.FloatTensor | None = None
    context_embeds: torch.FloatTensor | None = None
    context_tokens: tuple[torch.FloatTensor, ...] | None = None
    context_token_sizes: tuple[torch.FloatTensor, ...] | None = None
    seed_indices: tuple[torch.LongTensor, ...] | None = None
    seed_scores: tuple[torch.FloatTensor, ...] | None = None


@dataclass
class TCCLIPTextOutput(BaseModelOutputWithPooling):
    r"""
    pooler_output (`torch.FloatTensor` of shape `(batch_size, num_texts, projection_dim)`):
        One text embedding per video and class (video-conditional), projected, not normalised.
    last_hidden_state (`torch.FloatTensor` of shape `(batch_size, num_texts, sequence_length, hidden_size)`):
        Text states after `final_layer_norm`.
    prompt_tokens (`torch.FloatTensor` of shape `(batch_size, num_texts, num_prompt_context, hidden_size)`):
        The prompt vectors after the last video-conditional prompting block.
    hidden_states (`tuple(torch.FloatTensor)`, returned with `output_hidden_states=True`):
        The embeddings (prompt vectors in place), then the states after every text layer, each
        `(batch_size, num_texts, sequence_length, hidden_size)`; the layers before the first prompting level do not
        depend on the video, so their states are the same for every video (one tensor, expanded).
    attentions (`tuple(torch.FloatTensor)`, returned with `output_attentions=True` and eager attention):
        Each text layer's attention probabilities, `(batch_size, num_texts, heads, sequence_length,
        sequence_length)`, expanded over the videos in the same way (views of the tensors the layers computed).
    """

    prompt_tokens: torch.FloatTensor | None = None


@dataclass
class TCCLIPOutput(ModelOutput):
    r"""
    loss (`torch.FloatTensor` of shape `()`, returned with `labels`):
        The classification loss `loss_ce`.
    logits (`torch.FloatTensor` of shape `(batch_size, num_texts)`):
        Same as `logits_per_video`.
    logits_per_video (`torch.FloatTensor` of shape `(batch_size, num_texts)`):
        `logit_scale.exp()` times the cosine of every video with its own conditioned text of every class.
    logits_per_text (`torch.FloatTensor` of shape `(num_texts, batch_size)`):
        The transpose of `logits_per_video`.
    video_embeds (`torch.FloatTensor` of shape `(batch_size, projection_dim)`):
        L2-normalised video embeddings.
    text_embeds (`torch.FloatTensor` of shape `(batch_size, num_texts, projection_dim)`):
        L2-normalised text embeddings, one per video and class.
    frame_embeds (`torch.FloatTensor` of shape `(batch_size, num_frames, projection_dim)`):
        Projected per-frame embeddings, not normalised.
    context_embeds (`torch.FloatTensor` of shape `(batch_size, len(vp_levels), num_context_tokens, projection_dim)`):
        Projected context tokens of the prompting levels.
    loss_ce (`torch.FloatTensor` of shape `()`, returned with `labels`):
        Cross-entropy of `logits_per_video`: soft targets when `labels` is `(batch_size, num_texts)` (mixup/cutmix),
        label-smoothed (`config.label_smoothing`) when `labels` holds class indices.
    vision_model_output (`TCCLIPVisionOutput`): everything `get_video_features` returns.
    text_model_output (`TCCLIPTextOutput`): everything `get_text_features` returns.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    logits_per_video: torch.FloatTensor | None = None
    logits_per_text: torch.FloatTensor | None = None
    video_embeds: torch.FloatTensor | None = None
    text_embeds: torch.FloatTensor | None = None
    frame_embeds: torch.FloatTensor | None = None
    context_embeds: torch.FloatTensor | None = None
    loss_ce: torch.FloatTensor | None = None
    vision_model_output: TCCLIPVisionOutput | None = None
    text_model_output: TCCLIPTextOutput | None = None

    def to_tuple(self) -> tuple:
        return tuple(
            v.to_tuple() if k in ("vision_model_output", "text_model_output") else v for k, v in self.items()
        )


# ----------------------------------------------------------------------------------------------------------------
# Temporal Contextualization: the discrete steps (fp32, autocast off, ties to the lower index)
# ----------------------------------------------------------------------------------------------------------------


def _descending_order(scores: torch.Tensor) -> torch.Tensor:
    """Indices sorting the last dimension in descending order; ties keep the lower index first."""
    return torch.sort(scores, dim=-1, descending=True, stable=True).indices


def merge_schedule(num_tokens: int, num_context_tokens: int, merge_r: int) -> list[int]:
    """Merges per bipartite round that take `num_tokens` seeds down to `num_context_tokens`.

    First `int((num_tokens - k) / r)` rounds of `min(r, n // 2)`, then rounds of `min(n - k, n // 2)` while more
    than k tokens remain (T=16: 928 seeds -> [100] * 8 + [32]). No round when there are at most k seeds.
    """
    rounds, count = [], num_tokens
    for _ in range(int((num_tokens - num_context_tokens) / merge_r)):
        rounds.append(min(merge_r, count // 2))
        count -= rounds[-1]
    while count > num_context_tokens:
        rounds.append(min(count - num_context_tokens, count // 2))
        count -= rounds[-1]
    return rounds


def _gather_tokens(tokens: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """tokens (B, n, D), index (B, m) -> (B, m, D)."""
    return tokens.gather(1, index[..., None].expand(-1, -1, tokens.shape[-1]))


def bipartite_merge(tokens: torch.Tensor, sizes: torch.Tensor, num_merges: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One round of size-weighted bipartite soft matching on (B, n, D) tokens with (B, n, 1) sizes.

    Tokens alternate into sets A (even positions) and B (odd). Each A token finds its most similar B token (cosine
    of the token features); the `num_merges` A tokens with the best partners are averaged into them, weighted by
    size. The result is [kept A tokens in descending best-score order; all B tokens in their order], which the
    next round splits again, so the order is part of the algorithm.
    """
    with torch.no_grad(), torch.autocast(tokens.device.type, enabled=False):
        metric = tokens.float()
        metric = metric / metric.norm(dim=-1, keepdim=True)
        similarity = metric[:, ::2] @ metric[:, 1::2].transpose(1, 2)  # (B, |A|, |B|)
        best_score, best_partner = similarity.max(dim=-1)
        order = _descending_order(best_score)
        merged, kept = order[:, :num_merges], order[:, num_merges:]
        destination = best_partner.gather(1, merged)

    def merge(values: torch.Tensor) -> torch.Tensor:
        set_a, set_b = values[:, ::2], values[:, 1::2]
        index = destination[..., None].expand(-1, -1, values.shape[-1])
        set_b = set_b.scatter_reduce(1, index, _gather_tokens(set_a, merged), reduce="sum", include_self=True)
        return torch.cat([_gather_tokens(set_a, kept), set_b], dim=1)

    weighted_sum, sizes = merge(tokens * sizes), merge(sizes)
    return weighted_sum / sizes, sizes


def summarize_context_tokens(seeds: torch.Tensor, num_context_tokens: int, merge_r: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T*s, D) seed tokens -> (B, K', D) context tokens and their (B, K') sizes, K' = min(k, T*s)."""
    sizes = seeds.new_ones(seeds.shape[0], seeds.shape[1], 1)  # every layer starts from single seeds
    tokens = seeds
    for num_merges in merge_schedule(seeds.shape[1], num_context_tokens, merge_r):
        tokens, sizes = bipartite_merge(tokens, sizes, num_merges)
    return tokens, sizes[..., 0]


# ----------------------------------------------------------------------------------------------------------------
# Vision layers
# ----------------------------------------------------------------------------------------------------------------


class TCCLIPVisionAttention(CLIPAttention):
    """CLIP attention per frame whose keys/values are the frame's own tokens plus the video's context tokens.

    Context tokens never query. From the second layer on, a learnable per-head bias is added to the logits of the
    local keys (`local_global_bias[h, 0]`) and of the context keys (`local_global_bias[h, 1]`).
    """

    def __init__(self, config, layer_idx: int, use_local_global_bias: bool):
        super().__init__(config)
        self.local_global_bias = (
            nn.Parameter(torch.zeros(self.num_heads, 2)) if use_local_global_bias and layer_idx > 0 else None
        )

    def _bias_mask(self, tokens_per_frame: int, num_context: int, dtype: torch.dtype) -> torch.Tensor | None:
        """(1, H, 1, N + K') additive logits bias: local for the frame's own keys, global for the context keys."""
        if self.local_global_bias is None or num_context == 0:
            return None
        local, context = self.local_global_bias.to(dtype).unbind(-1)
        mask = torch.cat(
            [local[:, None].expand(-1, tokens_per_frame), context[:, None].expand(-1, num_context)], dim=-1
        )
        return mask[None, :, None, :]

    def forward(
        self, hidden_states: torch.Tensor, context_states: torch.Tensor | None, num_frames: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """hidden_states (B, T*N, D) and context_states (B, K', D) after layer_norm1 -> attention output
        (B, T*N, D), seed scores (B, T, N - 1) and the attention probabilities (B*T, H, N, N + K'), or None
        (backends other than eager do not compute them)."""
        batch_size, seq_length, width = hidden_states.shape
        tokens_per_frame = seq_length // num_frames
        frames = hidden_states.reshape(batch_size * num_frames, tokens_per_frame, width)
        head_shape = (batch_size * num_frames, -1, self.num_heads, self.head_dim)
        queries = self.q_proj(frames).view(head_shape).transpose(1, 2)  # (B*T, H, N, hd)
        keys = self.k_proj(frames).view(head_shape).transpose(1, 2)
        values = self.v_proj(frames).view(head_shape).transpose(1, 2)
        num_context = 0
        if context_states is not None:
            num_context = context_states.shape[1]
            # the same context tokens are keys/values of every frame of their video
            context_shape = (batch_size, 1, num_context, self.num_heads, self.head_dim)
            repeat = (batch_size, num_frames, num_context, self.num_heads, self.head_dim)
            context_keys = self.k_proj(context_states).view(context_shape).expand(repeat)
            context_values = self.v_proj(context_states).view(context_shape).expand(repeat)
            keys = torch.cat([keys, context_keys.flatten(0, 1).transpose(1, 2)], dim=2)
            values = torch.cat([values, context_values.flatten(0, 1).transpose(1, 2)], dim=2)
        bias = self._bias_mask(tokens_per_frame, num_context, queries.dtype)

        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        attn_output, attn_weights = attention_interface(
            self, queries, keys, values, bias, scaling=self.scale, dropout=0.0 if not self.training else self.dropout,
        )
        attn_output = self.out_proj(attn_output.reshape(batch_size, seq_length, width))
        seed_scores = self._cls_patch_probabilities(queries, keys, tokens_per_frame, num_context)
        return attn_output, seed_scores.view(batch_size, num_frames, tokens_per_frame - 1), attn_weights

    def _cls_patch_probabilities(self, queries, keys, tokens_per_frame: int, num_context: int) -> torch.Tensor:
        """Post-softmax attention of each frame's [CLS] query on its own patches, mean over heads, in fp32.

        The softmax runs over all N + K' keys with the bias; the CLS and context keys are then dropped.
        """
        with torch.no_grad(), torch.autocast(queries.device.type, enabled=False):
            logits = (queries[:, :, :1].float() @ keys.float().transpose(-1, -2)) * self.scale  # (B*T, H, 1, N+K')
            bias = self._bias_mask(tokens_per_frame, num_context, torch.float32)
            if bias is not None:
                logits = logits + bias
            probabilities = logits.softmax(dim=-1)[:, :, 0, 1:tokens_per_frame]
            return probabilities.mean(dim=1)


class TCCLIPVisionEncoderLayer(GradientCheckpointingLayer):
    """A CLIP vision layer with Temporal Contextualization.

    Attention over [own frame; previous layer's context tokens], residual on the frame tokens; then the top-s
    patches of every frame (seeds) are merged into this layer's context tokens, which go through the MLP with the
    frame tokens and become the extra keys/values of the next layer.
    """

    def __init__(self, config: TCCLIPConfig, layer_idx: int):
        super().__init__()
        vision_config = config.vision_config
        self.embed_dim = vision_config.hidden_size
        self.self_attn = TCCLIPVisionAttention(vision_config, layer_idx, config.use_local_global_bias)
        self.layer_norm1 = nn.LayerNorm(self.embed_dim, eps=vision_config.layer_norm_eps)
        self.mlp = use_lean_quick_gelu(CLIPMLP(vision_config))  # same values, less memory (quick_gelu.py)
        self.layer_norm2 = nn.LayerNorm(self.embed_dim, eps=vision_config.layer_norm_eps)
        self.seeds_per_frame = config.seeds_per_frame
        self.num_context_tokens = config.context_tokens
        self.merge_r = config.merge_r

    def forward(self, hidden_states: torch.Tensor, context_states: torch.Tensor | None, num_frames: int):
        """(B, T*N, D) frame tokens, (B, K', D) context tokens or None -> (frame tokens, new context tokens, their
        sizes (B, K'), seed indices (B, T, s), seed scores (B, T, N - 1), attention probabilities or None)."""
        batch_size, seq_length, width = hidden_states.shape
        residual = hidden_states
        context_normed = self.layer_norm1(context_states) if context_states is not None else None
        attn_output, seed_scores, attn_weights = self.self_attn(
            self.layer_norm1(hidden_states), context_normed, num_frames
        )
        hidden_states = residual + attn_output  # context tokens get no residual: they are rebuilt below

        seed_index = _descending_order(seed_scores)[..., : self.seeds_per_frame]  # (B, T, s)
        patches = hidden_states.view(batch_size, num_frames, seq_length // num_frames, width)[:, :, 1:]
        seeds = patches.gather(2, seed_index[..., None].expand(-1, -1, -1, width))  # (B, T, s, D), frame-major
        context_states, context_sizes = summarize_context_tokens(
            seeds.flatten(1, 2), self.num_context_tokens, self.merge_r
        )

        hidden_states = hidden_states + self.mlp(self.layer_norm2(hidden_states))
        context_states = context_states + self.mlp(self.layer_norm2(context_states))
        return hidden_states, context_states, context_sizes, seed_index, seed_scores, attn_weights


class TCCLIPVisionTransformer(nn.Module):
    """CLIP's vision tower on every frame of the video, with Temporal Contextualization in every layer."""

    _supports_sdpa = True  # read by transformers' composite-model checks, as on CLIP's tower classes

    def __init__(self, config: TCCLIPConfig):
        super().__init__()
        vision_config = config.vision_config
        self.config = vision_config
        self.embeddings = CLIPVisionEmbeddings(vision_config)
        self.pre_layrnorm = nn.LayerNorm(vision_config.hidden_size, eps=vision_config.layer_norm_eps)
        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList(
            [TCCLIPVisionEncoderLayer(config, i) for i in range(vision_config.num_hidden_layers)]
        )
        self.post_layernorm = nn.LayerNorm(vision_config.hidden_size, eps=vision_config.layer_norm_eps)

    def forward(self, pixel_values: torch.Tensor, output_attentions: bool = False, output_hidden_states: bool = False):
        """(B, T, 3, H, W) -> (frame tokens (B, T*N, D), per-layer outputs, hidden states or None, attention
        probabilities per layer (B*T, H, N, N + K') or None)."""
        batch_size, num_frames = pixel_values.shape[:2]
        hidden_states = self.pre_layrnorm(self.embeddings(pixel_values.flatten(0, 1)))  # (B*T, N, D), no time embedding
        hidden_states = hidden_states.reshape(batch_size, -1, hidden_states.shape[-1])  # frame-major (B, T*N, D)
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        context_states = None
        per_layer = {"context_tokens": [], "context_token_sizes": [], "seed_indices": [], "seed_scores": []}
        for layer in self.encoder.layers:
            hidden_states, context_states, sizes, seed_index, seed_scores, weights = layer(
                hidden_states, context_states, num_frames
            )
            for name, value in zip(per_layer, (context_states, sizes, seed_index, seed_scores)):
                per_layer[name].append(value)
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            if output_attentions:
                all_attentions += (weights,)
        per_layer = {name: tuple(values) for name, values in per_layer.items()}
        return hidden_states, per_layer, all_hidden_states, all_attentions


# ----------------------------------------------------------------------------------------------------------------
# Text side: Video-conditional Prompting
# ----------------------------------------------------------------------------------------------------------------


class TCCLIPVideoPromptAttention(CLIPAttention):
    """Cross-attention of the prompt vectors (queries, text width) on a video's context tokens (projection dim)."""

    def __init__(self, config, context_dim: int):
        super().__init__(config)
        self.k_proj = nn.Linear(context_dim, self.embed_dim)
        self.v_proj = nn.Linear(context_dim, self.embed_dim)

    def forward(self, prompts: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """prompts (1 or B, P, W), context (B, K', E) -> (B, P, W). No mask: every prompt token sees every context
        token of its video."""
        batch_size, num_context = context.shape[:2]
        num_prompts = prompts.shape[1]
        queries = self.q_proj(prompts).view(prompts.shape[0], num_prompts, self.num_heads, self.head_dim)
        queries = queries.expand(batch_size, -1, -1, -1).transpose(1, 2)  # (B, H, P, hd)
        keys = self.k_proj(context).view(batch_size, num_context, self.num_heads, self.head_dim).transpose(1, 2)
        values = self.v_proj(context).view(batch_size, num_context, self.num_heads, self.head_dim).transpose(1, 2)
        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        attn_output, _ = attention_interface(
            self, queries, keys, values, None, scaling=self.scale, dropout=0.0 if not self.training else self.dropout,
        )
        return self.out_proj(attn_output.reshape(batch_size, num_prompts, self.embed_dim))


class TCCLIPVideoPromptLayer(nn.Module):
    """One video-conditional prompting block: the prompt vectors attend to the video's context tokens, then an MLP.

    p = p + CrossAttention(layer_norm1(p), layer_norm_kv(c)); p = p + MLP(layer_norm2(p)).
    """

    def __init__(self, config: TCCLIPConfig):
        super().__init__()
        text_config = config.text_config
        self.layer_norm1 = nn.LayerNorm(text_config.hidden_size, eps=text_config.layer_norm_eps)
        self.layer_norm_kv = nn.LayerNorm(config.projection_dim, eps=text_config.layer_norm_eps)
        self.cross_attn = TCCLIPVideoPromptAttention(text_config, config.projection_dim)
        self.layer_norm2 = nn.LayerNorm(text_config.hidden_size, eps=text_config.layer_norm_eps)
        self.mlp = use_lean_quick_gelu(CLIPMLP(text_config))

    def forward(self, prompts: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        prompts = prompts + self.cross_attn(self.layer_norm1(prompts), self.layer_norm_kv(context))
        return prompts + self.mlp(self.layer_norm2(prompts))


class TCCLIPTextEncoderLayer(CLIPEncoderLayer):
    """CLIP's text layer (same parameters, same computation) that also returns its attention probabilities."""

    def __init__(self, config):
        super().__init__(config)
        use_lean_quick_gelu(self.mlp)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None, **kwargs):
        """(C, L, W) -> (C, L, W) and the attention probabilities (C, H, L, L), or None (non-eager backends)."""
        residual = hidden_states
        hidden_states, attn_weights = self.self_attn(
            hidden_states=self.layer_norm1(hidden_states), attention_mask=attention_mask, **kwargs
        )
        hidden_states = residual + hidden_states
        hidden_states = hidden_states + self.mlp(self.layer_norm2(hidden_states))
        return hidden_states, attn_weights


class TCCLIPTextTransformer(nn.Module):
    """CLIP's text tower with learnable prompt vectors and video-conditional prompting blocks.

    Text positions 1..n (n = `num_prompt_context`, the words of "a photo of a") are replaced by `prompt_context`.
    The layers before the first prompting level do not depend on the video and run once for all videos.
    """

    _supports_sdpa = True  # read by transformers' composite-model checks, as on CLIP's tower classes

    def __init__(self, config: TCCLIPConfig):
        super().__init__()
        text_config = config.text_config
        self.config = text_config
        self.embeddings = CLIPTextEmbeddings(text_config)
        self.prompt_context = nn.Parameter(torch.zeros(config.num_prompt_context, text_config.hidden_size))
        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList(
            [TCCLIPTextEncoderLayer(text_config) for _ in range(text_config.num_hidden_layers)]
        )
        self.video_prompt_layers = nn.ModuleList([TCCLIPVideoPromptLayer(config) for _ in config.resolved_vp_levels])
        self.final_layer_norm = nn.LayerNorm(text_config.hidden_size, eps=text_config.layer_norm_eps)
        self.vp_levels = config.resolved_vp_levels
        self.fp16_token_embeddings = config.fp16_token_embeddings
        self.detach_context_tokens = config.detach_context_tokens
        self.eos_token_id = text_config.eos_token_id

    def embed_prompts(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(C, L) ids -> (C, L, W): token embeddings (fp16-rounded), prompt vectors at 1..n, positions added."""
        num_prompts = self.prompt_context.shape[0]
        if input_ids.shape[1] < num_prompts + 2:
            raise ValueError(
                f"input_ids have {input_ids.shape[1]} positions; TC-CLIP prompts need start-of-text, "
                f"{num_prompts} prompt words and end-of-text at least"
            )
        token_embeds = self.embeddings.token_embedding(input_ids)
        if self.fp16_token_embeddings:
            token_embeds = token_embeds.to(torch.float16).to(token_embeds.dtype)
        prompts = self.prompt_context.to(token_embeds.dtype)[None].expand(input_ids.shape[0], -1, -1)
        inputs_embeds = torch.cat([token_embeds[:, :1], prompts, token_embeds[:, 1 + num_prompts :]], dim=1)
        return self.embeddings(inputs_embeds=inputs_embeds)

    def encode_shared(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The text layers before the first prompting level, which do not depend on the video:
        (C, L) ids -> (C, L, W) states and the attention mask the later layers use."""
        return self._encode_shared(input_ids, attention_mask, None)

    def _encode_shared(self, input_ids, attention_mask, record: Callable | None):
        """`encode_shared`, calling `record(states, None)` after the embeddings and `record(states, attention
        probabilities)` after every layer when `record` is given."""
        hidden_states = self.embed_prompts(input_ids)
        if record is not None:
            record(hidden_states, None, is_layer=False)
        # the cache is passed by position: transformers 5.23 names it past_key_values, later versions cache
        causal_mask = create_causal_mask(self.config, hidden_states, attention_mask, None)
        for layer in self.encoder.layers[: self.vp_levels[0]]:
            hidden_states, weights = layer(hidden_states, causal_mask, is_causal=True)
            if record is not None:
                record(hidden_states, weights)
        return hidden_states, causal_mask

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None,
        context_embeds: torch.Tensor,
        shared: tuple[torch.Tensor, torch.Tensor | None] | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, tuple | None, tuple | None]:
        """(C, L) ids and (B, R, K', E) context embeddings -> pooled (B, C, W), final states (B, C, L, W), the
        last prompting block's output (B, C, n, W), and with `output_hidden_states` / `output_attentions` the
        per-layer states (B, C, L, W) and attention probabilities (B, C, H, L, L), else None.
        `shared`: what `encode_shared` returned for these ids."""
        num_texts, seq_length = input_ids.shape
        batch_size = context_embeds.shape[0]
        num_prompts = self.prompt_context.shape[0]
        if shared is not None and (output_attentions or output_hidden_states):
            raise ValueError(
                "shared_text_states skip the text layers before the first prompting level, so their hidden states "
                "and attentions are not available: call get_text_features without shared_text_states"
            )
        if self.detach_context_tokens:
            context_embeds = context_embeds.detach()
        all_hidden_states = () if output_hidden_states else None
        all_attentions = () if output_attentions else None
        per_video = False

        def record(states: torch.Tensor, weights: torch.Tensor | None, is_layer: bool = True) -> None:
            """Keep a layer's outputs as (B, C, ...): the shared ones (C, ...) expanded over the videos."""
            nonlocal all_hidden_states, all_attentions

            def view(tensor):
                if tensor is None:  # attention probabilities of a backend that does not compute them
                    return None
                if per_video:  # (B*C, ...) video-major
                    return tensor.view(batch_size, num_texts, *tensor.shape[1:])
                return tensor[None].expand(batch_size, *tensor.shape)

            if output_hidden_states:  # states are (C, L, W) shared, or (B, C, L, W) per video already
                all_hidden_states += (states if states.ndim == 4 else view(states),)
            if output_attentions and is_layer:
                all_attentions += (view(weights),)

        if shared is not None:
            hidden_states, causal_mask = shared
        else:
            recorder = record if output_attentions or output_hidden_states else None
            hidden_states, causal_mask = self._encode_shared(input_ids, attention_mask, recorder)
        prompts = None
        for index, layer in enumerate(self.encoder.layers):
            if index < self.vp_levels[0]:
                continue  # in the shared states
            if index in self.vp_levels:
                level = self.vp_levels.index(index)
                width = hidden_states.shape[-1]
                states = hidden_states.view(-1, num_texts, seq_length, width)  # (1 or B, C, L, W)
                prompts = states[:, :, 1 : 1 + num_prompts].reshape(states.shape[0], num_texts * num_prompts, width)
                prompts = self.video_prompt_layers[level](prompts, context_embeds[:, level])  # (B, C*n, W)
                prompts = prompts.view(batch_size, num_texts, num_prompts, width)
                states = states.expand(batch_size, -1, -1, -1)
                states = torch.cat([states[:, :, :1], prompts, states[:, :, 1 + num_prompts :]], dim=2)
                hidden_states = states.flatten(0, 1)  # (B*C, L, W), video-major
                if not per_video and causal_mask is not None and causal_mask.shape[0] > 1:
                    # a per-text (padding) mask: one copy per video, video-major as the states
                    causal_mask = causal_mask.repeat(batch_size, *([1] * (causal_mask.ndim - 1)))
                per_video = True
            hidden_states, weights = layer(hidden_states, causal_mask, is_causal=True)
            if output_attentions or output_hidden_states:
                # the (B, C, L, W) view is what the next layer reads, so gradients reach the recorded states
                hidden_states = hidden_states.view(batch_size, num_texts, seq_length, -1)
                record(hidden_states, weights)
                hidden_states = hidden_states.flatten(0, 1)
        hidden_states = self.final_layer_norm(hidden_states).view(batch_size, num_texts, seq_length, -1)

        if self.eos_token_id == 2:
            # legacy CLIP configs (openai/clip-vit-base-patch16 among them): end-of-text is the largest id of its
            # row, which is also how the official code pools
            eos_positions = input_ids.to(torch.int).argmax(dim=-1)
        else:
            eos_positions = (input_ids == self.eos_token_id).int().argmax(dim=-1)  # the first end-of-text token
        pooled = hidden_states[:, torch.arange(num_texts, device=input_ids.device), eos_positions]
        return pooled, hidden_states, prompts, all_hidden_states, all_attentions


# ----------------------------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------------------------


class TCCLIPPreTrainedModel(ZeroShotVideoModelMixin, PreTrainedModel):
    config: TCCLIPConfig
    base_model_prefix = "tc_clip"
    main_input_name = "pixel_values"
    input_modalities = ("video", "text")
    supports_gradient_checkpointing = True
    _no_split_modules = [
        "CLIPTextEmbeddings", "CLIPVisionEmbeddings", "TCCLIPVisionEncoderLayer", "TCCLIPTextEncoderLayer"
    ]
    _supports_sdpa = True
    _supports_flash_attn = False  # the local-global bias is an additive attention mask
    _supports_flex_attn = False
    _supports_attention_backend = True

    # The family contract (modeling_t2l.modeling_utils.ZeroShotVideoModelMixin).
    text_depends_on_video = True
    # every class of the family, so remote-code users load the base model and the head from one directory
    remote_code_auto_map = {
        "AutoConfig": "configuration_tc_clip.TCCLIPConfig",
        "AutoModel": "modeling_tc_clip.TCCLIPModel",
        "AutoModelForVideoClassification": "modeling_tc_clip.TCCLIPForVideoClassification",
    }

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """CLIP's initialisation for the CLIP parts, the official one for the TC-CLIP parts.

        Special cases sit on modules that own their parameters directly (transformers skips containers without
        direct parameters when it initialises custom code).
        """
        super()._init_weights(module)
        factor = self.config.initializer_factor
        if isinstance(module, TCCLIPVisionAttention) and module.local_global_bias is not None:
            init.trunc_normal_(module.local_global_bias, std=self.config.initializer_range)
        if isinstance(module, TCCLIPTextTransformer):
            # random CoOp-style vectors; `from_clip` sets them to the embeddings of `prompt_context_init`
            init.normal_(module.prompt_context, std=0.02)
        elif isinstance(module, TCCLIPModel):
            init.normal_(module.text_projection.weight, std=module.text_projection.in_features**-0.5 * factor)
            init.normal_(module.visual_projection.weight, std=module.visual_projection.in_features**-0.5 * factor)
            init.constant_(module.logit_scale, self.config.logit_scale_init_value)
        else:
            init_clip_weights(module, factor)

    # -- the family contract -------------------------------------------------------------------------------------

    @property
    def num_frames(self) -> int | None:
        """Frames per clip the processor samples (16 for the released models); the model itself takes any T."""
        return self.config.num_frames

    @property
    def zero_shot_logit_scale(self) -> float:
        """The official test code scores softmax(logits) with the trained scale: exp(logit_scale)."""
        return float(self._tc_clip_model().logit_scale.detach().float().exp())

    def trainable_parameter_names(self) -> list[str]:
        """TC-CLIP fine-tunes everything (logit_scale included) except the token table, which the official model
        does not hold."""
        return [name for name, _ in self.named_parameters() if not any(m in name for m in FROZEN_NAME_MARKERS)]

    def lr_10x_parameter_names(self) -> list[str]:
        """The official recipe's 10x learning-rate group: the prompt vectors and the prompting blocks."""
        return [name for name in self.trainable_parameter_names() if any(m in name for m in LR_10X_NAME_MARKERS)]

    def class_prompts(self, class_names) -> list[str]:
        """The official prompt of every class, "a photo of a {class}." after the official class-name
        preprocessing (`config.parse_capitals`); its first words are where the learned prompt vectors sit."""
        return prompt_texts(class_names, self.config)

    def optimizer_parameter_groups(self, args) -> list[dict]:
        """The official groups: every trainable tensor at `args.learning_rate` except the prompt vectors and the
        prompting blocks, at `LR_10X_FACTOR` times it; weight decay `args.weight_decay` on all of them
        (`logit_scale`, biases and LayerNorms included)."""
        ratio = getattr(args, "visual_lr_ratio", 1.0)
        if ratio != 1.0:
            raise ValueError(
                f"TC-CLIP trains its vision tower at the base learning rate (official groups: base and "
                f"{LR_10X_FACTOR:g}x prompting); visual_lr_ratio must be 1.0, got {ratio}"
            )
        fast = set(self.lr_10x_parameter_names())
        base, prompting = [], []
        for name, parameter in self.named_parameters():
            if parameter.requires_grad:
                (prompting if name in fast else base).append(parameter)
        groups = [
            {"name": "base", "params": base, "lr": args.learning_rate, "weight_decay": args.weight_decay},
            {"name": "prompting_10x", "params": prompting, "lr": args.learning_rate * LR_10X_FACTOR,
             "weight_decay": args.weight_decay},
        ]
        return [group for group in groups if group["params"]]

    def training_batch_transform(self):
        """Mixup / cutmix of every training micro-batch into label-smoothed soft targets (the official training),
        or None when both `config.mixup_alpha` and `config.cutmix_alpha` are 0."""
        config = self.config
        if config.mixup_alpha <= 0 and config.cutmix_alpha <= 0:
            return None
        switch_prob = config.mixup_switch_prob if config.mixup_alpha > 0 and config.cutmix_alpha > 0 else (
            1.0 if config.cutmix_alpha > 0 else 0.0)
        return MixupCutmix(
            smoothing=config.label_smoothing, mixup_alpha=config.mixup_alpha or 1.0,
            cutmix_alpha=config.cutmix_alpha or 1.0, switch_prob=switch_prob,
        )

    def _tc_clip_model(self) -> "TCCLIPModel":
        return self if isinstance(self, TCCLIPModel) else self.tc_clip


class TCCLIPModel(TCCLIPPreTrainedModel):
    """TC-CLIP: CLIP's two towers with Temporal Contextualization and Video-conditional Prompting."""

    def __init__(self, config: TCCLIPConfig):
        super().__init__(config)
        # Plain nn.Module towers get no attention backend of their own: a tower whose sub-config names none takes
        # the resolved top-level one; a tower that names one (e.g. `text_config._attn_implementation = "eager"`,
        # or a dict `attn_implementation`) keeps it.
        for key in config.sub_configs:
            sub_config = getattr(config, key, None)
            if sub_config is not None and sub_config._attn_implementation is None:
                sub_config._attn_implementation = config._attn_implementation
        self.text_model = TCCLIPTextTransformer(config)
        self.vision_model = TCCLIPVisionTransformer(config)
        self.visual_projection = nn.Linear(config.vision_config.hidden_size, config.projection_dim, bias=False)
        self.text_projection = nn.Linear(config.text_config.hidden_size, config.projection_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(config.logit_scale_init_value))
        self.post_init()

    @torch.no_grad()
    def initialize_prompting_from_clip(self, prompt_context_init_ids: list[int]) -> None:
        """The official initialisation of the TC-CLIP text tensors on top of loaded CLIP weights."""
        text_model = self.text_model
        if len(prompt_context_init_ids) != text_model.prompt_context.shape[0]:
            raise ValueError(
                f"{self.config.prompt_context_init!r} tokenises into {len(prompt_context_init_ids)} tokens but the "
                f"model has {text_model.prompt_context.shape[0]} prompt vectors"
            )
        ids = torch.tensor(prompt_context_init_ids, device=text_model.prompt_context.device)
        embeds = text_model.embeddings.token_embedding(ids)
        text_model.prompt_context.copy_(embeds.to(torch.float16).to(embeds.dtype))
        if self.config.vp_init != "clip":
            return
        if self.config.projection_dim != self.config.text_config.hidden_size:
            raise ValueError(
                "vp_init='clip' copies a text layer into each prompting block, which needs projection_dim == text "
                f"width ({self.config.projection_dim} != {self.config.text_config.hidden_size}); use vp_init='random'"
            )
        for level, block in zip(self.config.resolved_vp_levels, text_model.video_prompt_layers):
            source = text_model.encoder.layers[level]
            for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
                getattr(block.cross_attn, name).load_state_dict(getattr(source.self_attn, name).state_dict())
            block.mlp.load_state_dict(source.mlp.state_dict())
            block.layer_norm1.load_state_dict(source.layer_norm1.state_dict())
            block.layer_norm_kv.load_state_dict(source.layer_norm1.state_dict())
            block.layer_norm2.load_state_dict(source.layer_norm2.state_dict())

    def get_input_embeddings(self) -> nn.Embedding:
        """The text tower's token table (frozen: the prompt vectors take the place of its first words' rows)."""
        return self.text_model.embeddings.token_embedding

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.text_model.embeddings.token_embedding = value

    def _project_visual(self, states: torch.Tensor) -> torch.Tensor:
        return self.visual_projection(self.vision_model.post_layernorm(states))

    def _output_flags(self, output_attentions: bool | None, output_hidden_states: bool | None) -> tuple[bool, bool]:
        config = self.config
        attentions = config.output_attentions if output_attentions is None else output_attentions
        hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        return bool(attentions), bool(hidden_states)

    def get_video_features(
        self,
        pixel_values: torch.Tensor,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> TCCLIPVisionOutput | tuple:
        """(B, T, 3, H, W) normalised pixels, any T >= 1 -> `TCCLIPVisionOutput` (`.pooler_output` (B, E)).

        With `output_hidden_states` / `output_attentions` (or the config's), the vision tower's per-layer tensors.
        """
        if pixel_values.ndim != 5:
            raise ValueError(f"pixel_values must have shape (batch, frames, 3, height, width); got {tuple(pixel_values.shape)}")
        batch_size, num_frames = pixel_values.shape[:2]
        output_attentions, output_hidden_states = self._output_flags(output_attentions, output_hidden_states)
        hidden_states, per_layer, all_hidden_states, all_attentions = self.vision_model(
            pixel_values, output_attentions, output_hidden_states
        )
        cls_states = hidden_states.view(batch_size, num_frames, -1, hidden_states.shape[-1])[:, :, 0]
        frame_embeds = self._project_visual(cls_states)  # (B, T, E)
        levels = self.config.resolved_vp_levels
        context_embeds = torch.stack([self._project_visual(per_layer["context_tokens"][i]) for i in levels], dim=1)
        output = TCCLIPVisionOutput(
            last_hidden_state=hidden_states,
            pooler_output=frame_embeds.mean(dim=1),
            hidden_states=all_hidden_states,
            attentions=all_attentions,
            frame_embeds=frame_embeds,
            context_embeds=context_embeds,
            **per_layer,
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        return output if return_dict else output.to_tuple()

    @torch.no_grad()
    def encode_shared_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None):
        """The video-independent part of the text tower for a label set, to pass to `get_text_features` as
        `shared_text_states` for every batch of videos scored against it (inference: no gradient is kept)."""
        return self.text_model.encode_shared(input_ids, attention_mask)

    def get_text_features(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        video_outputs: TCCLIPVisionOutput | None = None,
        shared_text_states: tuple | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> TCCLIPTextOutput | tuple:
        """(C, L) prompt ids ("a photo of a {class}." tokenised) and the videos' `get_video_features` output ->
        `TCCLIPTextOutput` with `.pooler_output` (B, C, E): one text embedding per video and class.

        `shared_text_states` (`encode_shared_text(input_ids, attention_mask)`) skips the text layers before the
        first prompting level, which are the same for every video (then no per-layer tensors can be returned).
        With `output_hidden_states` / `output_attentions` (or the config's), the text tower's per-layer tensors."""
        if video_outputs is None or getattr(video_outputs, "context_embeds", None) is None:
            raise ValueError(
                "TC-CLIP's text embeddings depend on the video (text_depends_on_video): pass "
                "video_outputs=model.get_video_features(pixel_values)"
            )
        if shared_text_states is None:
            output_attentions, output_hidden_states = self._output_flags(output_attentions, output_hidden_states)
        pooled, hidden_states, prompt_tokens, all_hidden_states, all_attentions = self.text_model(
            input_ids, attention_mask, video_outputs.context_embeds, shared=shared_text_states,
            output_attentions=bool(output_attentions), output_hidden_states=bool(output_hidden_states),
        )
        output = TCCLIPTextOutput(
            last_hidden_state=hidden_states, pooler_output=self.text_projection(pooled),
            hidden_states=all_hidden_states, attentions=all_attentions, prompt_tokens=prompt_tokens,
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
    ) -> TCCLIPOutput | tuple:
        r"""
        pixel_values (`(batch_size, num_frames, 3, height, width)`): the clips, any number of frames.
        input_ids (`(num_texts, sequence_length)`): the prompt of every class ("a photo of a {class}.").
        labels (`(batch_size,)` class indices, or `(batch_size, num_texts)` soft targets from mixup/cutmix):
            returns the loss.
        output_attentions, output_hidden_states (*optional*): per-layer tensors of each tower, in
            `text_model_output` and `vision_model_output` (as CLIP's output carries them). Attention weights
            exist only with the eager backend (`attn_implementation="eager"`); other backends give None per layer.

        Unknown keyword arguments raise TypeError: a misspelt option is never silently ignored.
        """
        flags = dict(output_attentions=output_attentions, output_hidden_states=output_hidden_states, return_dict=True)
        video_outputs = self.get_video_features(pixel_values, **flags)
        text_outputs = self.get_text_features(input_ids, attention_mask, video_outputs=video_outputs, **flags)
        video_embeds = F.normalize(video_outputs.pooler_output, dim=-1)
        text_embeds = F.normalize(text_outputs.pooler_output, dim=-1)  # (B, C, E)
        logits_per_video = self.logit_scale.exp() * torch.einsum("be,bce->bc", video_embeds, text_embeds)

        loss = None
        if labels is not None:
            if labels.is_floating_point():
                loss = soft_target_cross_entropy(logits_per_video, labels)
            else:
                loss = label_smoothing_cross_entropy(logits_per_video, labels, self.config.label_smoothing)

        output = TCCLIPOutput(
            loss=loss,
            logits=logits_per_video,
            logits_per_video=logits_per_video,
            logits_per_text=logits_per_video.t(),
            video_embeds=video_embeds,
            text_embeds=text_embeds,
            frame_embeds=video_outputs.frame_embeds,
            context_embeds=video_outputs.context_embeds,
            loss_ce=loss,
            vision_model_output=video_outputs,
            text_model_output=text_outputs,
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        return output if return_dict else output.to_tuple()


class TCCLIPForVideoClassification(TCCLIPPreTrainedModel):
    """TC-CLIP for zero-shot and fine-tuned video classification: classes are text, scored per video."""

    def __init__(self, config: TCCLIPConfig):
        super().__init__(config)
        self.tc_clip = TCCLIPModel(config)
        self.post_init()

    def get_video_features(
        self, pixel_values, output_attentions=None, output_hidden_states=None, return_dict=None
    ) -> TCCLIPVisionOutput | tuple:
        """See `TCCLIPModel.get_video_features`."""
        return self.tc_clip.get_video_features(pixel_values, output_attentions, output_hidden_states, return_dict)

    def get_text_features(
        self, input_ids, attention_mask=None, video_outputs=None, shared_text_states=None, output_attentions=None,
        output_hidden_states=None, return_dict=None,
    ) -> TCCLIPTextOutput | tuple:
        """See `TCCLIPModel.get_text_features`."""
        return self.tc_clip.get_text_features(
            input_ids, attention_mask, video_outputs, shared_text_states, output_attentions, output_hidden_states,
            return_dict,
        )

    def encode_shared_text(self, input_ids, attention_mask=None):
        return self.tc_clip.encode_shared_text(input_ids, attention_mask)

    def forward(
        self,
        pixel_values: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> TCCLIPOutput | tuple:
        """See `TCCLIPModel.forward`."""
        return self.tc_clip(
            pixel_values, input_ids, attention_mask, labels=labels, output_attentions=output_attentions,
            output_hidden_states=output_hidden_states, return_dict=return_dict,
        )

    @classmethod
    def for_training(cls, clip_name_or_path: str, *, num_frames: int, config: dict | None = None,
                     options: dict | None = None):
        """`from_clip` (the official initialisation) with the declared trainable set: everything but the token
        table. Recipes set mixup/cutmix/label smoothing through `model.config` (config fields)."""
        if options:
            raise ValueError(f"{cls.__name__} takes no model.options (use model.config); got {sorted(options)}")
        model = cls.from_clip(clip_name_or_path, num_frames=num_frames, **(config or {}))
        return model.apply_trainable_set()

    @classmethod
    def from_clip(cls, clip_name_or_path: str, prompt_context_init_ids: list[int] | None = None, **kwargs):
        """Build TC-CLIP from a transformers CLIP checkpoint (Hub id or directory), initialised as the official
        training starts: CLIP everywhere, prompt vectors = the fp16 token embeddings of `prompt_context_init`, and
        (with `vp_init="clip"`) each prompting block a copy of the text layer at its level, its key/value
        LayerNorm a copy of the query one.

        `prompt_context_init_ids`: the token ids of `prompt_context_init` (without start/end of text); by default
        from the tokenizer saved with the CLIP. Keyword arguments that are
        `TCCLIPConfig` fields override the config; the others go to `from_pretrained`. Local-global biases keep
        their random initialisation, as in the official code.
        """
        loaded = super().from_clip(clip_name_or_path, **kwargs)
        model = loaded_model(loaded)
        if prompt_context_init_ids is None:
            prompt_context_init_ids = _prompt_init_ids(clip_name_or_path, model.config.prompt_context_init)
        model.tc_clip.initialize_prompting_from_clip(prompt_context_init_ids)
        return loaded


def _prompt_init_ids(clip_name_or_path: str, text: str) -> list[int]:
    """Token ids of `text` (no start/end of text) with the tokenizer saved beside the CLIP weights."""
    from transformers import CLIPTokenizer

    try:
        tokenizer = CLIPTokenizer.from_pretrained(clip_name_or_path)
    except (OSError, ValueError, TypeError) as err:
        raise ValueError(
            f"{clip_name_or_path}: no CLIP tokenizer to tokenise prompt_context_init {text!r} ({err}); pass "
            f"prompt_context_init_ids (OpenAI CLIP: 'a photo of a' is [320, 1125, 539, 320])"
        ) from err
    return tokenizer(text)["input_ids"][1:-1]


__all__ = [
    "TCCLIPForVideoClassification",
    "TCCLIPModel",
    "TCCLIPOutput",
    "TCCLIPPreTrainedModel",
    "TCCLIPTextOutput",
    "TCCLIPVisionOutput",
    "bipartite_merge",
    "merge_schedule",
    "summarize_context_tokens",
]
