"""The tests every model family passes, in the style of transformers' `ModelTesterMixin`.

A family's test module subclasses `FamilyTesterMixin` in a class named `Test...` and provides four things:

    class TestViFiCLIPFamily(FamilyTesterMixin):
        remote_class_name = "ViFiCLIPForVideoClassification"   # the head class, as remote code names it

        def get_model(self):            # a tiny random head model (eval mode); new tensors made non-trivial
        def save_checkpoint(self, model, directory):   # the directory a user gets (weights, processor, code)
        def loading_ways(self, directory) -> dict[str, callable]:   # every way the family is loaded
        def expected_trainable(self, model) -> set[str]:   # the trainable set, written from the family's spec

Optional: `num_frames`, `image_size`, `supports_sdpa` class attributes. Everything else is generic and calls
only the family contract (`modeling_t2l.modeling_utils`), the shared pipeline and the shared evaluation:

- save/load is bit-exact (same process, same shapes: tensors compared with `torch.equal`);
- batching: one batch of 3 videos gives each video's single-video features (to float tolerance);
- SDPA and eager attention agree (tolerance);
- the declared trainable set after every way of loading, and `apply_trainable_set` sets exactly it;
- feature, logits and loss shapes; every loss term as a `loss_*` field;
- `pipeline("zero-shot-video-classification", model=<saved directory>)` scores tiny videos as the contract's
  features say (hand-computed with the family's default text);
- `evaluate_protocol` on a tiny protocol whose labels are chosen from hand-computed predictions, so top-1 /
  top-5 are known in advance;
- the saved directory loads with `trust_remote_code=True` in a Python without this package, and gives the same
  features (tolerance: another process).
"""
from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from transformers import AutoModelForVideoClassification, pipeline

from modeling_t2l.data import Protocol, SplitSpec
from modeling_t2l.evaluation.evaluate import evaluate_protocol, split_class_texts
from modeling_t2l.modeling_utils import text_embeddings, video_embeddings
from modeling_t2l.pipelines.zero_shot_video_classification import TASK
from modeling_t2l.processing.checkpoint_processor import load_processor
from modeling_t2l.processing.tokenization import encode_texts
from modeling_t2l.processing.video_io import read_video
from modeling_t2l.zero_shot.prompts import class_texts, model_class_texts
from tests.isolated import run_without_package

LABELS = ["archery", "juggling balls", "surfing water", "playing cello", "riding a bike", "tying a tie"]


def write_frame_folder(folder: Path, seed: int, num_frames: int = 6, height: int = 40, width: int = 48) -> Path:
    """A video as a folder of random-noise JPEG frames (img_00001.jpg, ...): distinct videos, decoded exactly."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for index in range(1, num_frames + 1):
        frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(frame).save(folder / f"img_{index:05d}.jpg", quality=95)
    return folder


class FamilyTesterMixin:
    num_frames: int = 4
    image_size: int = 32
    supports_sdpa: bool = True
    remote_class_name: str = ""

    # -- what a family provides ---------------------------------------------------------------------------------

    def get_model(self):
        raise NotImplementedError

    def save_checkpoint(self, model, directory: Path) -> Path:
        raise NotImplementedError

    def loading_ways(self, directory: Path) -> dict:
        raise NotImplementedError

    def expected_trainable(self, model) -> set[str]:
        raise NotImplementedError

    # -- shared helpers -----------------------------------------------------------------------------------------

    def pixel_values(self, batch_size: int, seed: int = 0) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        return torch.randn(batch_size, self.num_frames, 3, self.image_size, self.image_size, generator=generator)

    def text_inputs(self, processor, labels=LABELS) -> dict:
        return dict(encode_texts(processor.tokenizer, [f"a photo of a {label}." for label in labels]))

    def saved(self, tmp_path: Path, model=None):
        model = self.get_model() if model is None else model
        directory = self.save_checkpoint(model, tmp_path / "checkpoint")
        return model, directory, load_processor(directory, model.num_frames)

    # -- the tests ----------------------------------------------------------------------------------------------

    def test_save_load_is_bit_exact(self, tmp_path):
        model, directory, processor = self.saved(tmp_path)
        loaded = type(model).from_pretrained(directory).eval()
        state, loaded_state = model.state_dict(), loaded.state_dict()
        assert set(state) == set(loaded_state)
        for name, tensor in state.items():
            assert torch.equal(tensor, loaded_state[name]), name
        pixel_values, text = self.pixel_values(2), self.text_inputs(processor)
        with torch.no_grad():
            a, b = model(pixel_values, **text), loaded(pixel_values, **text)
        assert torch.equal(a.logits, b.logits)
        config = json.loads((directory / "config.json").read_text())
        assert set(model.remote_code_auto_map) <= set(config["auto_map"])

    def test_batching_equivalence(self, tmp_path):
        model = self.get_model()
        _, _, processor = self.saved(tmp_path, model)
        pixel_values, text = self.pixel_values(3, seed=1), self.text_inputs(processor)
        with torch.no_grad():
            batched_outputs = model.get_video_features(pixel_values)
            batched_video = batched_outputs.pooler_output
            batched_text = text_embeddings(model, text["input_ids"], text["attention_mask"], video_outputs=batched_outputs)
            for index in range(3):
                single_outputs = model.get_video_features(pixel_values[index : index + 1])
                torch.testing.assert_close(single_outputs.pooler_output[0], batched_video[index], rtol=1e-5, atol=1e-6)
                single_text = text_embeddings(model, text["input_ids"], text["attention_mask"], video_outputs=single_outputs)
                expected = batched_text[index] if model.text_depends_on_video else batched_text
                torch.testing.assert_close(single_text[0] if model.text_depends_on_video else single_text, expected,
                                           rtol=1e-5, atol=1e-6)
            # text rows are independent of each other too
            one_text = text_embeddings(model, text["input_ids"][:1], text["attention_mask"][:1], video_outputs=batched_outputs)
            first = batched_text[:, :1] if model.text_depends_on_video else batched_text[:1]
            torch.testing.assert_close(one_text, first, rtol=1e-5, atol=1e-6)

    def test_sdpa_matches_eager(self, tmp_path):
        if not self.supports_sdpa:
            pytest.skip("this family has no SDPA path")
        model, directory, processor = self.saved(tmp_path)
        eager = type(model).from_pretrained(directory, attn_implementation="eager").eval()
        sdpa = type(model).from_pretrained(directory, attn_implementation="sdpa").eval()
        assert eager.config._attn_implementation == "eager" and sdpa.config._attn_implementation == "sdpa"
        pixel_values, text = self.pixel_values(2, seed=2), self.text_inputs(processor)
        with torch.no_grad():
            a, b = eager(pixel_values, **text), sdpa(pixel_values, **text)
        torch.testing.assert_close(a.logits, b.logits, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(a.video_embeds, b.video_embeds, rtol=1e-5, atol=1e-6)

    def test_trainable_set_after_every_way_of_loading(self, tmp_path):
        model, directory, _ = self.saved(tmp_path)
        ways = {"constructor": self.get_model, **self.loading_ways(directory)}
        for name, load in ways.items():
            loaded = load()
            loaded = loaded[0] if isinstance(loaded, tuple) else loaded
            expected = self.expected_trainable(loaded)
            assert set(loaded.trainable_parameter_names()) == expected, name
            loaded.apply_trainable_set()
            assert {n for n, p in loaded.named_parameters() if p.requires_grad} == expected, name

    def test_feature_and_output_shapes(self, tmp_path):
        model, _, processor = self.saved(tmp_path)
        batch, classes = 2, len(LABELS)
        pixel_values, text = self.pixel_values(batch, seed=3), self.text_inputs(processor)
        outputs = model.get_video_features(pixel_values)
        embed_dim = outputs.pooler_output.shape[-1]
        assert outputs.pooler_output.shape == (batch, embed_dim)
        text_features = text_embeddings(model, text["input_ids"], text["attention_mask"], video_outputs=outputs)
        assert text_features.shape == ((batch, classes, embed_dim) if model.text_depends_on_video else (classes, embed_dim))
        assert model.num_frames == self.num_frames
        assert math.isfinite(model.zero_shot_logit_scale) and model.zero_shot_logit_scale > 0
        labels = torch.tensor([1, 3])
        result = model(pixel_values, **text, labels=labels)
        assert result.logits.shape == (batch, classes) and result.logits_per_text.shape == (classes, batch)
        assert result.video_embeds.shape == (batch, embed_dim)
        torch.testing.assert_close(result.video_embeds.norm(dim=-1), torch.ones(batch))
        loss_terms = [key for key in result.keys() if key.startswith("loss_")]
        assert loss_terms and result.loss.ndim == 0 and torch.isfinite(result.loss)
        # the logits are the contract's scale times the cosine of the contract's features
        cos = F.normalize(outputs.pooler_output, dim=-1)
        text_unit = F.normalize(text_features, dim=-1)
        cos = torch.einsum("be,bke->bk", cos, text_unit) if text_unit.ndim == 3 else cos @ text_unit.t()
        logit_scale = float(model.get_logit_scale().exp())
        torch.testing.assert_close(result.logits, logit_scale * cos, rtol=1e-5, atol=1e-5)

    @torch.no_grad()
    def hand_probabilities(self, model, processor, video: Path, texts) -> np.ndarray:
        """softmax(scale * cos) for one video, averaged over templates, from the contract's features."""
        # the checkpoint's own TSN sampler (T2L: ActionCLIP's; TC-CLIP: mmaction's), as its processor config says
        sampling = getattr(processor.image_processor, "frame_sampling", "actionclip")
        frames = read_video(str(video), model.num_frames, sampling=sampling)
        pixel_values = processor.image_processor([frames], return_tensors="pt")["pixel_values"]
        outputs = model.get_video_features(pixel_values)
        per_template = []
        for group in texts.texts if not isinstance(texts.texts[0], str) else [texts.texts]:
            encoded = encode_texts(processor.tokenizer, list(group))
            text = text_embeddings(model, encoded["input_ids"], encoded["attention_mask"], video_outputs=outputs)
            video_unit = F.normalize(outputs.pooler_output, dim=-1)
            text_unit = F.normalize(text, dim=-1)
            cos = torch.einsum("be,bke->bk", video_unit, text_unit) if text_unit.ndim == 3 else video_unit @ text_unit.t()
            per_template.append(torch.softmax(model.zero_shot_logit_scale * cos, dim=-1))
        return torch.stack(per_template).mean(dim=0)[0].numpy()

    def test_pipeline_scores_as_the_contract_says(self, tmp_path):
        model, directory, processor = self.saved(tmp_path)
        # the Auto class this package registers (a directory's `custom_pipelines` entry is for remote code)
        loaded = AutoModelForVideoClassification.from_pretrained(directory)
        assert type(loaded) is type(model)
        classifier = pipeline(TASK, model=loaded)
        assert classifier.num_frames == model.num_frames
        videos = [write_frame_folder(tmp_path / f"video{i}", seed=i) for i in range(2)]
        results = classifier([str(v) for v in videos], candidate_labels=LABELS)
        templates = getattr(model, "zero_shot_templates", None)
        # the family's own prompts (TC-CLIP), else its test template (ViFi-CLIP), else the pipeline's default texts
        texts = (model_class_texts(model, LABELS)
                 or (class_texts(LABELS, mode="templates", templates=templates) if templates else None)
                 or classifier.last_class_texts)
        assert texts.texts == classifier.last_class_texts.texts  # the pipeline scored with those texts
        for video, result in zip(videos, results):
            assert [item["label"] for item in result] != [] and sorted(i["label"] for i in result) == sorted(LABELS)
            scores = {item["label"]: item["score"] for item in result}
            assert sum(scores.values()) == pytest.approx(1.0, abs=1e-5)
            expected = self.hand_probabilities(classifier.model, processor, video, texts)
            np.testing.assert_allclose([scores[label] for label in LABELS], expected, rtol=1e-4, atol=1e-6)

    def test_evaluation_on_a_tiny_protocol_gives_the_known_accuracies(self, tmp_path):
        model, directory, processor = self.saved(tmp_path)
        root = tmp_path / "protocol"
        labels_csv = root / "labels.csv"
        root.mkdir()
        labels_csv.write_text("id,name\n" + "".join(f"{i},{name}\n" for i, name in enumerate(LABELS)))
        videos = [write_frame_folder(root / "videos" / f"v{i}", seed=10 + i) for i in range(5)]
        protocol = Protocol(
            name="tiny", task="zero_shot", dataset="tiny", summary="known answers", layout="frame folders",
            splits=(SplitSpec("split1", "eval", str(labels_csv), list_file=str(root / "split1.txt")),),
            aggregation="single", num_frames=model.num_frames, text_mode="templates",
        )
        texts = split_class_texts(model, protocol, "split1")  # what evaluation scores with, for every family
        probabilities = [self.hand_probabilities(model, processor, video, texts) for video in videos]
        ranked = [list(np.argsort(-p, kind="stable")) for p in probabilities]
        # labels: videos 0-2 labelled with their top-1 class, 3 with its 2nd, 4 with its last (6th) class, so
        # top-1 is 3/5 and top-5 4/5
        labels = [ranked[0][0], ranked[1][0], ranked[2][0], ranked[3][1], ranked[4][-1]]
        (root / "split1.txt").write_text("".join(f"v{i} {label}\n" for i, label in enumerate(labels)))
        results = evaluate_protocol(model, processor, protocol, root / "videos", batch_size=2, progress=False)
        split = results["splits"]["split1"]
        assert split.num_videos == 5 and split.skipped_videos == 0
        assert split.top1 == pytest.approx(60.0)
        assert split.top5 == pytest.approx(80.0)

    def test_remote_code_loads_without_the_package(self, tmp_path):
        model, directory, processor = self.saved(tmp_path)
        pixel_values, text = self.pixel_values(2, seed=4), self.text_inputs(processor)
        torch.save({"pixel_values": pixel_values, **text}, tmp_path / "inputs.pt")
        with torch.no_grad():
            local = model(pixel_values, **text)
            local_video = video_embeddings(model, pixel_values)
        run_without_package(REMOTE_CHILD, [directory, tmp_path], tmp_path)
        report = json.loads((tmp_path / "report.json").read_text())
        assert report["without_flag_refused"] is True
        assert report["head"].startswith("transformers_modules.") and report["head"].endswith("." + self.remote_class_name)
        assert report["pipeline"] == sorted(LABELS)
        remote = torch.load(tmp_path / "outputs.pt", weights_only=True)
        # another process: float tolerance, not equality
        torch.testing.assert_close(remote["logits"], local.logits, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(remote["video"], local_video, rtol=1e-5, atol=1e-6)


REMOTE_CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    import numpy as np
    import torch
    from transformers import AutoModelForVideoClassification, pipeline

    directory, work = Path(sys.argv[1]), Path(sys.argv[2])
    report = {}
    try:
        AutoModelForVideoClassification.from_pretrained(directory)
        report["without_flag_refused"] = False
    except (ValueError, KeyError) as err:
        report["without_flag_refused"] = True
    model = AutoModelForVideoClassification.from_pretrained(directory, trust_remote_code=True).eval()
    report["head"] = type(model).__module__ + "." + type(model).__name__
    x = torch.load(work / "inputs.pt", weights_only=True)
    with torch.no_grad():
        out = model(x["pixel_values"], x["input_ids"], x["attention_mask"])
        video = model.get_video_features(x["pixel_values"]).pooler_output
    torch.save({"logits": out.logits, "video": video}, work / "outputs.pt")
    frames = np.random.default_rng(0).integers(0, 256, (6, 40, 48, 3), dtype=np.uint8)
    classifier = pipeline(model=str(directory), trust_remote_code=True)
    result = classifier(frames, candidate_labels=%r)
    report["pipeline"] = sorted(item["label"] for item in result)
    (work / "report.json").write_text(json.dumps(report))
    """
    % (LABELS,)
)
