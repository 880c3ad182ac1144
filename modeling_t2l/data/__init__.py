"""Datasets, collator and the published evaluation protocols (bundled label and split files).

    from modeling_t2l.data import get_protocol, make_transform, VideoCollator

    protocol = get_protocol("zero_shot_ucf101")
    dataset = protocol.build_dataset("split1", video_root="/data/ucf101")
    dataset.set_transform(make_transform(processor.image_processor, train=False))
    collator = VideoCollator(processor, protocol.class_texts("split1"), train=False)
"""
from .aggregation import aggregate_base_to_novel, aggregate_splits, harmonic_mean, mean_std
from .builder import MissingVideosError, VideoTransform, build_video_dataset, make_transform, resolve_videos
from .collator import VideoCollator
from .layout import VideoIndex
from .lists import SplitEntry, read_labels, read_llm_labels, read_split_list
from .protocols import CLIP_MEAN, CLIP_STD, Protocol, SplitSpec, custom_protocol, get_protocol, list_protocols
from .skips import SkippedVideos

__all__ = [
    "CLIP_MEAN",
    "CLIP_STD",
    "MissingVideosError",
    "Protocol",
    "SkippedVideos",
    "SplitEntry",
    "SplitSpec",
    "VideoCollator",
    "VideoIndex",
    "VideoTransform",
    "aggregate_base_to_novel",
    "aggregate_splits",
    "build_video_dataset",
    "custom_protocol",
    "get_protocol",
    "harmonic_mean",
    "list_protocols",
    "make_transform",
    "mean_std",
    "read_labels",
    "read_llm_labels",
    "read_split_list",
    "resolve_videos",
]
