"""transformers' common model and config tests (ModelTesterMixin, ConfigTester) on TCCLIPModel and
TCCLIPForVideoClassification, in the style of transformers' tests/models/x_clip/test_modeling_x_clip.py.

They come from the sdist of the installed transformers (tests/common/transformers_suite.py); without it this
module is skipped with the reason. Each skipped common test says why below.

Where TC-CLIP's towers differ in shape from T2L's (the hooks of ZeroShotVideoModelTestMixin):

* the text is conditioned on the video, so every text hidden state is (B, K, L, D), one copy per video;
* the vision tower runs the frames of a video together, its hidden states (B, T*N, D) frame-major;
* each frame's attention has the video's context tokens as extra keys from the second layer on: (N, N + K')
  per frame, K' = min(context_tokens, T * seeds_per_frame);
* `get_text_features` needs the videos' context tokens (`video_outputs`): the text tests give it a
  `TCCLIPVisionOutput` holding random `context_embeds` of the right shape (the text tower reads nothing else).
"""
import unittest

import torch
from parameterized import parameterized
from transformers.utils import ModelOutput

from modeling_t2l.models.tc_clip import TCCLIPConfig, TCCLIPForVideoClassification, TCCLIPModel, TCCLIPVisionOutput
from tests.common.transformers_suite import common_module
from tests.common.zero_shot_video_tester import ZeroShotVideoModelTester, ZeroShotVideoModelTestMixin

modeling_common = common_module("test_modeling_common")
configuration_common = common_module("test_configuration_common")


class TCCLIPModelTester(ZeroShotVideoModelTester):
    context_tokens = 3  # fewer than the T * s = 2 * 4 seeds: one round of bipartite merging per layer

    def get_config(self) -> TCCLIPConfig:
        return TCCLIPConfig(
            text_config=self.get_text_config().to_dict(),
            vision_config=self.get_vision_config().to_dict(),
            projection_dim=self.projection_dim,
            num_frames=self.num_frames,
            context_tokens=self.context_tokens,
            merge_r=2,
            vp_init="random",
        )


class _Common:
    ConfigTester = configuration_common.ConfigTester


class TCCLIPModelTest(ZeroShotVideoModelTestMixin, modeling_common.ModelTesterMixin, unittest.TestCase):
    all_model_classes = (TCCLIPModel, TCCLIPForVideoClassification)
    model_tester_class = TCCLIPModelTester
    config_class = TCCLIPConfig
    common_tests = _Common

    def _num_context_tokens(self, layer: int) -> int:
        """K': the context tokens the vision layer `layer` attends to (built by the previous layer)."""
        config = self.model_tester.get_config()
        return 0 if layer == 0 else min(config.context_tokens, self.model_tester.num_frames * config.seeds_per_frame)

    def _text_features_prepare_config_and_inputs(self):
        config, inputs = super()._text_features_prepare_config_and_inputs()
        context_shape = (self.model_tester.batch_size, len(config.resolved_vp_levels), self._num_context_tokens(1),
                         config.projection_dim)
        inputs["video_outputs"] = TCCLIPVisionOutput(context_embeds=torch.randn(context_shape))
        return config, inputs

    @parameterized.expand([True, False, None])
    def test_get_text_features_output(self, return_dict):
        """transformers' test with TC-CLIP's text shapes: one conditioned text per video, (B, K, L, D) states and
        (B, K, E) embeddings, where the generic test expects (K, L, D)."""
        for model_class in self.all_model_classes:
            config, inputs = self._text_features_prepare_config_and_inputs()
            if return_dict is not None:
                config.return_dict = return_dict
            model = model_class(config).eval()
            with torch.no_grad():
                outputs = model.get_text_features(**inputs)
            if return_dict is False:
                self.assertIsInstance(outputs, tuple)
                continue
            self.assertIsInstance(outputs, ModelOutput)
            num_texts, seq_length = inputs["input_ids"].shape
            batch_size = inputs["video_outputs"].context_embeds.shape[0]
            self.assertEqual(
                tuple(outputs.last_hidden_state.shape), (batch_size, num_texts, seq_length, config.text_config.hidden_size)
            )
            self.assertEqual(tuple(outputs.pooler_output.shape), (batch_size, num_texts, config.projection_dim))

    def text_hidden_shape(self) -> list[int]:
        tester = self.model_tester
        return [tester.batch_size, tester.batch_size, tester.seq_length, tester.hidden_size]

    def vision_hidden_shape(self) -> list[int]:
        tester = self.model_tester
        return [tester.batch_size, tester.num_frames * tester.vision_seq_length, tester.hidden_size]

    def vision_attention_shape(self, layer: int) -> list[int]:
        tester = self.model_tester
        keys = tester.vision_seq_length + self._num_context_tokens(layer)
        return [tester.num_attention_heads, tester.vision_seq_length, keys]

    @unittest.skip(reason="TC-CLIP does not take inputs_embeds: the text tower pools at the end-of-text token id "
                          "and writes its learned prompt vectors at positions 1..n of the token ids")
    def test_inputs_embeds(self):
        pass

    @unittest.skip(reason="TC-CLIP does not take inputs_embeds: the text tower pools at the end-of-text token id "
                          "and writes its learned prompt vectors at positions 1..n of the token ids")
    def test_inputs_embeds_matches_input_ids(self):
        pass

    @unittest.skip(reason="TC-CLIP does not support feedforward chunking")
    def test_feed_forward_chunking(self):
        pass
