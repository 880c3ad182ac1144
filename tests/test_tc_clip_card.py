"""The TC-CLIP card template renders for every card entry and states the weights' CC BY-NC 4.0 licence."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from huggingface_hub import ModelCard, ModelCardData

CARDS = Path(__file__).resolve().parent.parent / "modeling_t2l" / "models" / "tc_clip" / "cards"
SPECS = yaml.safe_load((CARDS / "cards.yaml").read_text())


@pytest.mark.parametrize("name", sorted(set(SPECS) - {"family"}))  # `family:` holds the family-wide facts
@pytest.mark.parametrize("wise_ft_alpha", [None, 0.7])
def test_card_renders_with_the_non_commercial_licence(name, wise_ft_alpha):
    spec = SPECS[name]
    assert spec["license"] == "cc-by-nc-4.0"
    card = ModelCard.from_template(
        ModelCardData(license=spec["license"], base_model=spec["base_model"], library_name="transformers"),
        template_str=(CARDS / "model_card.md").read_text(), repo_id="user/tc-clip", title=spec["title"],
        summary=spec["summary"], base_model=spec["base_model"], num_frames=16, eval_protocols=spec["eval_protocols"],
        reported=spec["reported"], reproduced=[], reproduced_summaries=[], notes=spec["notes"],
        source_checkpoint=spec["source_checkpoint"], wise_ft_alpha=wise_ft_alpha,
    )
    assert card.data.license == "cc-by-nc-4.0"
    text = str(card)
    licence = text[text.index("## Licence"):text.index("## Citation")]
    assert "CC BY-NC 4.0" in licence and "non-commercial" in licence and "byminji/TC-CLIP" in licence
    assert ("0.3 x CLIP + 0.7 x TC-CLIP" in licence) == (wise_ft_alpha is not None)
    for row in spec["reported"]:
        assert f"| {row['value']} |" in text
    assert "{{" not in text and "{%" not in text
