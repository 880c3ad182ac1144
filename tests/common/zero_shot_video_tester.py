"""The shape of a zero-shot video family's run of transformers' common tests, shared by every family.

A family plugs in with two small subclasses (see test_modeling_t2l_common.py):

    class TCCLIPModelTester(ZeroShotVideoModelTester):
        def get_config(self):                       # a tiny config of the family
            return TCCLIPConfig(text_config=self.text_config(), vision_config=self.vision_config(), ...)

    class TCCLIPModelTest(ZeroShotVideoModelTestMixin, ModelTesterMixin, unittest.TestCase):
        all_model_classes = (TCCLIPModel, TCCLIPForVideoClassification)
        model_tester_class = TCCLIPModelTester
        config_class = TCCLIPConfig

Inputs follow the family contract (modeling_t2l/modeling_utils.py): `pixel_values` (B, T, 3, H, W), one text per
class in `input_ids` (K, L) and `labels` (B,) indexing those rows. The tester uses K = B so that transformers'
batching test, which slices every input along its first dimension, slices videos and texts together.
"""
from __future__ import annotations

import copy

import torch
from transformers import CLIPTextConfig, CLIPVisionConfig


class ZeroShotVideoModelTester:
    """Tiny inputs for a CLIP-based zero-shot video model; subclasses write `get_config`."""

    def __init__(self, parent, batch_size=2, num_frames=2, image_size=32, patch_size=8, seq_length=7,
                 hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                 projection_dim=16, vocab_size=99, is_training=True):
        self.parent = parent
        self.batch_size = batch_size
        self.num_frames = num_frames
        self.image_size = image_size
        self.patch_size = patch_size
        self.seq_length = seq_length
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.projection_dim = projection_dim
        self.vocab_size = vocab_size
        self.is_training = is_training
        self.video_model_tester = _VideoInputs(self)
        # (CLS + patches) per frame; the vision attention also sees the family's extra tokens
        self.vision_seq_length = (image_size // patch_size) ** 2 + 1

    def get_text_config(self) -> CLIPTextConfig:
        return CLIPTextConfig(
            vocab_size=self.vocab_size, hidden_size=self.hidden_size, intermediate_size=self.intermediate_size,
            num_hidden_layers=self.num_hidden_layers, num_attention_heads=self.num_attention_heads,
            max_position_embeddings=16, bos_token_id=self.vocab_size - 3, eos_token_id=self.vocab_size - 1,
            pad_token_id=self.vocab_size - 1, projection_dim=self.projection_dim,
        )

    def get_vision_config(self) -> CLIPVisionConfig:
        return CLIPVisionConfig(
            hidden_size=self.hidden_size, intermediate_size=self.intermediate_size,
            num_hidden_layers=self.num_hidden_layers, num_attention_heads=self.num_attention_heads,
            image_size=self.image_size, patch_size=self.patch_size, projection_dim=self.projection_dim,
        )

    def get_config(self):
        raise NotImplementedError

    def prepare_pixel_values(self) -> torch.Tensor:
        size = self.image_size
        return torch.randn(self.batch_size, self.num_frames, 3, size, size)

    def prepare_text(self) -> tuple[torch.Tensor, torch.Tensor]:
        """K = batch_size texts of different lengths, each ending in end-of-text and padded with it."""
        eos = self.vocab_size - 1
        input_ids = torch.randint(1, self.vocab_size - 3, (self.batch_size, self.seq_length))
        input_ids[:, 0] = self.vocab_size - 3
        attention_mask = torch.ones_like(input_ids)
        for row in range(self.batch_size):
            end = self.seq_length - 1 - (row % (self.seq_length - 2))
            input_ids[row, end:] = eos
            attention_mask[row, end + 1:] = 0
        return input_ids, attention_mask

    def prepare_config_and_inputs_for_common(self):
        input_ids, attention_mask = self.prepare_text()
        return self.get_config(), {
            "pixel_values": self.prepare_pixel_values(),
            "input_ids": input_ids,
            "attention_mask": attention_mask,
        }


class _VideoInputs:
    """What transformers' `get_video_features` tests call: the video-only inputs, under the contract's name."""

    def __init__(self, tester: ZeroShotVideoModelTester):
        self.tester = tester
        self.num_hidden_layers = tester.num_hidden_layers

    def prepare_config_and_inputs_for_common(self):
        return self.tester.get_config(), {"pixel_values": self.tester.prepare_pixel_values()}


class ZeroShotVideoModelTestMixin:
    """Put before transformers' `ModelTesterMixin`: the family-contract versions of the tests whose generic form
    assumes one stack of layers with one `hidden_states` / `attentions` (ours are per tower, as CLIP's)."""

    model_tester_class: type = ZeroShotVideoModelTester
    config_class: type | None = None
    extra_vision_tokens = 1  # attention keys beyond CLS + patches (T2L: the temporal token)
    _is_composite = True
    additional_model_inputs = ["input_ids"]  # the main input is pixel_values; texts are the other half
    test_resize_embeddings = False  # the towers' token embeddings are CLIP's, frozen; nothing resizes them

    def setUp(self):
        common = self.common_tests
        self.model_tester = self.model_tester_class(self)
        self.config_tester = common.ConfigTester(
            self, config_class=self.config_class, has_text_modality=False, common_properties=["projection_dim"]
        )

    def test_config(self):
        self.config_tester.run_common_tests()

    # -- where a family's towers differ in shape (the defaults are T2L's and CLIP's) -------------------------

    def text_hidden_shape(self) -> list[int]:
        """Shape of each text hidden state: (K, L, D), one row per text."""
        tester = self.model_tester
        return [tester.batch_size, tester.seq_length, tester.hidden_size]

    def vision_hidden_shape(self) -> list[int]:
        """Shape of each vision hidden state: (B*T, N, D), the tower run per frame."""
        tester = self.model_tester
        return [tester.batch_size * tester.num_frames, tester.vision_seq_length, tester.hidden_size]

    def vision_attention_shape(self, layer: int) -> list[int]:
        """(heads, queries, keys) of the vision attention of `layer`: CLS + patches + `extra_vision_tokens`."""
        tester = self.model_tester
        tokens = tester.vision_seq_length + self.extra_vision_tokens
        return [tester.num_attention_heads, tokens, tokens]

    def _prepare_for_class(self, inputs_dict, model_class, return_labels=False):
        inputs_dict = copy.deepcopy(inputs_dict)
        if return_labels:
            # video i is described by text row i % K
            num_texts = inputs_dict["input_ids"].shape[0]
            inputs_dict["labels"] = torch.arange(self.model_tester.batch_size) % num_texts
        return inputs_dict

    def _tower_outputs(self, model_class, config, inputs, **flags):
        model = model_class(copy.deepcopy(config)).eval()
        with torch.no_grad():
            outputs = model(**inputs, **flags)
        return outputs.text_model_output, outputs.vision_model_output

    def test_hidden_states_output(self):
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        tester = self.model_tester
        for model_class in self.all_model_classes:
            for flags, cfg in (({"output_hidden_states": True}, config), ({}, _with(config, output_hidden_states=True))):
                text, vision = self._tower_outputs(model_class, cfg, inputs, **flags)
                self.assertEqual(len(text.hidden_states), tester.num_hidden_layers + 1)
                self.assertEqual(len(vision.hidden_states), tester.num_hidden_layers + 1)
                self.assertEqual(list(text.hidden_states[0].shape), self.text_hidden_shape())
                self.assertEqual(list(text.hidden_states[-1].shape), self.text_hidden_shape())
                self.assertEqual(list(vision.hidden_states[0].shape), self.vision_hidden_shape())
                self.assertEqual(list(vision.hidden_states[-1].shape), self.vision_hidden_shape())
                torch.testing.assert_close(text.hidden_states[-1], text.hidden_states[-1])  # finite, comparable
                self.assertIsNone(text.attentions)
            text, vision = self._tower_outputs(model_class, config, inputs, output_hidden_states=False)
            self.assertIsNone(text.hidden_states)
            self.assertIsNone(vision.hidden_states)

    def test_attention_outputs(self):
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        tester = self.model_tester
        eager = _with(config)
        eager._attn_implementation = "eager"
        for model_class in self.all_model_classes:
            for flags, cfg in (({"output_attentions": True}, eager), ({}, _with(eager, output_attentions=True))):
                text, vision = self._tower_outputs(model_class, cfg, inputs, **flags)
                self.assertEqual(len(text.attentions), tester.num_hidden_layers)
                self.assertEqual(len(vision.attentions), tester.num_hidden_layers)
                self.assertEqual(
                    list(text.attentions[0].shape[-3:]),
                    [tester.num_attention_heads, tester.seq_length, tester.seq_length],
                )
                for layer, weights in enumerate(vision.attentions):
                    self.assertEqual(list(weights.shape[-3:]), self.vision_attention_shape(layer), f"layer {layer}")
                    # rows are probability distributions over the keys
                    torch.testing.assert_close(weights.sum(-1), torch.ones_like(weights[..., 0]))
                self.assertIsNone(vision.hidden_states)

    def test_retain_grad_hidden_states_attentions(self):
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        config = _with(config, output_hidden_states=True, output_attentions=True)
        config._attn_implementation = "eager"
        for model_class in self.all_model_classes:
            model = model_class(config).train()
            outputs = model(**self._prepare_for_class(inputs, model_class, return_labels=True))
            # the last layer's: with the backbone frozen, the first layer's tensors depend on nothing trainable
            text_hidden = outputs.text_model_output.hidden_states[-1]
            vision_attention = outputs.vision_model_output.attentions[-1]
            text_hidden.retain_grad()
            vision_attention.retain_grad()
            outputs.loss.backward()
            self.assertIsNotNone(text_hidden.grad)
            self.assertIsNotNone(vision_attention.grad)

    def test_forward_rejects_unknown_keyword_arguments(self):
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_model_classes:
            model = model_class(config).eval()
            with self.assertRaises(TypeError):
                model(**inputs, foo_bar=123)

    def test_text_tower_keeps_its_own_attention_implementation(self):
        config, _ = self.model_tester.prepare_config_and_inputs_for_common()
        config._attn_implementation = None
        config.text_config._attn_implementation = "eager"
        for model_class in self.all_model_classes:
            model = model_class(copy.deepcopy(config))
            self.assertEqual(model.config.text_config._attn_implementation, "eager")
            self.assertEqual(model.config.vision_config._attn_implementation, "sdpa")
            for name, module in model.named_modules():
                if name.endswith("self_attn"):
                    expected = "eager" if "text_model" in name else "sdpa"
                    self.assertEqual(module.config._attn_implementation, expected, name)


def _with(config, **fields):
    """A deep copy of a composite config with `fields` set on it and on its sub-configs."""
    config = copy.deepcopy(config)
    for key, value in fields.items():
        setattr(config, key, value)
        for sub in config.sub_configs:
            setattr(getattr(config, sub), key, value)
    return config
