"""transformers' common processor tests (ProcessorTesterMixin) on the processor TC-CLIP and ViFi-CLIP checkpoints
are saved with: the same `T2LProcessor` as T2L's (tests/common/test_processing_t2l_common.py, whose skips and
clip inputs apply unchanged), with each family's own image-processor defaults: ImageNet mean/std, bilinear resizing,
16 (TC-CLIP, mmaction2's TSN sampling and 5 fixed crops) or 32 (ViFi-CLIP) frames per clip, at a tiny crop size.
"""
import numpy as np

from modeling_t2l.models.tc_clip.processing_defaults import image_processor_kwargs as tc_clip_image_processor_kwargs
from modeling_t2l.models.vifi_clip.processing_vifi_clip import vifi_clip_image_processor_kwargs
from modeling_t2l.processing.image_processing_t2l import T2LImageProcessor
from tests.common import test_processing_t2l_common as t2l_processing  # the module: its test class is not re-collected

CROP_SIZE = 16


class _FamilyProcessorTest(t2l_processing.T2LProcessorTest):
    image_processor_kwargs: dict = {}

    @classmethod
    def _setup_image_processor(cls):
        return T2LImageProcessor(**cls.image_processor_kwargs)

    def prepare_images_inputs(self, batch_size=None, nested=False):
        rng = np.random.default_rng(0)
        num_frames = self.image_processor_kwargs["num_frames"]
        clip = lambda: rng.integers(0, 256, (num_frames, 30, 40, 3), dtype=np.uint8)  # noqa: E731
        if batch_size is None:
            return clip()
        return [clip() for _ in range(batch_size)]


class TCCLIPProcessorTest(_FamilyProcessorTest):
    image_processor_kwargs = tc_clip_image_processor_kwargs(crop_size=CROP_SIZE)  # 16 frames


class ViFiCLIPProcessorTest(_FamilyProcessorTest):
    image_processor_kwargs = vifi_clip_image_processor_kwargs(crop_size=CROP_SIZE)  # 32 frames


del _FamilyProcessorTest  # a base only: not collected on its own
