import pytest

from pruning import STRATEGIES, select_layers

# Poor Man's BERT (Sajjad et al.), L=12, 1-based layer sets converted to 0-based.
PMB_DROPPED = [
    ("top", 10, {10, 11}),
    ("top", 6, {6, 7, 8, 9, 10, 11}),
    ("bottom", 10, {0, 1}),
    ("bottom", 6, {0, 1, 2, 3, 4, 5}),
    ("middle", 10, {5, 6}),  # PMB symmetric K=2: {6,7}
    ("middle", 6, {3, 4, 5, 6, 7, 8}),  # PMB symmetric K=6: {4..9}
    ("alternate-even", 8, {5, 7, 9, 11}),  # PMB even K=4: {6,8,10,12}
    ("alternate-odd", 8, {4, 6, 8, 10}),  # PMB odd K=4: {5,7,9,11}
]


@pytest.mark.parametrize("strategy,keep,dropped", PMB_DROPPED)
def test_select_layers_matches_poor_mans_bert(strategy, keep, dropped):
    plan = select_layers(strategy, 12, keep)
    assert set(plan.dropped) == dropped
    assert sorted(plan.kept + plan.dropped) == list(range(12))


def test_select_layers_middle_keeps_extra_layer_at_bottom():
    assert select_layers("middle", 12, 6).kept == [0, 1, 2, 9, 10, 11]
    assert select_layers("middle", 12, 5).kept == [0, 1, 2, 10, 11]
    assert select_layers("middle", 12, 1).kept == [0]


def test_select_layers_alternate_drops_rest_from_top_when_parity_runs_out():
    # 6 even (1-based) layers exist; dropping 8 drops them all plus the top two remaining.
    assert select_layers("alternate-even", 12, 4).kept == [0, 2, 4, 6]
    assert select_layers("alternate-odd", 12, 4).kept == [1, 3, 5, 7]
    assert select_layers("alternate-odd", 12, 6).kept == [1, 3, 5, 7, 9, 11]


@pytest.mark.parametrize("strategy", [s for s in STRATEGIES if s != "custom"])
@pytest.mark.parametrize("depth", [1, 2, 6, 7, 12])
def test_select_layers_every_k_gives_k_sorted_distinct_layers(strategy, depth):
    scores = [0.5 + 0.01 * ((i * 7) % depth) for i in range(depth)]
    for keep in range(1, depth + 1):
        plan = select_layers(strategy, depth, keep, scores=scores)
        assert len(plan.kept) == keep and plan.kept == sorted(set(plan.kept))
        assert all(0 <= i < depth for i in plan.kept)
        assert set(plan.kept).isdisjoint(plan.dropped) and len(plan.dropped) == depth - keep


def test_select_layers_contribution_drops_most_similar_layers():
    scores = [0.1, 0.2, 0.99, 0.3, 0.98, 0.4, 0.5, 0.97, 0.96, 0.6, 0.7, 0.8]
    # PMB found {3,5} then {3,5,8,9} (1-based) least important for BERT: same shape here.
    assert set(select_layers("contribution", 12, 10, scores=scores).dropped) == {2, 4}
    assert set(select_layers("contribution", 12, 8, scores=scores).dropped) == {2, 4, 7, 8}


def test_select_layers_custom_sorts_and_validates():
    assert select_layers("custom", 12, layers=[11, 0, 5]).kept == [0, 5, 11]
    with pytest.raises(ValueError, match="more than once"):
        select_layers("custom", 12, layers=[1, 1])
    with pytest.raises(ValueError, match="out of range"):
        select_layers("custom", 12, layers=[0, 12])
    with pytest.raises(ValueError, match="at least one"):
        select_layers("custom", 12, layers=[])


@pytest.mark.parametrize("keep", [0, 13, -1, None])
def test_select_layers_rejects_keep_out_of_range(keep):
    with pytest.raises(ValueError, match="keep"):
        select_layers("top", 12, keep)


def test_select_layers_unknown_strategy_lists_valid_names():
    with pytest.raises(ValueError, match="valid strategies: top, bottom, middle"):
        select_layers("random", 12, 6)


def test_select_layers_contribution_needs_one_score_per_layer():
    with pytest.raises(ValueError, match="needs one importance score"):
        select_layers("contribution", 12, 6)
    with pytest.raises(ValueError, match="3 scores"):
        select_layers("contribution", 12, 6, scores=[0.1, 0.2, 0.3])
