"""`get_video_embeddings`: the contract's video embeddings alone, which T2L computes with its last block for the
CLS tokens only in inference: the same embeddings as `get_video_features`, for fewer FLOPs."""
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from modeling_t2l import T2LForVideoClassification, T2LModel
from modeling_t2l.modeling_utils import video_embeddings

from .tiny import tiny_t2l_config


def _pixels(num_frames=4, batch=3):
    return torch.randn(batch, num_frames, 3, 32, 32, generator=torch.Generator().manual_seed(2))


def _flops(function) -> int:
    with FlopCounterMode(display=False) as counter:
        function()
    return counter.get_total_flops()


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
@pytest.mark.parametrize("tokens", ["all layers", "first layer", "none"])
def test_same_embeddings_as_get_video_features_for_fewer_flops(attention, tokens):
    overrides = {"all layers": {}, "first layer": dict(temporal_tokens_in_all_layers=False),
                 "none": dict(use_temporal_tokens=False)}[tokens]
    torch.manual_seed(0)
    config = tiny_t2l_config(**overrides)
    config._attn_implementation = attention
    model = T2LModel(config).eval()
    pixels = _pixels()
    with torch.no_grad():
        full = model.get_video_features(pixels).pooler_output
        fast = video_embeddings(model, pixels)
        torch.testing.assert_close(fast, full, rtol=1e-5, atol=1e-6)
        assert _flops(lambda: video_embeddings(model, pixels)) < 0.97 * _flops(lambda: model.get_video_features(pixels))


def test_the_head_and_the_base_model_give_the_same_embeddings():
    torch.manual_seed(0)
    head = T2LForVideoClassification(tiny_t2l_config()).eval()
    pixels = _pixels()
    with torch.no_grad():
        torch.testing.assert_close(head.get_video_embeddings(pixels), head.t2l.get_video_features(pixels).pooler_output,
                                   rtol=1e-5, atol=1e-6)


def test_training_mode_computes_the_whole_output():
    """In training every random draw (drop path, dropouts) stays where it is: the embeddings are
    `get_video_features`'s, from the same random stream."""
    torch.manual_seed(0)
    model = T2LModel(tiny_t2l_config(drop_path_rate=0.3)).train()
    pixels = _pixels()
    torch.manual_seed(7)
    embeddings = model.get_video_embeddings(pixels)
    torch.manual_seed(7)
    torch.testing.assert_close(embeddings, model.get_video_features(pixels).pooler_output, rtol=0, atol=0)
    assert embeddings.requires_grad


def test_the_cls_only_path_is_refused_where_it_would_be_wrong():
    torch.manual_seed(0)
    model = T2LModel(tiny_t2l_config())
    with pytest.raises(ValueError, match="pooled_only is an inference path"):
        model.train().vision_model(_pixels(), pooled_only=True)
    with pytest.raises(ValueError, match="pooled_only is an inference path"):
        model.eval().vision_model(_pixels(), output_hidden_states=True, pooled_only=True)
