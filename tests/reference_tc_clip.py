"""An independent functional TC-CLIP on official state dicts (official key names), written from the spec.

It shares no code with the product: plain torch on the official layout (packed `in_proj`, `x @ proj`), one video
at a time, attention with the query scaled before the product, `torch.topk` for the seeds, ToMe rounds with
`index_add_`, and the text tower run once per video over all classes as the official loop does. The parity tests
check it against the official fixtures, then use it where the fixtures do not reach: other T, k, r, batch sizes,
widths and heads.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _ln(x, sd, prefix, eps=1e-5):
    return F.layer_norm(x, (x.shape[-1],), sd[f"{prefix}.weight"], sd[f"{prefix}.bias"], eps)


def _mlp(x, sd, prefix):
    h = x @ sd[f"{prefix}.c_fc.weight"].t() + sd[f"{prefix}.c_fc.bias"]
    h = h * torch.sigmoid(1.702 * h)  # QuickGELU
    return h @ sd[f"{prefix}.c_proj.weight"].t() + sd[f"{prefix}.c_proj.bias"]


def _heads(x, num_heads):  # (..., L, D) -> (..., H, L, hd)
    return x.reshape(*x.shape[:-1], num_heads, -1).transpose(-2, -3)


def _attention(q, k, v, num_heads, bias=None):
    """q (..., Lq, D), k/v (..., Lk, D) already projected -> (output (..., Lq, D), probabilities (..., H, Lq, Lk))."""
    head_dim = q.shape[-1] // num_heads
    q, k, v = _heads(q, num_heads) * head_dim**-0.5, _heads(k, num_heads), _heads(v, num_heads)
    logits = q @ k.transpose(-1, -2)
    if bias is not None:
        logits = logits + bias
    probs = logits.softmax(dim=-1)
    out = (probs @ v).transpose(-2, -3)
    return out.reshape(*out.shape[:-2], -1), probs


def _packed(sd, prefix, x_q, x_kv, width):
    w, b = sd[f"{prefix}.in_proj_weight"], sd[f"{prefix}.in_proj_bias"]
    q = x_q @ w[:width].t() + b[:width]
    k = x_kv @ w[width : 2 * width].t() + b[width : 2 * width]
    v = x_kv @ w[2 * width :].t() + b[2 * width :]
    return q, k, v


def schedule(start: int, final: int, r: int) -> list[int]:
    rounds, count = [], start
    n_constant = int((start - final) / r)
    for _ in range(max(n_constant, 0)):
        step = min(r, count // 2)
        rounds.append(step)
        count -= step
    while count > final:
        step = min(count - final, count // 2)
        rounds.append(step)
        count -= step
    return rounds


def tome_round(x, size, r):
    """One ToMe round on (n, D) tokens with (n,) sizes."""
    normed = x / x.norm(dim=-1, keepdim=True)
    a_idx = torch.arange(0, x.shape[0], 2)
    b_idx = torch.arange(1, x.shape[0], 2)
    sim = normed.detach()[a_idx] @ normed.detach()[b_idx].t()
    best, partner = sim.max(dim=-1)
    order = best.argsort(descending=True)
    merged, kept = order[:r], order[r:]
    weighted_b = x[b_idx] * size[b_idx, None]
    size_b = size[b_idx]
    weighted_b = weighted_b.index_add(0, partner[merged], x[a_idx][merged] * size[a_idx][merged, None])
    size_b = size_b.index_add(0, partner[merged], size[a_idx][merged])
    kept_tokens = (x[a_idx][kept] * size[a_idx][kept, None]) / size[a_idx][kept, None]
    new_x = torch.cat([kept_tokens, weighted_b / size_b[:, None]])
    return new_x, torch.cat([size[a_idx][kept], size_b])


def vision_forward(sd, video, *, heads, k, r, seed_ratio=0.3):
    """One video (T, 3, H, W) -> dict: frame_embeds (T, E), context tokens per layer (K', D), their sizes, seed
    indices (T, s) and scores (T, Np) per layer, the final cls."""
    pre = "image_encoder"
    conv = sd[f"{pre}.conv1.weight"]
    width, patch = conv.shape[0], conv.shape[-1]
    x = F.conv2d(video, conv, stride=patch).flatten(2).transpose(1, 2)  # (T, Np, D)
    num_frames, num_patches = x.shape[:2]
    x = torch.cat([sd[f"{pre}.class_embedding"].expand(num_frames, 1, width), x], dim=1)
    x = _ln(x + sd[f"{pre}.positional_embedding"], sd, f"{pre}.ln_pre")  # (T, N, D)
    seeds_per_frame = int(num_patches * seed_ratio)
    layers = 1 + max(int(key.split(".")[3]) for key in sd if key.startswith(f"{pre}.transformer.resblocks."))
    ctx = None
    result = {"context": [], "sizes": [], "seed_index": [], "seed_scores": []}
    for i in range(layers):
        p = f"{pre}.transformer.resblocks.{i}"
        h = _ln(x, sd, f"{p}.ln_1")
        q = h @ sd[f"{p}.attn.q_proj.weight"].t() + sd[f"{p}.attn.q_proj.bias"]
        kv_in = h if ctx is None else torch.cat([h, _ln(ctx, sd, f"{p}.ln_1").expand(num_frames, -1, -1)], dim=1)
        key = kv_in @ sd[f"{p}.attn.k_proj.weight"].t() + sd[f"{p}.attn.k_proj.bias"]
        value = kv_in @ sd[f"{p}.attn.v_proj.weight"].t() + sd[f"{p}.attn.v_proj.bias"]
        bias = None
        table = sd.get(f"{p}.attn.local_global_bias_table")
        if ctx is not None and table is not None:
            n_tokens = x.shape[1]
            bias = torch.cat([table[:, :, :1].expand(-1, -1, n_tokens), table[:, :, 1:].expand(-1, -1, ctx.shape[0])], -1)
        out, probs = _attention(q, key, value, heads, bias)  # probs (T, H, N, N + K')
        x = x + out @ sd[f"{p}.attn.out_proj.weight"].t() + sd[f"{p}.attn.out_proj.bias"]
        scores = probs[:, :, 0, 1 : 1 + num_patches].mean(dim=1)  # (T, Np)
        seed_index = scores.topk(seeds_per_frame, dim=-1, largest=True, sorted=True).indices
        tokens = torch.cat([x[t, 1 + seed_index[t]] for t in range(num_frames)])  # frame-major
        size = torch.ones(tokens.shape[0])
        for step in schedule(tokens.shape[0], k, r):
            tokens, size = tome_round(tokens, size, step)
        x = x + _mlp(_ln(x, sd, f"{p}.ln_2"), sd, f"{p}.mlp")
        ctx = tokens + _mlp(_ln(tokens, sd, f"{p}.ln_2"), sd, f"{p}.mlp")
        for name, value_ in zip(result, (ctx, size, seed_index, scores)):
            result[name].append(value_)
    project = lambda t: _ln(t, sd, f"{pre}.ln_post") @ sd[f"{pre}.proj"]  # noqa: E731
    result["frame_embeds"] = project(x[:, 0])
    result["project"] = project
    return result


def text_forward(sd, token_table, input_ids, context_per_level, *, heads, levels, n_ctx=4):
    """All classes for one video: (C, L) ids, context tokens (after ln_post/proj) per level -> (C, E) features and
    the prompt tokens after the last prompting block (C, n, W)."""
    pre = "text_encoder"
    width = token_table.shape[1]
    num_texts, length = input_ids.shape
    emb = token_table[input_ids].half().float()
    ctx = sd["prompt_learner.ctx"]
    x = torch.cat([emb[:, :1], ctx.expand(num_texts, -1, -1), emb[:, 1 + n_ctx :]], dim=1)
    x = x + sd[f"{pre}.positional_embedding"][:length]
    mask = torch.full((length, length), float("-inf")).triu(1)
    layers = 1 + max(int(key.split(".")[3]) for key in sd if key.startswith(f"{pre}.transformer.resblocks."))
    prompts = None
    for i in range(layers):
        if i in levels:
            j = levels.index(i)
            g = f"{pre}.prompt_generation_layer.{j}"
            prompt = x[:, 1 : 1 + n_ctx]
            context = _ln(context_per_level[j].detach(), sd, f"{g}.ln_1_kv").expand(num_texts, -1, -1)
            q, k, v = _packed(sd, f"{g}.attn", _ln(prompt, sd, f"{g}.ln_1"), context, width)
            out, _ = _attention(q, k, v, heads)
            prompt = prompt + out @ sd[f"{g}.attn.out_proj.weight"].t() + sd[f"{g}.attn.out_proj.bias"]
            prompt = prompt + _mlp(_ln(prompt, sd, f"{g}.ln_2"), sd, f"{g}.mlp")
            prompts = prompt
            x = torch.cat([x[:, :1], prompt, x[:, 1 + n_ctx :]], dim=1)
        p = f"{pre}.transformer.resblocks.{i}"
        h = _ln(x, sd, f"{p}.ln_1")
        q, k, v = _packed(sd, f"{p}.attn", h, h, width)
        out, _ = _attention(q, k, v, heads, mask)
        x = x + out @ sd[f"{p}.attn.out_proj.weight"].t() + sd[f"{p}.attn.out_proj.bias"]
        x = x + _mlp(_ln(x, sd, f"{p}.ln_2"), sd, f"{p}.mlp")
    x = _ln(x, sd, f"{pre}.ln_final")
    pooled = x[torch.arange(num_texts), input_ids.argmax(dim=-1)]
    return pooled @ sd[f"{pre}.text_projection"], prompts


def forward(sd, token_table, video, input_ids, *, vision_heads, text_heads, k, r, levels=None, seed_ratio=0.3):
    """(B, T, 3, H, W) video and (C, L) prompt ids -> dict of (B, ...) outputs, one video at a time."""
    text_layers = 1 + max(int(key.split(".")[3]) for key in sd if key.startswith("text_encoder.transformer.resblocks."))
    levels = levels if levels is not None else [text_layers - 1]
    n_ctx = sd["prompt_learner.ctx"].shape[0]
    outputs = {"logits": [], "frame_embeds": [], "video_embeds": [], "text_embeds": [], "context_tokens_proj": [],
               "vp_prompt_tokens": [], "seed_index": [], "seed_scores": [], "context": [], "sizes": []}
    for b in range(video.shape[0]):
        vision = vision_forward(sd, video[b], heads=vision_heads, k=k, r=r, seed_ratio=seed_ratio)
        context = [vision["project"](vision["context"][level]) for level in levels]
        text, prompts = text_forward(sd, token_table, input_ids, context, heads=text_heads, levels=levels, n_ctx=n_ctx)
        video_embed = vision["frame_embeds"].mean(0)
        video_embed = video_embed / video_embed.norm()
        logits = sd["logit_scale"].exp() * (video_embed @ (text / text.norm(dim=-1, keepdim=True)).t())
        for name, value in (
            ("logits", logits), ("frame_embeds", vision["frame_embeds"]), ("video_embeds", video_embed),
            ("text_embeds", text), ("context_tokens_proj", torch.stack(context)), ("vp_prompt_tokens", prompts),
            ("seed_index", torch.stack(vision["seed_index"])), ("seed_scores", torch.stack(vision["seed_scores"])),
            ("context", torch.stack(vision["context"])), ("sizes", torch.stack(vision["sizes"])),
        ):
            outputs[name].append(value)
    return {name: torch.stack(values) for name, values in outputs.items()}


def random_official_state_dict(
    *, vision_width=64, vision_layers=2, patch=8, image=32, text_width=64, text_layers=2, embed_dim=64,
    vocab_size=49408, n_ctx=4, num_prompt_layers=1, max_positions=77, seed=0,
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """A random official TC-CLIP state dict (weights rounded to fp16, as released) and a token table."""
    g = torch.Generator().manual_seed(seed)

    def randn(*shape, std=0.02, mean=0.0):
        return (mean + std * torch.randn(*shape, generator=g)).half().float()

    sd = {"logit_scale": torch.tensor(math.log(1 / 0.07)).half().float()}
    grid = image // patch
    D, W, E = vision_width, text_width, embed_dim
    sd["image_encoder.conv1.weight"] = randn(D, 3, patch, patch, std=0.05)
    sd["image_encoder.class_embedding"] = randn(D, std=D**-0.5)
    sd["image_encoder.positional_embedding"] = randn(grid * grid + 1, D, std=D**-0.5)
    for name in ("ln_pre", "ln_post"):
        sd[f"image_encoder.{name}.weight"] = randn(D, std=0.1, mean=1.0)
        sd[f"image_encoder.{name}.bias"] = randn(D, std=0.1)
    sd["image_encoder.proj"] = randn(D, E, std=D**-0.5)

    def block(prefix, width, packed, kv_width=None):
        for name in ("ln_1", "ln_2"):
            sd[f"{prefix}.{name}.weight"] = randn(width, std=0.1, mean=1.0)
            sd[f"{prefix}.{name}.bias"] = randn(width, std=0.1)
        if packed:
            sd[f"{prefix}.attn.in_proj_weight"] = randn(3 * width, width, std=width**-0.5)
            sd[f"{prefix}.attn.in_proj_bias"] = randn(3 * width, std=0.1)
        else:
            for p in "qkv":
                sd[f"{prefix}.attn.{p}_proj.weight"] = randn(width, width, std=width**-0.5)
                sd[f"{prefix}.attn.{p}_proj.bias"] = randn(width, std=0.1)
        sd[f"{prefix}.attn.out_proj.weight"] = randn(width, width, std=width**-0.5)
        sd[f"{prefix}.attn.out_proj.bias"] = randn(width, std=0.1)
        sd[f"{prefix}.mlp.c_fc.weight"] = randn(4 * width, width, std=width**-0.5)
        sd[f"{prefix}.mlp.c_fc.bias"] = randn(4 * width, std=0.1)
        sd[f"{prefix}.mlp.c_proj.weight"] = randn(width, 4 * width, std=(4 * width) ** -0.5)
        sd[f"{prefix}.mlp.c_proj.bias"] = randn(width, std=0.1)

    for i in range(vision_layers):
        block(f"image_encoder.transformer.resblocks.{i}", D, packed=False)
    for i in range(text_layers):
        block(f"text_encoder.transformer.resblocks.{i}", W, packed=True)
    for j in range(num_prompt_layers):
        block(f"text_encoder.prompt_generation_layer.{j}", W, packed=True)
        sd[f"text_encoder.prompt_generation_layer.{j}.ln_1_kv.weight"] = randn(E, std=0.1, mean=1.0)
        sd[f"text_encoder.prompt_generation_layer.{j}.ln_1_kv.bias"] = randn(E, std=0.1)
    sd["text_encoder.positional_embedding"] = randn(max_positions, W, std=0.01)
    sd["text_encoder.ln_final.weight"] = randn(W, std=0.1, mean=1.0)
    sd["text_encoder.ln_final.bias"] = randn(W, std=0.1)
    sd["text_encoder.text_projection"] = randn(W, E, std=W**-0.5)
    sd["prompt_learner.ctx"] = randn(n_ctx, W)
    return sd, randn(vocab_size, W)


def add_bias_tables(sd, vision_heads, seed=0):
    """The per-head local/global tables of layers 1.. (official shape (H, 1, 2)), N(0, 0.5) as the fixtures."""
    g = torch.Generator().manual_seed(seed + 1)
    layers = 1 + max(int(key.split(".")[3]) for key in sd if key.startswith("image_encoder.transformer.resblocks."))
    for i in range(1, layers):
        sd[f"image_encoder.transformer.resblocks.{i}.attn.local_global_bias_table"] = (
            0.5 * torch.randn(vision_heads, 1, 2, generator=g)
        ).half().float()
    return sd
