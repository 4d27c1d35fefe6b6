import pytest
import torch
from torch import nn
from transformers import AutoModelForSequenceClassification, RobertaConfig, RobertaForSequenceClassification
from transformers.masking_utils import create_bidirectional_mask

from pruning import UnsupportedModelError, encoder_layers, num_layers, provenance, prune_layers, select_layers


def manual_forward(model, kept, batch):
    """Embeddings -> only the kept original layers -> pooler -> classifier, written out by hand."""
    bert = model.bert
    hidden = bert.embeddings(input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"])
    mask = create_bidirectional_mask(config=bert.config, inputs_embeds=hidden, attention_mask=batch["attention_mask"])
    for i in kept:
        hidden = bert.encoder.layer[i](hidden, attention_mask=mask)
        hidden = hidden[0] if isinstance(hidden, tuple) else hidden
    return model.classifier(bert.pooler(hidden))


@pytest.mark.parametrize("strategy,keep", [("top", 2), ("bottom", 2), ("middle", 3), ("alternate-odd", 2)])
def test_prune_layers_logits_equal_manual_forward_through_kept_layers(tiny_bert, tokenizer, headlines, strategy, keep):
    batch = tokenizer(headlines[:4], padding=True, return_tensors="pt")
    kept = select_layers(strategy, 4, keep).kept
    with torch.inference_mode():
        expected = manual_forward(tiny_bert, kept, batch)
    prune_layers(tiny_bert, kept, strategy=strategy, base_model="tiny")
    with torch.inference_mode():
        got = tiny_bert(**batch).logits
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert num_layers(tiny_bert) == keep and tiny_bert.config.num_hidden_layers == keep


def test_prune_layers_removes_parameters_and_renumbers(tiny_bert):
    before = sum(p.numel() for p in tiny_bert.parameters())
    per_layer = sum(p.numel() for p in encoder_layers(tiny_bert)[0].parameters())
    prune_layers(tiny_bert, [1, 3])
    assert sum(p.numel() for p in tiny_bert.parameters()) == before - 2 * per_layer
    assert [layer.attention.self.layer_idx for layer in encoder_layers(tiny_bert)] == [0, 1]


def test_prune_layers_records_provenance_and_keeps_labels(tiny_bert):
    labels = dict(tiny_bert.config.id2label)
    prune_layers(tiny_bert, [0, 3], strategy="middle", base_model="l3cube-pune/marathi-bert-v2")
    assert provenance(tiny_bert) == {
        "base_model": "l3cube-pune/marathi-bert-v2",
        "strategy": "middle",
        "kept_layers": [0, 3],
        "original_num_layers": 4,
    }
    assert tiny_bert.config.id2label == labels


def test_prune_layers_twice_maps_back_to_original_indices(tiny_bert):
    prune_layers(tiny_bert, [0, 2, 3], strategy="alternate-even")
    prune_layers(tiny_bert, [0, 2], strategy="top")
    assert provenance(tiny_bert)["kept_layers"] == [0, 3]
    assert provenance(tiny_bert)["original_num_layers"] == 4


def test_prune_layers_save_load_round_trip_gives_identical_logits(tiny_bert, tokenizer, headlines, tmp_path):
    prune_layers(tiny_bert, [0, 2], strategy="custom", base_model="tiny")
    batch = tokenizer(headlines, padding=True, return_tensors="pt")
    with torch.inference_mode():
        before = tiny_bert(**batch).logits
    tiny_bert.save_pretrained(tmp_path)
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    with torch.inference_mode():
        after = loaded(**batch).logits
    assert torch.equal(before, after)
    assert loaded.config.num_hidden_layers == 2 and provenance(loaded)["kept_layers"] == [0, 2]


def test_prune_layers_works_on_roberta_layout(tokenizer, headlines):
    config = RobertaConfig(
        vocab_size=len(tokenizer) + 2,
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=130,
        num_labels=12,
    )
    model = RobertaForSequenceClassification(config).eval()
    prune_layers(model, [2])
    assert num_layers(model) == 1 and model.config.num_hidden_layers == 1


@pytest.mark.parametrize("kept,match", [([], "zero layers"), ([0, 0], "distinct"), ([4], "distinct")])
def test_prune_layers_rejects_bad_indices(tiny_bert, kept, match):
    with pytest.raises(ValueError, match=match):
        prune_layers(tiny_bert, kept)
    assert num_layers(tiny_bert) == 4  # nothing was cut


def test_prune_layers_unrecognised_model_names_what_it_found():
    class NotATransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(4, 4)

    with pytest.raises(UnsupportedModelError, match=r"found children lstm: LSTM"):
        prune_layers(NotATransformer(), [0])
