"""T2L through the shared family tests (tests/family_mixin.py)."""
from __future__ import annotations

import torch
from transformers import AutoModelForVideoClassification

from modeling_t2l import T2LForVideoClassification
from modeling_t2l.pipelines.zero_shot_video_classification import add_pipeline_to_checkpoint
from modeling_t2l.processing.processing_t2l import T2LProcessor
from tests.family_mixin import FamilyTesterMixin
from tests.tiny import save_tiny_clip, tiny_t2l_config


class TestT2LFamily(FamilyTesterMixin):
    remote_class_name = "T2LForVideoClassification"

    def get_model(self):
        torch.manual_seed(0)
        model = T2LForVideoClassification(tiny_t2l_config(num_frames=self.num_frames, image_size=self.image_size))
        with torch.no_grad():  # the adapters start as the identity: make them matter
            for name, parameter in model.named_parameters():
                if "adapter.fc2" in name:
                    parameter.normal_(0, 0.02)
        return model.eval()

    def save_checkpoint(self, model, directory):
        model.save_pretrained(directory)
        T2LProcessor.from_clip_tokenizer(num_frames=self.num_frames, crop_size=self.image_size,
                                         shortest_edge=self.image_size + 4).save_pretrained(directory)
        add_pipeline_to_checkpoint(directory)
        return directory

    def loading_ways(self, directory):
        clip_dir = save_tiny_clip(directory.parent / "clip", image_size=self.image_size)
        return {
            "from_pretrained": lambda: T2LForVideoClassification.from_pretrained(directory),
            "auto": lambda: AutoModelForVideoClassification.from_pretrained(directory),
            "from_clip": lambda: T2LForVideoClassification.from_clip(str(clip_dir), num_frames=self.num_frames),
        }

    def expected_trainable(self, model):
        # T2L trains its temporal prompts and bottleneck adapters; CLIP (logit_scale included) stays frozen
        return {n for n, _ in model.named_parameters() if n.endswith(".temporal_prompt") or ".adapter.fc" in n}
