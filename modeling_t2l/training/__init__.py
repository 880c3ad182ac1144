"""Training through transformers' Trainer: recipes, the trainer subclass, resumable runs."""
from .trainer import load_recipe, prepare_training, run_training

__all__ = ["load_recipe", "prepare_training", "run_training"]
