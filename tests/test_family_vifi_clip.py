"""ViFi-CLIP through the shared family tests, plus what is ViFi-CLIP's own: it is CLIP with frame averaging,
its converter maps the official checkpoints onto CLIPModel exactly and refuses anything else by name."""
from __future__ import annotations

import sys
import types

import pytest
import torch
from huggingface_hub.errors import StrictDataclassClassValidationError
from transformers import AutoModel, AutoModelForVideoClassification, CLIPModel

from modeling_t2l.models.vifi_clip import register
from modeling_t2l.models.vifi_clip.configuration_vifi_clip import ViFiCLIPConfig
from modeling_t2l.models.vifi_clip.conversion import (
    ConversionError,
    convert_checkpoint,
    convert_state_dict,
    is_vifi_clip_state_dict,
)
from modeling_t2l.models.vifi_clip.modeling_vifi_clip import ViFiCLIPForVideoClassification, ViFiCLIPModel
from modeling_t2l.models.vifi_clip.processing_vifi_clip import IMAGENET_MEAN, IMAGENET_STD, vifi_clip_processor
from modeling_t2l.pipelines.zero_shot_video_classification import add_pipeline_to_checkpoint
from tests.family_mixin import FamilyTesterMixin
from tests.tiny import save_tiny_clip, tiny_clip_config, tiny_text_config, tiny_vision_config

register()


def tiny_vifi_config(num_frames: int = 4, **overrides) -> ViFiCLIPConfig:
    return ViFiCLIPConfig(
        text_config=tiny_text_config().to_dict(), vision_config=tiny_vision_config().to_dict(), projection_dim=16,
        logit_scale_init_value=4.6052, num_frames=num_frames, **overrides,
    )


class TestViFiCLIPFamily(FamilyTesterMixin):
    remote_class_name = "ViFiCLIPForVideoClassification"

    def get_model(self):
        torch.manual_seed(0)
        return ViFiCLIPForVideoClassification(tiny_vifi_config(self.num_frames)).eval()

    def save_checkpoint(self, model, directory):
        model.save_pretrained(directory)
        vifi_clip_processor(num_frames=self.num_frames, crop_size=self.image_size).save_pretrained(directory)
        add_pipeline_to_checkpoint(directory)
        return directory

    def loading_ways(self, directory):
        clip_dir = save_tiny_clip(directory.parent / "clip", image_size=self.image_size)
        return {
            "from_pretrained": lambda: ViFiCLIPForVideoClassification.from_pretrained(directory),
            "auto": lambda: AutoModelForVideoClassification.from_pretrained(directory),
            "auto_base": lambda: AutoModel.from_pretrained(directory),
            "from_clip": lambda: ViFiCLIPForVideoClassification.from_clip(str(clip_dir), num_frames=self.num_frames),
        }

    def expected_trainable(self, model):
        # full fine-tuning (official TRAINER.ViFi_CLIP.USE: both): every parameter, logit_scale included
        return {name for name, _ in model.named_parameters()}


# -- ViFi-CLIP is CLIP + the frame mean ------------------------------------------------------------------------


def test_from_clip_loads_every_tensor_and_equals_clip_frame_averaging(tmp_path):
    clip_dir = save_tiny_clip(tmp_path / "clip")
    model, info = ViFiCLIPForVideoClassification.from_clip(str(clip_dir), num_frames=4, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    clip = CLIPModel.from_pretrained(clip_dir).eval()
    model.eval()
    pixel_values = torch.randn(2, 4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    ids = torch.tensor([[49406, 320, 1125, 539, 320, 49407], [49406, 320, 1125, 539, 49407, 49407]])
    with torch.no_grad():
        ours = model.get_video_features(pixel_values)
        frames = clip.get_image_features(pixel_values=pixel_values.flatten(0, 1)).pooler_output.view(2, 4, -1)
        torch.testing.assert_close(ours.frame_embeds, frames, rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(ours.pooler_output, frames.mean(dim=1), rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(model.get_text_features(ids).pooler_output,
                                   clip.get_text_features(input_ids=ids).pooler_output, rtol=1e-6, atol=1e-7)
    # zero-shot scale: the trained logit_scale, as ViFi-CLIP's test (no fixed 100)
    assert model.zero_shot_logit_scale == pytest.approx(clip.logit_scale.exp().item())
    assert ViFiCLIPForVideoClassification(tiny_vifi_config(eval_logit_scale=50.0)).zero_shot_logit_scale == 50.0


def test_loss_is_label_smoothed_cross_entropy_and_soft_targets_are_used_as_given():
    torch.manual_seed(0)
    model = ViFiCLIPModel(tiny_vifi_config()).eval()
    pixel_values = torch.randn(2, 4, 3, 32, 32)
    ids = torch.tensor([[49406, 320, 49407], [49406, 1125, 49407], [49406, 539, 49407]])
    out = model(pixel_values, ids, labels=torch.tensor([2, 0]))
    log_p = torch.log_softmax(out.logits, dim=-1)
    nll = -log_p[torch.arange(2), torch.tensor([2, 0])]
    expected = (0.9 * nll + 0.1 * (-log_p.mean(dim=-1))).mean()  # timm LabelSmoothingCrossEntropy(0.1)
    torch.testing.assert_close(out.loss, expected)
    assert out.loss_cross_entropy is out.loss
    soft = torch.tensor([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]])
    torch.testing.assert_close(model(pixel_values, ids, labels=soft).loss, -(soft * log_p).sum(-1).mean())


def test_processor_defaults_are_vifi_clips_imagenet_test_transform():
    processor = vifi_clip_processor()
    image_processor = processor.image_processor
    assert image_processor.num_frames == 32 and image_processor.crop_size == 224 and image_processor.shortest_edge == 256
    # the official 0-255 values divided by 255
    assert image_processor.image_mean == pytest.approx([123.675 / 255, 116.28 / 255, 103.53 / 255])
    assert image_processor.image_std == pytest.approx([58.395 / 255, 57.12 / 255, 57.375 / 255])
    assert tuple(IMAGENET_MEAN) == (0.485, 0.456, 0.406) and tuple(IMAGENET_STD) == (0.229, 0.224, 0.225)
    assert ViFiCLIPForVideoClassification.zero_shot_templates == ("a photo of a {}.",)


def test_config_refuses_bad_values():
    invalid = (ValueError, StrictDataclassClassValidationError)
    with pytest.raises(invalid, match="num_frames must be a positive integer, got 0"):
        tiny_vifi_config(num_frames=0)
    with pytest.raises(invalid, match="eval_logit_scale"):
        tiny_vifi_config(eval_logit_scale=-1.0)
    with pytest.raises(invalid, match="label_smoothing"):
        tiny_vifi_config(label_smoothing=1.5)


# -- the converter ----------------------------------------------------------------------------------------------


def official_state_dict(clip: CLIPModel, prefix: str = "module.") -> dict[str, torch.Tensor]:
    """What the official ViFi-CLIP code saves for a model fine-tuned from `clip`, written out in OpenAI's layout
    (packed q/k/v, x @ proj matrices), independently of the converter's tables."""
    sd = clip.state_dict()
    out = {"logit_scale": sd["logit_scale"]}
    for ours, official, layers in (
        ("vision_model.encoder.layers.", "image_encoder.transformer.resblocks.", clip.config.vision_config.num_hidden_layers),
        ("text_model.encoder.layers.", "text_encoder.transformer.resblocks.", clip.config.text_config.num_hidden_layers),
    ):
        for i in range(layers):
            p, o = f"{ours}{i}.", f"{official}{i}."
            for kind in ("weight", "bias"):
                out[f"{o}attn.in_proj_{kind}"] = torch.cat([sd[f"{p}self_attn.{x}_proj.{kind}"] for x in "qkv"])
                out[f"{o}attn.out_proj.{kind}"] = sd[f"{p}self_attn.out_proj.{kind}"]
                out[f"{o}ln_1.{kind}"] = sd[f"{p}layer_norm1.{kind}"]
                out[f"{o}ln_2.{kind}"] = sd[f"{p}layer_norm2.{kind}"]
                out[f"{o}mlp.c_fc.{kind}"] = sd[f"{p}mlp.fc1.{kind}"]
                out[f"{o}mlp.c_proj.{kind}"] = sd[f"{p}mlp.fc2.{kind}"]
    out["image_encoder.conv1.weight"] = sd["vision_model.embeddings.patch_embedding.weight"]
    out["image_encoder.class_embedding"] = sd["vision_model.embeddings.class_embedding"]
    out["image_encoder.positional_embedding"] = sd["vision_model.embeddings.position_embedding.weight"]
    for kind in ("weight", "bias"):
        out[f"image_encoder.ln_pre.{kind}"] = sd[f"vision_model.pre_layrnorm.{kind}"]
        out[f"image_encoder.ln_post.{kind}"] = sd[f"vision_model.post_layernorm.{kind}"]
        out[f"text_encoder.ln_final.{kind}"] = sd[f"text_model.final_layer_norm.{kind}"]
    out["image_encoder.proj"] = sd["visual_projection.weight"].t().contiguous()
    out["text_encoder.text_projection"] = sd["text_projection.weight"].t().contiguous()
    out["text_encoder.positional_embedding"] = sd["text_model.embeddings.position_embedding.weight"]
    # the precomputed prompts of two training classes: fp16 token embeddings, <|startoftext|> first
    tokens = torch.tensor([[49406, 320, 1125, 539, 320, 49407], [49406, 320, 1125, 539, 320, 49407]])
    out["prompt_learner.complete_text_embeddings"] = sd["text_model.embeddings.token_embedding.weight"][tokens].half().float()
    return {prefix + key: value for key, value in out.items()}


@pytest.fixture(scope="module")
def fp16_born_clip():
    """A random CLIP whose token embedding is fp16-exact, as OpenAI's (released in fp16) is."""
    torch.manual_seed(0)
    clip = CLIPModel(tiny_clip_config()).eval()
    with torch.no_grad():
        table = clip.text_model.embeddings.token_embedding.weight
        table.copy_(table.half().float())
    return clip


def _inputs():
    generator = torch.Generator().manual_seed(3)
    pixel_values = torch.randn(2, 4, 3, 32, 32, generator=generator)
    ids = torch.tensor([[49406, 320, 1125, 539, 320, 2368, 269, 49407], [49406, 320, 1125, 539, 320, 3010, 49407, 49407]])
    mask = (torch.arange(ids.shape[1])[None] <= (ids == 49407).int().argmax(-1)[:, None]).long()
    return pixel_values, ids, mask


def _save_official(path, state_dict):
    """The official file layout, with a yacs config object: a module that does not exist where it is loaded."""
    yacs = types.ModuleType("yacs")
    yacs_config = types.ModuleType("yacs.config")

    class CfgNode(dict):
        pass

    CfgNode.__module__, CfgNode.__qualname__ = "yacs.config", "CfgNode"
    yacs_config.CfgNode = CfgNode
    sys.modules["yacs"], sys.modules["yacs.config"] = yacs, yacs_config
    try:
        config = CfgNode(TRAIN=CfgNode(LR=8e-6, EPOCHS=10))
        config.__dict__["__immutable__"] = True
        torch.save({"model": state_dict, "optimizer": {"state": {}, "param_groups": []}, "lr_scheduler": {},
                    "max_accuracy": 51.3, "epoch": 9, "config": config}, path)
    finally:
        del sys.modules["yacs"], sys.modules["yacs.config"]
    return path


def test_converted_official_checkpoint_reproduces_clipmodel(tmp_path, fp16_born_clip):
    clip = fp16_born_clip
    checkpoint = _save_official(tmp_path / "best.pth", official_state_dict(clip))
    with pytest.raises(Exception):  # the file really holds a class torch's safe loader refuses
        torch.load(checkpoint, weights_only=True)
    token_embedding = clip.text_model.embeddings.token_embedding.weight.detach()
    model = convert_checkpoint(checkpoint, tmp_path / "converted", token_embedding=token_embedding, num_frames=4,
                               text_heads=2, vision_heads=2)
    reloaded = ViFiCLIPForVideoClassification.from_pretrained(tmp_path / "converted").eval()
    clip_state = clip.state_dict()
    for name, tensor in reloaded.vifi_clip.state_dict().items():
        assert torch.equal(tensor, clip_state[name]), name
    pixel_values, ids, mask = _inputs()
    with torch.no_grad():
        frames = clip.get_image_features(pixel_values=pixel_values.flatten(0, 1)).pooler_output.view(2, 4, -1)
        video = frames.mean(dim=1)
        text = clip.get_text_features(input_ids=ids, attention_mask=mask).pooler_output
        logits = clip.logit_scale.exp() * torch.nn.functional.normalize(video, dim=-1) @ torch.nn.functional.normalize(text, dim=-1).t()
        for converted in (model, reloaded):
            torch.testing.assert_close(converted.get_video_features(pixel_values).pooler_output, video, rtol=1e-5, atol=0)
            torch.testing.assert_close(converted.get_text_features(ids, mask).pooler_output, text, rtol=1e-5, atol=0)
            torch.testing.assert_close(converted(pixel_values, ids, mask).logits, logits, rtol=1e-5, atol=0)
    saved_processor = (tmp_path / "converted" / "preprocessor_config.json").read_text()
    assert "0.485" in saved_processor and '"num_frames": 4' in saved_processor


def test_converter_refuses_what_it_cannot_convert_by_name(fp16_born_clip):
    clip = fp16_born_clip
    table = clip.text_model.embeddings.token_embedding.weight.detach()
    good = official_state_dict(clip)
    assert is_vifi_clip_state_dict(good)
    config, converted = convert_state_dict(good, table, num_frames=4, text_heads=2, vision_heads=2)
    assert config.model_type == "vifi_clip" and config.num_frames == 4

    prompting = {**good, "module.prompt_learner.ctx": torch.zeros(4, 32),
                 "module.image_encoder.transformer.resblocks.1.VPT_shallow": torch.zeros(8, 32)}
    with pytest.raises(ConversionError, match=r"(?s)bridge and prompt.*VPT_shallow\n  prompt_learner\.ctx"):
        convert_state_dict(prompting, table, text_heads=2, vision_heads=2)

    tc_clip = {**good, "module.text_encoder.prompt_generation_layer.0.ln_1_kv.weight": torch.zeros(32)}
    assert not is_vifi_clip_state_dict(tc_clip)
    with pytest.raises(ConversionError, match="TC-CLIP"):
        convert_state_dict(tc_clip, table, text_heads=2, vision_heads=2)

    unknown = {**good, "module.image_encoder.extra.weight": torch.zeros(3)}
    with pytest.raises(ConversionError, match=r"unmapped.*\n  image_encoder\.extra\.weight"):
        convert_state_dict(unknown, table, text_heads=2, vision_heads=2)

    missing = {k: v for k, v in good.items() if not k.endswith("resblocks.1.mlp.c_fc.bias")}
    with pytest.raises(ConversionError, match=r"(?s)missing.*layers\.1\.mlp\.fc1\.bias"):
        convert_state_dict(missing, table, text_heads=2, vision_heads=2)

    wrong = {**good, "module.text_encoder.ln_final.weight": torch.zeros(31)}
    with pytest.raises(ConversionError, match=r"(?s)wrong shape.*final_layer_norm\.weight"):
        convert_state_dict(wrong, table, text_heads=2, vision_heads=2)

    other_clip = torch.randn_like(table)
    with pytest.raises(ConversionError, match="not the one this checkpoint was trained with"):
        convert_state_dict(good, other_clip, text_heads=2, vision_heads=2)

    with pytest.raises(ConversionError, match="text_heads"):
        convert_state_dict(good, table)  # width 32 cannot use the official width // 64 heads

    with pytest.raises(ConversionError, match="not a ViFi-CLIP state dict"):
        convert_state_dict({"module.visual.conv1.weight": torch.zeros(1)}, table)


def test_convert_refuses_missing_and_foreign_files_naming_them(tmp_path):
    with pytest.raises(ConversionError, match="nope.pth: no such checkpoint file"):
        convert_checkpoint(tmp_path / "nope.pth", tmp_path / "out", token_embedding=torch.zeros(3, 2))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ConversionError, match="junk.pth"):
        convert_checkpoint(junk, tmp_path / "out", token_embedding=torch.zeros(3, 2))


def test_t2l_convert_detects_vifi_clip_checkpoints(tmp_path, fp16_born_clip, capsys):
    from modeling_t2l.cli import main as cli_main
    from tests.tiny import TOKENIZER_DIR

    clip_dir = tmp_path / "clip"
    fp16_born_clip.save_pretrained(clip_dir)
    for name in ("vocab.json", "merges.txt"):
        (clip_dir / name).write_bytes((TOKENIZER_DIR / name).read_bytes())
    checkpoint = _save_official(tmp_path / "best.pth", official_state_dict(fp16_born_clip))
    common = ["--checkpoint", str(checkpoint), "--clip", str(clip_dir), "--num-frames", "4",
              "--text-heads", "2", "--vision-heads", "2"]
    assert cli_main(["convert", *common, "--output-dir", str(tmp_path / "out")]) == 0  # no --family: detected
    assert "ViFi-CLIP parameters (all trained" in capsys.readouterr().out
    model = AutoModelForVideoClassification.from_pretrained(tmp_path / "out")
    assert isinstance(model, ViFiCLIPForVideoClassification) and model.num_frames == 4
    for name, tensor in model.vifi_clip.state_dict().items():
        assert torch.equal(tensor, fp16_born_clip.state_dict()[name]), name
    # ViFi-CLIP's clip length is refused for other families instead of being ignored
    assert cli_main(["convert", *common, "--family", "t2l", "--output-dir", str(tmp_path / "t2l")]) == 2
    assert "--num-frames applies to ViFi-CLIP checkpoints only" in capsys.readouterr().err


def test_vifi_clip_recipe_builds_a_fully_trained_vifi_clip_with_its_processor(tmp_path):
    from pathlib import Path

    from modeling_t2l.training.trainer import build_model, build_processor, load_recipe

    clip_dir = save_tiny_clip(tmp_path / "clip")
    recipe_file = Path(__file__).resolve().parent.parent / "configuration" / "vifi_clip" / "few_shot_hmdb51_k2.yaml"
    recipe = load_recipe(recipe_file, [f"model.clip={clip_dir}", "model.num_frames=4", "data.data_root=/data",
                                       f"training.output_dir={tmp_path / 'run'}", "training.fp16=false",
                                       "training.use_cpu=true"])
    model = build_model(recipe)
    assert isinstance(model, ViFiCLIPForVideoClassification) and model.num_frames == 4
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {n for n, _ in model.named_parameters()}
    assert model.training_negatives == "vocabulary"  # cross-entropy over every class of the vocabulary
    image_processor = build_processor(recipe).image_processor
    assert image_processor.image_mean == pytest.approx(list(IMAGENET_MEAN)) and image_processor.resample == 2
    assert recipe.data.text_templates == ["a photo of a {}."] and recipe.training.weight_decay == 0.001
