"""Tests written to fail on specific, plausible bugs (each test names the bug it catches)."""
import shutil
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from transformers.modeling_outputs import BaseModelOutputWithPooling

from modeling_t2l.processing.image_processing_t2l import T2LImageProcessor
from modeling_t2l.zero_shot.classifier import ZeroShotClassifier
from modeling_t2l.zero_shot.prompts import class_texts

# OpenAI CLIP's normalisation, as published in openai/CLIP (clip/clip.py, _transform). Literal on purpose: a test
# that compared the package's constants with themselves could not catch them being swapped for ImageNet's.
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)


def test_image_processor_normalises_with_openai_clips_mean_and_std():
    """Bug caught: the CLIP mean/std replaced by ImageNet's (or any other) in the image processor."""
    processor = T2LImageProcessor(num_frames=2, crop_size=16, shortest_edge=18)
    assert tuple(processor.image_mean) == OPENAI_CLIP_MEAN and tuple(processor.image_std) == OPENAI_CLIP_STD
    value = np.array([200, 100, 50], dtype=np.uint8)
    clip = np.broadcast_to(value, (2, 24, 30, 3)).copy()  # a constant colour survives resize and crop unchanged
    pixels = processor([clip])["pixel_values"][0]
    expected = (value / 255.0 - np.array(OPENAI_CLIP_MEAN)) / np.array(OPENAI_CLIP_STD)
    got = pixels.mean(dim=(0, 2, 3)).double().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    imagenet = (value / 255.0 - np.array(IMAGENET_MEAN)) / np.array((0.229, 0.224, 0.225))
    assert np.abs(got - imagenet).max() > 0.05  # the two normalisations are far enough apart to tell


class _FixedVideo(nn.Module):
    """A model whose video embedding is fixed: only the classifier's scoring is under test."""

    text_depends_on_video = False

    def __init__(self, video):
        super().__init__()
        self.video = nn.Parameter(video, requires_grad=False)

    def get_video_features(self, pixel_values):
        return BaseModelOutputWithPooling(pooler_output=self.video.expand(pixel_values.shape[0], -1))


def test_templates_average_the_per_template_softmaxes_not_the_logits():
    """Bug caught: softmax of the mean logits over templates instead of the mean of the per-template softmaxes."""
    video = torch.tensor([[1.0, 0.0]])
    # template 0: class 0 matches (cos 1 vs 0); template 1: class 1 matches (cos 0.5 vs 0)
    text = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.5, 0.75 ** 0.5]]])
    classifier = ZeroShotClassifier(num_templates=2, num_classes=2, scale=100.0, text_embeds=text)
    probabilities = classifier(_FixedVideo(video), torch.zeros(1, 2, 3, 4, 4))
    # per template: [1, 0] and [~0, 1]; their mean is [0.5, 0.5]. The mean logits (50, 25) would give [1, 0].
    torch.testing.assert_close(probabilities, torch.tensor([[0.5, 0.5]]), atol=1e-6, rtol=0)
    wrong = torch.softmax(100.0 * (video @ text.transpose(1, 2)).mean(0), dim=-1)
    assert (probabilities - wrong).abs().max() > 0.4


def test_descriptions_are_looked_up_by_the_exact_class_name():
    """Bug caught: descriptions looked up case-insensitively ("Brush Hair" silently given "brush hair"'s text)."""
    exact = class_texts(["brush hair", "cartwheel"], mode="descriptions")
    assert exact.mode == "descriptions" and exact.description_set == "hmdb51"
    with pytest.raises(KeyError, match="Brush Hair"):
        class_texts(["Brush Hair", "cartwheel"], mode="descriptions", descriptions="hmdb51")
    with pytest.warns(UserWarning, match="Brush Hair"):
        auto = class_texts(["Brush Hair", "cartwheel"])
    assert auto.mode == "templates"
    # a user's own table, too
    with pytest.raises(KeyError, match="Run"):
        class_texts(["Run"], mode="descriptions", descriptions={"run": "a person runs"})


def test_push_adds_the_processor_code_when_the_folder_lacks_it(tmp_path):
    """Bug caught: `t2l push` no longer bundling the processor's code files into a folder saved without them."""
    from modeling_t2l import T2LForVideoClassification
    from modeling_t2l.hub.upload import plan_upload
    from modeling_t2l.processing.processing_t2l import T2LProcessor
    from tests.tiny import tiny_t2l_config

    folder = tmp_path / "model"
    T2LForVideoClassification(tiny_t2l_config()).save_pretrained(folder)
    T2LProcessor.from_clip_tokenizer(num_frames=4, crop_size=32, shortest_edge=36).save_pretrained(folder)
    processor_code = ("processing_t2l.py", "image_processing_t2l.py", "tokenization.py")
    for name in processor_code:
        (folder / name).unlink(missing_ok=True)
    files = {file.path_in_repo: file.content for file in plan_upload(folder, "card").files}
    for name in processor_code:
        assert name in files, name
        source = files[name].decode("utf-8") if isinstance(files[name], bytes) else files[name].read_text()
        compile(source, name, "exec")  # real module source, not a placeholder
    assert "class T2LProcessor" in files["processing_t2l.py"].decode("utf-8")
