"""transformers' common model and config tests (ModelTesterMixin, ConfigTester) on ViFiCLIPModel and
ViFiCLIPForVideoClassification, in the style of transformers' tests/models/x_clip/test_modeling_x_clip.py.

They come from the sdist of the installed transformers (tests/common/transformers_suite.py); without it this
module is skipped with the reason. Each skipped common test says why below.

ViFi-CLIP's towers are transformers' own CLIP towers (`ViFiCLIPModel` is a `CLIPModel`): the text hidden states are
(K, L, D), the vision ones (B*T, N, D) (CLIP on every frame), and the vision attention has no extra keys.

The baselines (`modeling_t2l/models/baselines.py`) get no tester here. `FrozenCLIPForVideoClassification` is
`CLIPModel` plus a frame mean, which is exactly ViFi-CLIP's forward with nothing trained, and X-CLIP's adapter
delegates every tensor to transformers' `XCLIPModel`: transformers' own suites (tests/models/clip and
tests/models/x_clip) already run ModelTesterMixin on those models, and the adapters add only the family contract
(video-major pixel_values, one text per class), which tests/test_family_baselines.py covers.
"""
import unittest

from modeling_t2l.models.vifi_clip import ViFiCLIPConfig, ViFiCLIPForVideoClassification, ViFiCLIPModel
from tests.common.transformers_suite import common_module
from tests.common.zero_shot_video_tester import ZeroShotVideoModelTester, ZeroShotVideoModelTestMixin

modeling_common = common_module("test_modeling_common")
configuration_common = common_module("test_configuration_common")


class ViFiCLIPModelTester(ZeroShotVideoModelTester):
    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.vision_model_tester = _ImageInputs(self)

    def get_config(self) -> ViFiCLIPConfig:
        return ViFiCLIPConfig(
            text_config=self.get_text_config().to_dict(),
            vision_config=self.get_vision_config().to_dict(),
            projection_dim=self.projection_dim,
            num_frames=self.num_frames,
        )


class _ImageInputs:
    """What transformers' `get_image_features` tests call: `ViFiCLIPModel` is a `CLIPModel`, whose per-image
    features (B, 3, H, W) it averages over the frames; here the frames of the tester's clips as images."""

    def __init__(self, tester: ViFiCLIPModelTester):
        self.tester = tester
        self.num_hidden_layers = tester.num_hidden_layers

    def prepare_config_and_inputs_for_common(self):
        return self.tester.get_config(), {"pixel_values": self.tester.prepare_pixel_values().flatten(0, 1)}


class _Common:
    ConfigTester = configuration_common.ConfigTester


class ViFiCLIPModelTest(ZeroShotVideoModelTestMixin, modeling_common.ModelTesterMixin, unittest.TestCase):
    all_model_classes = (ViFiCLIPModel, ViFiCLIPForVideoClassification)
    model_tester_class = ViFiCLIPModelTester
    config_class = ViFiCLIPConfig
    common_tests = _Common
    extra_vision_tokens = 0  # CLIP's vision attention: CLS + patches, nothing else
    test_resize_embeddings = True  # ViFi-CLIP trains CLIP's token table with the rest

    @unittest.skip(reason="ViFi-CLIP does not take inputs_embeds: the text tower pools at the end-of-text token id")
    def test_inputs_embeds(self):
        pass

    @unittest.skip(reason="ViFi-CLIP does not take inputs_embeds: the text tower pools at the end-of-text token id")
    def test_inputs_embeds_matches_input_ids(self):
        pass
