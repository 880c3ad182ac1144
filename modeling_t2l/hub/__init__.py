"""Model cards and pushing checkpoints to the Hugging Face Hub."""
from .push import PushResult, build_upload, push_model, render_card, upload_files

__all__ = ["PushResult", "build_upload", "push_model", "render_card", "upload_files"]
