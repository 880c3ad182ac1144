"""Step 2: a tiny CLIP that knows appearance and nothing of motion, pre-trained on still images in a minute or two.

It is a plain `transformers.CLIPModel` (tiny config) trained contrastively on captioned stills ("a red square on
the left") with the real OpenAI CLIP tokenizer bundled in the package, then saved with the tokenizer files: the
directory is a drop-in offline stand-in for `openai/clip-vit-base-patch16` that `from_clip` accepts.

The token embedding table gets sparse gradients and its own `SparseAdam`: only a few dozen of its 49,408 rows are
ever used, and a dense AdamW step over the whole table would cost more than the rest of the model.

The result is cached (`<cache_dir>/tiny-clip-<hash of the settings>/`), so a second run skips pre-training.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm
from transformers import CLIPConfig, CLIPModel

from ..processing.image_processing_t2l import CLIP_MEAN, CLIP_STD
from ..processing.tokenization import BUNDLED_TOKENIZER_DIR, encode_texts, load_clip_tokenizer
from .world import COLOURS, POSITIONS, SHAPES, render_still

SETTINGS_FILE = "pretraining.json"
POSITION_INIT_SCALE = 10.0
FORMAT_VERSION = 3  # bump when the recipe below changes, so stale caches are not reused


def default_cache_dir() -> Path:
    """`$T2L_DEMO_CACHE`, else `$XDG_CACHE_HOME/modeling_t2l`, else `~/.cache/modeling_t2l`."""
    if os.environ.get("T2L_DEMO_CACHE"):
        return Path(os.environ["T2L_DEMO_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "modeling_t2l"


def tiny_clip_config(image_size: int, width: int = 64, layers: int = 4) -> CLIPConfig:
    """A CLIP with `width`-wide, `layers`-deep towers, 8 x 8 patches, and OpenAI's vocabulary and token ids."""
    heads = max(1, width // 16)
    return CLIPConfig(
        text_config=dict(
            hidden_size=width, intermediate_size=2 * width, num_hidden_layers=layers, num_attention_heads=heads,
            max_position_embeddings=77, bos_token_id=49406, eos_token_id=49407, pad_token_id=49407,
        ),
        vision_config=dict(
            hidden_size=width, intermediate_size=2 * width, num_hidden_layers=layers, num_attention_heads=heads,
            image_size=image_size, patch_size=8,
        ),
        projection_dim=width,
    )


def normalise_images(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float with CLIP's mean/std (what T2LImageProcessor produces)."""
    pixels = torch.from_numpy(images).float().div(255.0)
    pixels = (pixels - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD)
    return pixels.permute(0, 3, 1, 2).contiguous()


def contrastive_loss(logits_per_image: torch.Tensor, caption_ids: torch.Tensor) -> torch.Tensor:
    """CLIP's symmetric loss over the batch's *distinct* captions (many images share one caption): images ->
    their caption, and every caption -> the images it describes (uniform over them)."""
    image_loss = F.cross_entropy(logits_per_image, caption_ids)
    targets = (caption_ids[None, :] == torch.arange(logits_per_image.shape[1])[:, None]).float()
    targets = targets / targets.sum(dim=1, keepdim=True)
    text_loss = -(targets * F.log_softmax(logits_per_image.t(), dim=1)).sum(dim=1).mean()
    return (image_loss + text_loss) / 2


@torch.no_grad()
def appearance_accuracy(model: CLIPModel, tokenizer, image_size: int, num_images: int = 256, seed: int = 12345) -> float:
    """Zero-shot accuracy on fresh stills against the 12 texts "a <colour> <shape>" (the skill T2L relies on)."""
    rng = np.random.default_rng(seed)
    names = [f"a {colour} {shape}" for colour in COLOURS for shape in SHAPES]
    images, stills = zip(*(render_still(rng, image_size) for _ in range(num_images)))
    truth = torch.tensor([names.index(still.appearance) for still in stills])
    encoded = encode_texts(tokenizer, names)
    text = model.get_text_features(input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"])
    image = model.get_image_features(pixel_values=normalise_images(np.stack(images)))
    # transformers 5 returns a model output (pooler_output = the projected features), 4.x a tensor
    text, image = (F.normalize(getattr(x, "pooler_output", x), dim=-1) for x in (text, image))
    return float(((image @ text.t()).argmax(dim=1) == truth).float().mean())


@torch.no_grad()
def position_accuracy(model: CLIPModel, tokenizer, image_size: int, num_images: int = 256, seed: int = 54321) -> float:
    """Zero-shot accuracy on fresh stills choosing among the 5 places, the appearance given: does it know *where*?"""
    rng = np.random.default_rng(seed)
    images, stills = zip(*(render_still(rng, image_size) for _ in range(num_images)))
    image = model.get_image_features(pixel_values=normalise_images(np.stack(images)))
    image = F.normalize(getattr(image, "pooler_output", image), dim=-1)
    places = list(POSITIONS)
    appearances = [f"a {colour} {shape}" for colour in COLOURS for shape in SHAPES]
    encoded = encode_texts(tokenizer, [f"{appearance} {place}" for appearance in appearances for place in places])
    text = model.get_text_features(input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"])
    text = F.normalize(getattr(text, "pooler_output", text), dim=-1).view(len(appearances), len(places), -1)
    correct = 0
    for features, still in zip(image, stills):
        candidates = text[appearances.index(still.appearance)]  # the 5 places of the right look
        correct += still.place == places[int((candidates @ features).argmax())]
    return correct / num_images


def pretrain_tiny_clip(
    cache_dir: Path | None = None, *, image_size: int = 32, steps: int = 600, batch_size: int = 64,
    learning_rate: float = 2e-3, seed: int = 0, eval_images: int = 256, progress: bool = True,
) -> Path:
    """Pre-train (or reuse from the cache) the tiny CLIP; returns its directory (model + tokenizer files)."""
    # the thread count is part of the key: pre-training on another number of threads gives other weights
    settings = dict(version=FORMAT_VERSION, image_size=image_size, steps=steps, batch_size=batch_size,
                    learning_rate=learning_rate, seed=seed, threads=torch.get_num_threads())
    key = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    directory = Path(cache_dir or default_cache_dir()) / f"tiny-clip-{key}"
    if (directory / SETTINGS_FILE).is_file():
        return directory

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tokenizer = load_clip_tokenizer()
    model = CLIPModel(tiny_clip_config(image_size))
    with torch.no_grad():
        # Position embeddings start at the scale of the patch embeddings (CLIP's default init makes them ~15x
        # smaller): this CLIP must learn *where* things are ("at the left") in a few hundred steps.
        model.vision_model.embeddings.position_embedding.weight.mul_(POSITION_INIT_SCALE)
    token_embedding = model.text_model.embeddings.token_embedding
    token_embedding.sparse = True  # see the module docstring
    dense = [p for p in model.parameters() if p is not token_embedding.weight]
    optimizers = [torch.optim.AdamW(dense, lr=learning_rate, weight_decay=0.1),
                  torch.optim.SparseAdam([token_embedding.weight], lr=learning_rate)]
    schedules = [torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=steps, pct_start=0.1)
                 for optimizer in optimizers]
    model.train()
    with tqdm(range(steps), desc="pre-train tiny CLIP on stills", unit="step", disable=not progress) as bar:
        for _ in bar:
            images, stills = zip(*(render_still(rng, image_size) for _ in range(batch_size)))
            captions = [still.caption for still in stills]
            distinct = sorted(set(captions))
            caption_ids = torch.tensor([distinct.index(caption) for caption in captions])
            encoded = encode_texts(tokenizer, distinct)
            output = model(pixel_values=normalise_images(np.stack(images)), input_ids=encoded["input_ids"],
                           attention_mask=encoded["attention_mask"])
            loss = contrastive_loss(output.logits_per_image, caption_ids)
            for optimizer in optimizers:
                optimizer.zero_grad()
            loss.backward()
            for optimizer, schedule in zip(optimizers, schedules):
                optimizer.step()
                schedule.step()
            bar.set_postfix(loss=f"{loss.item():.3f}")
    token_embedding.sparse = False
    model.eval()
    accuracy = appearance_accuracy(model, tokenizer, image_size, num_images=eval_images)
    where = position_accuracy(model, tokenizer, image_size, num_images=eval_images)

    # write to a temporary folder and rename: an interrupted run never leaves a half-written cache entry
    partial = directory.with_name(directory.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(BUNDLED_TOKENIZER_DIR / name, partial / name)
    (partial / SETTINGS_FILE).write_text(json.dumps({**settings, "appearance_accuracy": accuracy, "position_accuracy": where}, indent=2) + "\n")
    shutil.rmtree(directory, ignore_errors=True)
    partial.rename(directory)
    return directory


def pretraining_summary(directory: Path) -> dict:
    """The settings and the still-image appearance accuracy recorded next to a pre-trained tiny CLIP."""
    return json.loads((Path(directory) / SETTINGS_FILE).read_text())
