"""An independent, functional re-implementation of the OFFICIAL T2L model, for parity tests.

It works directly on an official-format state dict (key names of the official `clip.model.CLIP`, see
t2l_reference.md §7) and is written from the spec equations (§2-§5), in the official sequence-first layout
(L, N, D) with `torch.nn.functional.multi_head_attention_forward` (what `nn.MultiheadAttention` runs). It shares
no code with `modeling_t2l`, so a test comparing the two checks the library against the official equations.

It was checked against both official fixtures (tests/fixtures/official_t2l) and against the official
`clip/model.py` run on extra configurations; see tests/test_conversion.py. That is what lets the conversion
tests go beyond the fixtures: `random_official_state_dict` makes an official-layout checkpoint of any size and
`reference_outputs` computes what the official code would output for it.

Only eval mode is modelled (no dropout, drop-path or prompt dropout), as in the fixtures.
"""
from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F

# Keys stored in fp16 by the official convert_weights(); everything else stays fp32 (§7 "Dtypes").
_FP16_PATTERN = re.compile(
    r"(^|\.)(attn\.|mlp\.|Adapter\.)|^visual\.conv1\.weight$|^visual\.proj$|^text_projection$"
)


def is_fp16_key(name: str) -> bool:
    return bool(_FP16_PATTERN.search(name))


# --------------------------------------------------------------------------------------------------------------
# building blocks (sequence-first, like the official code)
# --------------------------------------------------------------------------------------------------------------


def _layer_norm(x, sd, prefix):
    return F.layer_norm(x, (x.shape[-1],), sd[prefix + ".weight"], sd[prefix + ".bias"], eps=1e-5)


def _attention(x, sd, prefix, num_heads, attn_mask=None):
    """nn.MultiheadAttention(x, x, x) of the official block `prefix` (x: (L, N, D))."""
    width = x.shape[-1]
    out, _ = F.multi_head_attention_forward(
        x, x, x, width, num_heads,
        sd[prefix + ".in_proj_weight"], sd[prefix + ".in_proj_bias"],
        None, None, False, 0.0,
        sd[prefix + ".out_proj.weight"], sd[prefix + ".out_proj.bias"],
        training=False, need_weights=False, attn_mask=attn_mask,
    )
    return out


def _mlp(x, sd, prefix):
    h = F.linear(x, sd[prefix + ".c_fc.weight"], sd[prefix + ".c_fc.bias"])
    h = h * torch.sigmoid(1.702 * h)  # QuickGELU
    return F.linear(h, sd[prefix + ".c_proj.weight"], sd[prefix + ".c_proj.bias"])


def _adapter(x, sd, prefix):
    """§2.3: x + fc2(GELU(fc1 x)), exact erf GELU, skip inside the adapter. Identity when the block has none."""
    if prefix + ".D_fc1.weight" not in sd:
        return x
    h = F.gelu(F.linear(x, sd[prefix + ".D_fc1.weight"], sd[prefix + ".D_fc1.bias"]))
    return x + F.linear(h, sd[prefix + ".D_fc2.weight"], sd[prefix + ".D_fc2.bias"])


def _num_layers(sd, prefix):
    found = {int(m.group(1)) for k in sd if (m := re.match(re.escape(prefix) + r"resblocks\.(\d+)\.", k))}
    return max(found) + 1 if found else 0


# --------------------------------------------------------------------------------------------------------------
# encoders
# --------------------------------------------------------------------------------------------------------------


def encode_image(sd, video, vision_heads, return_intermediates=False):
    """Official encode_image on video (B, T, 3, H, W) -> frame embeddings (B, T, E), un-normalised (§2)."""
    B, T = video.shape[:2]
    x = video.reshape(B * T, *video.shape[2:])  # video-major, as the official (B*T, 3, H, W)
    conv = sd["visual.conv1.weight"]
    patch = conv.shape[-1]
    x = F.conv2d(x, conv, stride=patch)  # (BT, D, g, g), no bias
    D = x.shape[1]
    x = x.reshape(B * T, D, -1).permute(0, 2, 1)  # (BT, g*g, D)
    cls = sd["visual.class_embedding"].expand(B * T, 1, D)
    x = torch.cat([cls, x], dim=1) + sd["visual.positional_embedding"]  # (BT, L, D)
    L = x.shape[1]
    # temporal_embedding (1, T, D): added to every token of frame t, before ln_pre (§2.1)
    x = (x.reshape(B, T, L, D) + sd["visual.temporal_embedding"][:, :, None, :]).reshape(B * T, L, D)
    x = _layer_norm(x, sd, "visual.ln_pre")
    x = x.permute(1, 0, 2)  # (L, BT, D) sequence-first

    prompts = sd.get("visual.transformer.T_prompt_embeddings")  # (n_layers or 1, T, D) or absent
    cls_per_layer, tokens_per_layer = [], []
    for i in range(_num_layers(sd, "visual.transformer.")):
        p = f"visual.transformer.resblocks.{i}"
        if prompts is not None and i < prompts.shape[0]:
            # §2.2 step 1: seed = prompt[t] + mean over ALL L tokens of the layer input (before any LN)
            seed = prompts[i][None] + x.mean(dim=0).reshape(B, T, D)  # (B, T, D)
            seed = seed.permute(1, 0, 2)  # (T, B, D): a length-T sequence per video
            # step 2: the layer's own ln_1 + attention across the T frames, no mask, NO residual
            tok = _attention(_layer_norm(seed, sd, p + ".ln_1"), sd, p + ".attn", vision_heads)  # (T, B, D)
            tok = tok.permute(1, 0, 2).reshape(1, B * T, D)  # token of frame (b, t) at column b*T + t
            tokens_per_layer.append(tok.reshape(B, T, D))
            # steps 3-5: append last, spatial attention over L+1 tokens with residual, drop the token
            xt = torch.cat([x, tok], dim=0)
            xt = xt + _attention(_layer_norm(xt, sd, p + ".ln_1"), sd, p + ".attn", vision_heads)
            x = xt[:L]
        else:
            x = x + _attention(_layer_norm(x, sd, p + ".ln_1"), sd, p + ".attn", vision_heads)
        x = _adapter(x, sd, p + ".Adapter")  # step 6: on the residual stream, after attention
        x = x + _mlp(_layer_norm(x, sd, p + ".ln_2"), sd, p + ".mlp")  # step 7
        cls_per_layer.append(x[0].reshape(B, T, D))
    out = _layer_norm(x[0], sd, "visual.ln_post") @ sd["visual.proj"]  # (BT, E)
    frames = out.reshape(B, T, -1)
    if return_intermediates:
        return frames, {"visual_layer_cls": torch.stack(cls_per_layer),
                        "visual_temporal_tokens": torch.stack(tokens_per_layer) if tokens_per_layer else None}
    return frames


def encode_text(sd, input_ids, text_heads):
    """Official encode_text (§3): causal CLIP text tower with the adapter after attention, argmax pooling."""
    K, n = input_ids.shape
    x = sd["token_embedding.weight"][input_ids] + sd["positional_embedding"][:n]  # (K, n, W)
    x = x.permute(1, 0, 2)  # (n, K, W)
    mask = torch.full((n, n), float("-inf"), dtype=x.dtype).triu_(1)
    for i in range(_num_layers(sd, "transformer.")):
        p = f"transformer.resblocks.{i}"
        x = x + _attention(_layer_norm(x, sd, p + ".ln_1"), sd, p + ".attn", text_heads, attn_mask=mask)
        x = _adapter(x, sd, p + ".Adapter")
        x = x + _mlp(_layer_norm(x, sd, p + ".ln_2"), sd, p + ".mlp")
    x = _layer_norm(x.permute(1, 0, 2), sd, "ln_final")  # (K, n, W)
    pooled = x[torch.arange(K), input_ids.argmax(dim=-1)]  # EOT is the largest id
    return pooled @ sd["text_projection"]


# --------------------------------------------------------------------------------------------------------------
# heads and losses (§4.1, §5, §6.5)
# --------------------------------------------------------------------------------------------------------------


def _normalize(x):
    return x / x.norm(dim=-1, keepdim=True)


def kl_loss(logits, labels):
    """Official KLLoss: (1/B) sum_jk q_jk (log q_jk - log softmax(P)_jk), q = softmax(10 * [y_j == y_k])."""
    G = (labels[:, None] == labels[None, :]).to(logits.dtype)
    q = F.softmax(10 * G, dim=1)
    return (q * (q.log() - F.log_softmax(logits, dim=1))).sum() / logits.shape[0]


def tfd_loss(frames):
    """Official Motion_loss on un-normalised frame embeddings (B, T, E): 1 / (C + V + 1), unbiased variance."""
    T = frames.shape[1]
    idx = torch.arange(T)
    prev = frames[:, (idx - 1).clamp(min=0)]
    nxt = frames[:, (idx + 1).clamp(max=T - 1)]
    C = ((nxt - prev).abs() / 2).mean()
    V = frames.var(dim=1, unbiased=True).mean()
    return 1.0 / (C + V + 1.0)


def trainable_keys(sd):
    """The official train.py freezing rule: trainable iff the name contains 'prompt' or 'Adapter'."""
    return [k for k in sd if "prompt" in k or "Adapter" in k]


def reference_outputs(sd, video, input_ids, train_labels, vision_heads, text_heads, with_grads=True):
    """Everything the official fixtures store, for state dict `sd` (fp32 tensors, official names).

    Returns a dict with frame_embeds, video_embeds, text_embeds, train_text_embeds, logit_scale_exp,
    logits_per_video, logits_per_text, train_logits_per_video, train_logits_per_text, eval_probs,
    loss_kl_video, loss_kl_text, loss_tfd, loss_total and (with_grads) grad.<official name> of every
    officially trainable tensor.
    """
    sd = {k: v.detach().float().clone() for k, v in sd.items()}
    train = trainable_keys(sd)
    for k in train:
        sd[k].requires_grad_(True)
    video = video.float()
    with torch.set_grad_enabled(with_grads):
        frames, inter = encode_image(sd, video, vision_heads, return_intermediates=True)
        vid = frames.mean(dim=1)
        text = encode_text(sd, input_ids, text_heads)
        train_text = encode_text(sd, input_ids[train_labels], text_heads)
        scale = sd["logit_scale"].exp()
        v, u, ut = _normalize(vid), _normalize(text), _normalize(train_text)
        lv = scale * v @ u.t()
        tlv = scale * v @ ut.t()
        tlt = scale * ut @ v.t()
        out = {
            "frame_embeds": frames, "video_embeds": vid, "text_embeds": text, "train_text_embeds": train_text,
            "logit_scale_exp": scale, "logits_per_video": lv, "logits_per_text": lv.t(),
            "train_logits_per_video": tlv, "train_logits_per_text": tlt,
            "eval_probs": F.softmax(100.0 * v @ u.t(), dim=-1),
            "loss_kl_video": kl_loss(tlv, train_labels), "loss_kl_text": kl_loss(tlt, train_labels),
            "loss_tfd": tfd_loss(frames),
            "intermediate.visual_layer_cls": inter["visual_layer_cls"],
        }
        if inter["visual_temporal_tokens"] is not None:
            out["intermediate.visual_temporal_tokens"] = inter["visual_temporal_tokens"]
        out["loss_total"] = (out["loss_kl_video"] + out["loss_kl_text"]) / 2 + out["loss_tfd"]
        if with_grads and train:
            grads = torch.autograd.grad(out["loss_total"], [sd[k] for k in train])
            out.update({f"grad.{k}": g for k, g in zip(train, grads)})
    return {k: v.detach() for k, v in out.items()}


# --------------------------------------------------------------------------------------------------------------
# random official-layout checkpoints
# --------------------------------------------------------------------------------------------------------------


def official_key_shapes(vision_width, vision_layers, patch, image_size, embed_dim, text_width, text_layers,
                        vocab, T, deep=True, prompts=True, visual_adapters=True, text_adapters=True,
                        context_length=77):
    """The official state-dict layout (§7) as {key: shape}, in the official key order."""
    g = image_size // patch
    shapes = {
        "positional_embedding": (context_length, text_width),
        "text_projection": (text_width, embed_dim),
        "logit_scale": (),
        "visual.class_embedding": (vision_width,),
        "visual.positional_embedding": (g * g + 1, vision_width),
        "visual.temporal_embedding": (1, T, vision_width),
        "visual.proj": (vision_width, embed_dim),
        "visual.conv1.weight": (vision_width, 3, patch, patch),
        "visual.ln_pre.weight": (vision_width,),
        "visual.ln_pre.bias": (vision_width,),
    }
    if prompts:
        shapes["visual.transformer.T_prompt_embeddings"] = (vision_layers if deep else 1, T, vision_width)

    def block(prefix, width, adapters):
        out = {
            f"{prefix}.attn.in_proj_weight": (3 * width, width), f"{prefix}.attn.in_proj_bias": (3 * width,),
            f"{prefix}.attn.out_proj.weight": (width, width), f"{prefix}.attn.out_proj.bias": (width,),
            f"{prefix}.ln_1.weight": (width,), f"{prefix}.ln_1.bias": (width,),
        }
        if adapters:
            h = width // 4
            out.update({f"{prefix}.Adapter.D_fc1.weight": (h, width), f"{prefix}.Adapter.D_fc1.bias": (h,),
                        f"{prefix}.Adapter.D_fc2.weight": (width, h), f"{prefix}.Adapter.D_fc2.bias": (width,)})
        out.update({
            f"{prefix}.mlp.c_fc.weight": (4 * width, width), f"{prefix}.mlp.c_fc.bias": (4 * width,),
            f"{prefix}.mlp.c_proj.weight": (width, 4 * width), f"{prefix}.mlp.c_proj.bias": (width,),
            f"{prefix}.ln_2.weight": (width,), f"{prefix}.ln_2.bias": (width,),
        })
        return out

    for i in range(vision_layers):
        shapes.update(block(f"visual.transformer.resblocks.{i}", vision_width, visual_adapters))
    shapes.update({"visual.ln_post.weight": (vision_width,), "visual.ln_post.bias": (vision_width,)})
    for i in range(text_layers):
        shapes.update(block(f"transformer.resblocks.{i}", text_width, text_adapters))
    shapes.update({"token_embedding.weight": (vocab, text_width), "ln_final.weight": (text_width,),
                   "ln_final.bias": (text_width,)})
    return shapes


def random_official_state_dict(vision_width=64, vision_layers=2, vision_heads=None, patch=16, image_size=32,
                               embed_dim=32, text_width=64, text_layers=2, text_heads=None, vocab=256, T=8,
                               seed=0, deep=True, prompts=True, visual_adapters=True, text_adapters=True,
                               temporal_embedding_std=0.0, logit_scale=math.log(1 / 0.07)):
    """A random checkpoint in the official layout, randomised like the fixtures (fixtures/README.md):

    official-style init scales (CLIP's normal inits, prompt U(-v, v) with v = sqrt(6 / (3*16*16 + D)), adapter
    fc1 uniform), then every tensor the official init leaves at exactly 0 or 1 is randomised (Adapter.D_fc2
    N(0, 0.02), LayerNorm weights 1 + N(0, 0.1), biases N(0, 0.05), attention biases N(0, 0.02)), and the
    fp16 keys are rounded to and stored as float16. `temporal_embedding` stays zero unless
    temporal_embedding_std > 0 (real checkpoints: zero). vision_heads/text_heads are not stored in a
    checkpoint; they are accepted here only so a call can carry the whole configuration.
    """
    del vision_heads, text_heads
    gen = torch.Generator().manual_seed(seed)
    shapes = official_key_shapes(vision_width, vision_layers, patch, image_size, embed_dim, text_width,
                                 text_layers, vocab, T, deep=deep, prompts=prompts,
                                 visual_adapters=visual_adapters, text_adapters=text_adapters)

    def normal(shape, std, mean=0.0):
        return torch.randn(shape, generator=gen) * std + mean

    def uniform(shape, bound):
        return (torch.rand(shape, generator=gen) * 2 - 1) * bound

    sd = {}
    for k, shape in shapes.items():
        width = shape[-1] if shape else 1
        if k == "logit_scale":
            t = torch.tensor(float(logit_scale))
        elif k == "visual.temporal_embedding":
            t = normal(shape, temporal_embedding_std) if temporal_embedding_std else torch.zeros(shape)
        elif k == "visual.transformer.T_prompt_embeddings":
            t = uniform(shape, math.sqrt(6.0 / (3 * 16 * 16 + shape[-1])))
        elif k == "token_embedding.weight":
            t = normal(shape, 0.02)
        elif k == "positional_embedding":
            t = normal(shape, 0.01)
        elif k in ("visual.class_embedding", "visual.positional_embedding", "visual.proj"):
            t = normal(shape, vision_width ** -0.5)
        elif k == "text_projection":
            t = normal(shape, text_width ** -0.5)
        elif k == "visual.conv1.weight":
            t = uniform(shape, 1 / math.sqrt(3 * patch * patch))
        elif ".ln_" in k or k.startswith("ln_") or "ln_final" in k:
            t = normal(shape, 0.1, 1.0) if k.endswith("weight") else normal(shape, 0.05)
        elif "D_fc1" in k:
            t = uniform(shape, 1 / math.sqrt(shapes[k.replace("bias", "weight")][1]))
        elif "D_fc2" in k or k.endswith("_proj_bias") or k.endswith("out_proj.bias"):
            t = normal(shape, 0.02)
        elif k.endswith("in_proj_weight"):
            t = normal(shape, width ** -0.5)
        elif k.endswith("out_proj.weight") or k.endswith("c_proj.weight"):
            layers = vision_layers if k.startswith("visual.") else text_layers
            t = normal(shape, width ** -0.5 * (2 * layers) ** -0.5)
        elif k.endswith("c_fc.weight"):
            t = normal(shape, (2 * width) ** -0.5)
        elif k.endswith("c_fc.bias") or k.endswith("c_proj.bias"):
            t = uniform(shape, 1 / math.sqrt(shapes[k.replace("bias", "weight")][1]))
        else:  # pragma: no cover - every official key is handled above
            raise KeyError(f"no init rule for {k}")
        sd[k] = t.half() if is_fp16_key(k) else t.float()
    return sd


def random_inputs(B, T, image_size, num_texts, vocab=256, seed=0, context_length=77):
    """Inputs like the fixtures': video randn rounded to fp16; synthetic ids SOT=vocab-2 ... EOT=vocab-1, pad 0.

    Row 0 fills all positions, row 1 is SOT+EOT only. Returns video (fp32), input_ids, attention_mask, labels.
    """
    gen = torch.Generator().manual_seed(seed)
    video = torch.randn(B, T, 3, image_size, image_size, generator=gen).half().float()
    ids = torch.zeros(num_texts, context_length, dtype=torch.long)
    mask = torch.zeros_like(ids)
    lengths = [context_length, 2] + [int(n) for n in torch.randint(2, context_length, (num_texts,), generator=gen)]
    for r in range(num_texts):
        n = lengths[r]
        body = torch.randint(1, vocab - 2, (n - 2,), generator=gen)
        ids[r, :n] = torch.cat([torch.tensor([vocab - 2]), body, torch.tensor([vocab - 1])])
        mask[r, :n] = 1
    labels = torch.randint(0, num_texts, (B,), generator=gen)
    return video, ids, mask, labels
