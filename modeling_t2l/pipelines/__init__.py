"""The `zero-shot-video-classification` pipeline."""
