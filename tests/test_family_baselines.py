"""The baselines without training through the shared family tests, and the checks that they ARE transformers'
models: a frozen CLIPModel scored by frame averaging, and XCLIPModel with its video-conditioned text."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoModelForVideoClassification, CLIPModel, CLIPProcessor, XCLIPConfig, XCLIPModel, XCLIPProcessor, pipeline
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
from transformers.models.videomae.image_processing_pil_videomae import VideoMAEImageProcessorPil

from modeling_t2l.data import Protocol, SplitSpec
from modeling_t2l.evaluation.evaluate import evaluate_protocol
from modeling_t2l.models.baselines import FrozenCLIPForVideoClassification, XCLIPForVideoClassification, register
from modeling_t2l.pipelines.zero_shot_video_classification import TASK, add_pipeline_to_checkpoint
from modeling_t2l.processing.checkpoint_processor import load_processor
from modeling_t2l.processing.tokenization import encode_texts, load_clip_tokenizer
from modeling_t2l.processing.video_io import read_video
from modeling_t2l.zero_shot.classifier import template_groups
from tests.family_mixin import LABELS, FamilyTesterMixin, write_frame_folder
from tests.tiny import tiny_clip_config

register()

IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def save_clip_processor(directory, size: int = 32):
    """What a transformers CLIP checkpoint carries: CLIPProcessor (per-image CLIP processor + tokenizer)."""
    image_processor = CLIPImageProcessorPil(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    CLIPProcessor(image_processor=image_processor, tokenizer=load_clip_tokenizer()).save_pretrained(directory)
    return image_processor


def tiny_xclip_config(num_frames: int = 4) -> XCLIPConfig:
    text = dict(vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                max_position_embeddings=77, bos_token_id=49406, eos_token_id=49407, pad_token_id=49407)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32,
                  patch_size=8, num_frames=num_frames, mit_hidden_size=16, mit_intermediate_size=32,
                  mit_num_attention_heads=2, mit_num_hidden_layers=1)
    return XCLIPConfig(text_config=text, vision_config=vision, projection_dim=16, prompt_layers=1,
                       prompt_num_attention_heads=2)


class TestFrozenCLIPFamily(FamilyTesterMixin):
    remote_class_name = "FrozenCLIPForVideoClassification"

    def get_model(self):
        torch.manual_seed(0)
        config = tiny_clip_config(self.image_size)
        config.num_frames = self.num_frames
        return FrozenCLIPForVideoClassification(config).eval()

    def save_checkpoint(self, model, directory):
        model.save_pretrained(directory)
        save_clip_processor(directory, self.image_size)
        add_pipeline_to_checkpoint(directory)
        return directory

    def loading_ways(self, directory):
        return {
            "from_pretrained": lambda: FrozenCLIPForVideoClassification.from_pretrained(directory),
            "auto": lambda: AutoModelForVideoClassification.from_pretrained(directory),
            "from_clip": lambda: FrozenCLIPForVideoClassification.from_clip(str(directory), num_frames=self.num_frames),
        }

    def expected_trainable(self, model):
        assert not any(p.requires_grad for p in model.parameters())  # frozen as loaded, before apply_trainable_set
        return set()


class TestXCLIPFamily(FamilyTesterMixin):
    remote_class_name = "XCLIPForVideoClassification"

    def get_model(self):
        torch.manual_seed(0)
        return XCLIPForVideoClassification(tiny_xclip_config(self.num_frames)).eval()

    def save_checkpoint(self, model, directory):
        model.save_pretrained(directory)
        image_processor = VideoMAEImageProcessorPil(size={"shortest_edge": self.image_size},
                                                    crop_size={"height": self.image_size, "width": self.image_size},
                                                    image_mean=IMAGENET_MEAN, image_std=IMAGENET_STD)
        XCLIPProcessor(image_processor=image_processor, tokenizer=load_clip_tokenizer()).save_pretrained(directory)
        add_pipeline_to_checkpoint(directory)
        return directory

    def loading_ways(self, directory):
        return {
            "from_pretrained": lambda: XCLIPForVideoClassification.from_pretrained(directory),
            "auto": lambda: AutoModelForVideoClassification.from_pretrained(directory),
        }

    def expected_trainable(self, model):
        assert not any(p.requires_grad for p in model.parameters())
        return set()


# -- the frozen CLIP is CLIPModel ----------------------------------------------------------------------------------


def _hand_clip_predictions(clip, image_processor, tokenizer, videos, num_frames, labels):
    """Top-k order of every video by CLIPModel itself: per-frame CLIP preprocessing, get_image_features averaged
    over the frames, "a photo of a {}." texts, softmax(logit_scale * cos)."""
    texts = dict(encode_texts(tokenizer, [f"a photo of a {label}." for label in labels]))
    with torch.no_grad():
        text = F.normalize(clip.get_text_features(**texts).pooler_output, dim=-1)
        ranked, pixels = [], []
        for video in videos:
            frames = read_video(str(video), num_frames)  # the same decoded frames (TSN segment centres)
            pixel_values = image_processor(images=list(frames), return_tensors="pt")["pixel_values"]
            pixels.append(pixel_values)
            image = F.normalize(clip.get_image_features(pixel_values=pixel_values).pooler_output.mean(dim=0), dim=-1)
            probabilities = torch.softmax(clip.logit_scale.exp() * text @ image, dim=-1)
            ranked.append(list(np.argsort(-probabilities.numpy(), kind="stable")))
    return ranked, pixels


def test_frozen_clip_evaluation_equals_clipmodel_by_hand(tmp_path):
    torch.manual_seed(1)
    clip_dir = tmp_path / "clip"
    CLIPModel(tiny_clip_config()).save_pretrained(clip_dir)  # a plain transformers CLIP checkpoint
    image_processor = save_clip_processor(clip_dir)
    clip = CLIPModel.from_pretrained(clip_dir).eval()
    model = FrozenCLIPForVideoClassification.from_clip(str(clip_dir), num_frames=4)
    processor = load_processor(clip_dir, model.num_frames)

    root = tmp_path / "protocol"
    videos = [write_frame_folder(root / "videos" / f"v{i}", seed=20 + i, num_frames=7) for i in range(6)]
    ranked, hand_pixels = _hand_clip_predictions(clip, image_processor, processor.tokenizer, videos, 4, LABELS)
    # labels from CLIPModel's own ranking: right for 0-2, 2nd for 3, 3rd for 4, last for 5
    labels = [ranked[0][0], ranked[1][0], ranked[2][0], ranked[3][1], ranked[4][2], ranked[5][-1]]
    (root / "labels.csv").write_text("id,name\n" + "".join(f"{i},{name}\n" for i, name in enumerate(LABELS)))
    (root / "split1.txt").write_text("".join(f"v{i} {label}\n" for i, label in enumerate(labels)))
    protocol = Protocol(
        name="tiny", task="zero_shot", dataset="tiny", summary="frozen CLIP by hand", layout="frame folders",
        splits=(SplitSpec("split1", "eval", str(root / "labels.csv"), list_file=str(root / "split1.txt")),),
        aggregation="single", num_frames=4, text_mode="templates",
    )
    result = evaluate_protocol(model, processor, protocol, root / "videos", batch_size=4, progress=False)["splits"]["split1"]
    assert result.num_videos == 6
    # the same videos right and wrong as CLIPModel by hand (percentages of 6 videos: compared as numbers of videos)
    assert round(result.top1 * 6 / 100, 9) == 3 and round(result.top5 * 6 / 100, 9) == 5
    # the same processor constants: the clip processor reproduces CLIP's per-image preprocessing
    for video, pixels in zip(videos, hand_pixels):
        ours = processor.image_processor([read_video(str(video), 4)], return_tensors="pt")["pixel_values"][0]
        torch.testing.assert_close(ours, pixels, rtol=0, atol=1e-5)


def test_any_clip_checkpoint_classifies_through_the_pipeline(tmp_path):
    torch.manual_seed(2)
    clip_dir = tmp_path / "clip"
    clip = CLIPModel(tiny_clip_config())
    clip.save_pretrained(clip_dir)
    save_clip_processor(clip_dir)
    classifier = pipeline(TASK, model=str(clip_dir))  # a plain CLIP directory: no code, no custom pipeline
    assert isinstance(classifier.model, FrozenCLIPForVideoClassification)
    assert classifier.num_frames == 8  # no clip length in a CLIP config: the frozen-CLIP default
    assert classifier.image_processor.image_mean == pytest.approx(list(CLIPImageProcessorPil().image_mean))
    frames = np.random.default_rng(0).integers(0, 256, (12, 40, 48, 3), dtype=np.uint8)
    result = classifier(frames, candidate_labels=LABELS[:3])
    assert sorted(item["label"] for item in result) == sorted(LABELS[:3])
    # the frozen-CLIP default text: CLIP's own prompt, one template
    assert template_groups(classifier.last_class_texts) == [[f"a photo of a {label}." for label in LABELS[:3]]]
    # AutoModel still gives transformers' own CLIPModel: the checkpoint stays a CLIP checkpoint
    assert type(AutoModel.from_pretrained(clip_dir)) is CLIPModel


# -- X-CLIP is XCLIPModel ------------------------------------------------------------------------------------------


def test_xclip_adapter_reproduces_xclipmodel_and_its_text_depends_on_the_video():
    torch.manual_seed(0)
    config = tiny_xclip_config()
    reference = XCLIPModel(config).eval()
    model = XCLIPForVideoClassification(config).eval()
    model.load_state_dict(reference.state_dict())
    pixel_values = torch.randn(3, 4, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    ids = torch.tensor([[49406, 320, 49407, 49407], [49406, 1125, 539, 49407], [49406, 539, 49407, 49407]])
    mask = (ids != 49407).long() | (torch.arange(4)[None] == (ids == 49407).int().argmax(-1)[:, None]).long()
    with torch.no_grad():
        expected = reference(input_ids=ids, pixel_values=pixel_values, attention_mask=mask)
        ours = model(pixel_values, ids, mask)
        torch.testing.assert_close(ours.logits, expected.logits_per_video, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(ours.video_embeds, expected.video_embeds, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(ours.text_embeds, expected.text_embeds, rtol=1e-5, atol=1e-6)
        video = model.get_video_features(pixel_values)
        text = model.get_text_features(ids, mask, video_outputs=video).pooler_output
    assert model.text_depends_on_video and text.shape == (3, 3, 16)
    assert not torch.allclose(text[0], text[1])  # the prompt generator reads each video's patch features
    with pytest.raises(ValueError, match="depends on the video"):
        model.get_text_features(ids, mask)
    assert model.num_frames == 4 and model.zero_shot_logit_scale == pytest.approx(reference.logit_scale.exp().item())
    with pytest.raises(ValueError, match="built for 4 frames"):
        model.get_video_features(torch.zeros(1, 8, 3, 32, 32))
