"""Text-to-video search over a video archive: `build_index` embeds it, `search` ranks it by a text query.

    from modeling_t2l.search import build_index, search
    build_index("videos/", model, processor, out="videos.index", window=10, stride=5)
    search("videos.index", "someone juggling three balls", model, processor, top_k=10)
    # [{'path': '.../juggling.mp4', 'start': 5.0, 'end': 15.0, 'score': 0.31}, ...]

Everything here reaches models through the family contract only (see `model_api`), so any family works.
"""
from .archive import ArchiveFile, plan_windows, scan_archive
from .indexing import IndexSummary, build_index
from .model_api import TextDependsOnVideoError
from .querying import faiss_available, search
from .store import IndexMismatchError, SearchIndex, load_index

__all__ = [
    "ArchiveFile",
    "IndexMismatchError",
    "IndexSummary",
    "SearchIndex",
    "TextDependsOnVideoError",
    "build_index",
    "faiss_available",
    "load_index",
    "plan_windows",
    "scan_archive",
    "search",
]
