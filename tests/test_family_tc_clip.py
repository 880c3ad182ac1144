"""TC-CLIP through the shared family tests (tests/family_mixin.py): its text depends on the video."""
from __future__ import annotations

import torch
from transformers import AutoModelForVideoClassification

from modeling_t2l import TCCLIPConfig, TCCLIPForVideoClassification
from modeling_t2l.models.tc_clip.processing_defaults import build_processor
from modeling_t2l.pipelines.zero_shot_video_classification import add_pipeline_to_checkpoint
from tests.family_mixin import FamilyTesterMixin


def tiny_config(num_frames: int, image_size: int) -> TCCLIPConfig:
    return TCCLIPConfig(
        text_config=dict(vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, eos_token_id=49407, bos_token_id=49406,
                         pad_token_id=49407, projection_dim=32),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=image_size, patch_size=8, projection_dim=32),
        projection_dim=32, num_frames=num_frames, context_tokens=6, merge_r=4, context_length=30,
    )


class TestTCCLIPFamily(FamilyTesterMixin):
    remote_class_name = "TCCLIPForVideoClassification"

    def get_model(self):
        torch.manual_seed(0)
        model = TCCLIPForVideoClassification(tiny_config(self.num_frames, self.image_size))
        with torch.no_grad():  # a lower temperature than CLIP's 100, so the scores are not one-hot
            model.tc_clip.logit_scale.fill_(2.0)
        return model.eval()

    def save_checkpoint(self, model, directory):
        model.save_pretrained(directory)
        build_processor(self.num_frames, self.image_size).save_pretrained(directory)
        add_pipeline_to_checkpoint(directory)
        return directory

    def loading_ways(self, directory):
        return {
            "from_pretrained": lambda: TCCLIPForVideoClassification.from_pretrained(directory),
            "auto": lambda: AutoModelForVideoClassification.from_pretrained(directory),
        }

    def expected_trainable(self, model):
        # full fine-tuning: everything but the token table, which the official model does not hold
        return {name for name, _ in model.named_parameters() if "token_embedding" not in name}
