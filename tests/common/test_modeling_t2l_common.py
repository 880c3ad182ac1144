"""transformers' common model and config tests (ModelTesterMixin, ConfigTester) on T2LModel and
T2LForVideoClassification, in the style of transformers' tests/models/x_clip/test_modeling_x_clip.py.

They come from the sdist of the installed transformers (tests/common/transformers_suite.py); without it this
module is skipped with the reason. Each skipped common test says why below.
"""
import unittest

from modeling_t2l import T2LConfig, T2LForVideoClassification, T2LModel
from tests.common.transformers_suite import common_module
from tests.common.zero_shot_video_tester import ZeroShotVideoModelTester, ZeroShotVideoModelTestMixin

modeling_common = common_module("test_modeling_common")
configuration_common = common_module("test_configuration_common")


class T2LModelTester(ZeroShotVideoModelTester):
    def get_config(self) -> T2LConfig:
        return T2LConfig(
            text_config=self.get_text_config().to_dict(),
            vision_config=self.get_vision_config().to_dict(),
            projection_dim=self.projection_dim,
            num_frames=self.num_frames,
        )


class _Common:
    ConfigTester = configuration_common.ConfigTester


class T2LModelTest(ZeroShotVideoModelTestMixin, modeling_common.ModelTesterMixin, unittest.TestCase):
    all_model_classes = (T2LModel, T2LForVideoClassification)
    model_tester_class = T2LModelTester
    config_class = T2LConfig
    common_tests = _Common

    @unittest.skip(reason="T2L has no input/output token embeddings to get or set (CLIP's towers are frozen)")
    def test_model_get_set_embeddings(self):
        pass

    @unittest.skip(reason="T2L does not take inputs_embeds: the text tower pools at the end-of-text token id")
    def test_inputs_embeds(self):
        pass

    @unittest.skip(reason="T2L does not take inputs_embeds: the text tower pools at the end-of-text token id")
    def test_inputs_embeds_matches_input_ids(self):
        pass

    @unittest.skip(reason="T2L does not support feedforward chunking")
    def test_feed_forward_chunking(self):
        pass
