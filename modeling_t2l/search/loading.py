"""Load a model and its processor by name for the `t2l index` / `t2l search` commands (any registered family)."""
from __future__ import annotations


def load_model_and_processor(name_or_path: str, device=None):
    """The base model (`AutoModel`) and processor (`AutoProcessor`) saved at `name_or_path`, the model on `device`.

    `import modeling_t2l` registers this package's families with the Auto classes first.
    """
    import modeling_t2l  # noqa: F401 - registers the families with the Auto classes
    from transformers import AutoModel, AutoProcessor

    model = AutoModel.from_pretrained(name_or_path)
    processor = AutoProcessor.from_pretrained(name_or_path)
    if device is not None:
        model = model.to(device)
    return model.eval(), processor
