"""Model cards and pushing checkpoints to the Hugging Face Hub."""
from .push import push_model, render_card, upload_files

__all__ = ["push_model", "render_card", "upload_files"]
