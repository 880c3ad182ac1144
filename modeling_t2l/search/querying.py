"""`search`: rank an index's videos and windows by cosine similarity to a text query.

Ranking uses FAISS (an exact inner-product index added through `datasets`' `add_faiss_index`) when `faiss-cpu` is
installed, else an exact matrix product; both give the same top-k (embeddings are L2-normalised, so the inner
product is the cosine). For a family whose text depends on the video (`text_depends_on_video`), the archive is first
ranked with the family's video-independent text embedding, then the best `shortlist` rows are re-scored with the
text conditioned on each of them (their clips are decoded again: the video outputs the text needs are not stored).
A family that offers no video-independent text embedding is refused (see `model_api.independent_text_embeddings`).
"""
from __future__ import annotations

import os
from typing import Literal

import numpy as np
import torch

from . import model_api
from .archive import read_windows, video_duration
from .store import EMBEDDING_COLUMN, IndexMismatchError, SearchIndex, load_index

FAISS_INDEX_NAME = EMBEDDING_COLUMN
DEFAULT_SHORTLIST = 100


def faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def check_model(index: SearchIndex, model) -> None:
    """Refuse a query model other than the one the index was built with (name/path and config digest)."""
    wanted = model_api.model_identity(model)
    if wanted != index.model:
        raise IndexMismatchError(
            f"{index.directory} was built with model {index.model['name_or_path']!r} (config "
            f"{index.model['config_sha256'][:12]}), not {wanted['name_or_path']!r} (config "
            f"{wanted['config_sha256'][:12]}): embeddings of different models are not comparable. Query with "
            f"--model {index.model['name_or_path']}, or build an index with this model"
        )


def rank(index: SearchIndex, query_embedding: np.ndarray, top_k: int,
         backend: Literal["auto", "faiss", "exact"] = "auto") -> tuple[np.ndarray, np.ndarray]:
    """(scores, row positions) of the `top_k` rows most similar to one L2-normalised (E,) embedding."""
    top_k = min(int(top_k), len(index))
    if top_k == 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    query = np.ascontiguousarray(query_embedding, dtype=np.float32)
    if backend == "auto":
        backend = "faiss" if faiss_available() else "exact"
    if backend == "faiss":
        import faiss

        if not index.dataset.is_index_initialized(FAISS_INDEX_NAME):
            index.dataset.add_faiss_index(column=EMBEDDING_COLUMN, index_name=FAISS_INDEX_NAME,
                                          metric_type=faiss.METRIC_INNER_PRODUCT)
        found = index.dataset.search(FAISS_INDEX_NAME, query, k=top_k)
        return np.asarray(found.scores, dtype=np.float32), np.asarray(found.indices, dtype=np.int64)
    if backend != "exact":
        raise ValueError(f"backend must be 'auto', 'faiss' or 'exact', got {backend!r}")
    scores = index.embeddings @ query
    # a stable sort keeps index order among equal scores
    order = np.argsort(-scores, kind="stable")[:top_k]
    return scores[order], order.astype(np.int64)


def _result(index: SearchIndex, position: int, score: float) -> dict:
    row = index.dataset[int(position)]
    return {"path": str(index.root / row["path"]), "start": row["start"], "end": row["end"], "score": float(score)}


def search(
    index: SearchIndex | str | os.PathLike,
    query: str,
    model,
    processor,
    top_k: int = 10,
    *,
    backend: Literal["auto", "faiss", "exact"] = "auto",
    shortlist: int = DEFAULT_SHORTLIST,
    batch_size: int = 8,
) -> list[dict]:
    """The `top_k` videos or windows best matching `query`, best first: {"path", "start", "end", "score"}.

    `score` is the cosine similarity of the video (window) and query embeddings; `path` is the file under the
    archive root the index was built from. `backend`: "auto" (FAISS if installed), "faiss" or "exact".
    `shortlist` (families with `text_depends_on_video` only): rows re-scored with the video-conditioned text.
    """
    if not isinstance(query, str) or not query.strip():
        raise ValueError(f"the query must be a non-empty string, got {query!r}")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
    if not isinstance(index, SearchIndex):
        index = load_index(index)
    check_model(index, model)
    model.eval()
    encoded = model_api.encode_texts(processor, [query])
    with torch.no_grad():
        text = model_api.independent_text_embeddings(model, encoded)[0].numpy()
    if not model_api.text_depends_on_video(model):
        scores, positions = rank(index, text, top_k, backend)
        return [_result(index, position, score) for position, score in zip(positions, scores)]

    scores, positions = rank(index, text, max(top_k, shortlist), backend)
    rescored = _rescore(index, positions, encoded, model, processor, batch_size)
    order = np.argsort(-rescored, kind="stable")[:top_k]
    return [_result(index, positions[i], rescored[i]) for i in order]


def _rescore(index: SearchIndex, positions: np.ndarray, encoded: dict, model, processor, batch_size: int) -> np.ndarray:
    """Cosine of each shortlisted row's clip with the query text conditioned on that clip."""
    num_frames = int(index.settings["num_frames"])
    rows = [index.dataset[int(position)] for position in positions]
    clips = []  # preprocessed one by one: the videos' sizes differ
    for row in rows:
        path = index.root / row["path"]
        clip = read_windows(path, [(row["start"], row["end"])], num_frames, video_duration(path))
        clips.append(model_api.pixel_values(processor, clip))
    scores = []
    with torch.no_grad():
        for start in range(0, len(clips), batch_size):
            pixels = torch.cat(clips[start : start + batch_size])
            outputs = model_api.video_outputs(model, pixels)
            videos = model_api.normalized(outputs.pooler_output)
            texts = model_api.conditioned_text_embeddings(model, encoded, outputs)  # (B, 1, E)
            scores.append((texts[:, 0] * videos).sum(dim=-1))
    return torch.cat(scores).numpy() if scores else np.zeros(0, dtype=np.float32)
