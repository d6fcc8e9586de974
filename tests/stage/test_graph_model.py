"""STAGE graph and model against hand-computed values and a slow per-pair reference."""

import math

import numpy as np
import pytest
import torch

from stage.data import BatchCollator
from stage.graph import keyframe_links
from stage.model import GAT, Stage, parameter_count, stage_loss

torch.set_num_threads(1)


def _box(cx, cy, s=0.1):
    return [cx - s, cy - s, cx + s, cy + s]


# 3 keyframes: kf0 = actor a0 + object o0, kf1 = actors a1, a2 (no object), kf2 = actor a3 + object o1.
CENTRES_A = [(0.5, 0.5), (0.8, 0.9), (0.5, 0.5), (0.2, 0.1)]
CENTRES_O = [(0.5, 0.9), (0.8, 0.5)]
E = math.exp
# Hand-computed: distances 0.5 (a0-a1), 0 (a0-a2), 1.0 (a1-a3), 0.4/0.3 (to objects), sqrt(.52) (a3-o1).
# Node order a0 a1 a2 a3 o0 o1; keyframe 0 and 2 are not neighbours.
HAND = np.array([
    [1, E(-.5), 1, 0, E(-.4), 0],
    [E(-.5), 1, E(-.5), E(-1), E(-.3), E(-.4)],
    [1, E(-.5), 1, E(-.5), E(-.4), E(-.3)],
    [0, E(-1), E(-.5), 1, 0, E(-math.sqrt(.52))],
    [E(-.4), E(-.3), E(-.4), 0, 1, 0],
    [0, E(-.4), E(-.3), E(-math.sqrt(.52)), 0, 1],
])


def _items(c_dim=8, o_dim=6, clips=("A", "A", "A")):
    per = [([0], [0]), ([1, 2], []), ([3], [1])]
    items = []
    for k, (ai, oi) in enumerate(per):
        items.append({
            "clip": clips[k], "timestamp": f"{902 + k:04d}",
            "actors_features": np.ones((len(ai), c_dim, 2, 3, 3), np.float32) * (k + 1),
            "actors_boxes": np.array([_box(*CENTRES_A[i]) for i in ai], np.float32).reshape(-1, 4),
            "labels": np.zeros((len(ai), 81), np.float32),
            "objects_features": np.ones((len(oi), o_dim), np.float32),
            "objects_boxes": np.array([_box(*CENTRES_O[i]) for i in oi], np.float32).reshape(-1, 4),
        })
    return items


def test_adjacency_hand_case_with_temporal_blocks():
    b = BatchCollator()(_items())
    np.testing.assert_allclose(b["adj"].numpy(), HAND, atol=1e-6)
    assert b["actors_features"].shape == (4, 8) and b["objects_features"].shape == (2, 6)
    assert b["keys"] == [("A", "0902"), ("A", "0903"), ("A", "0903"), ("A", "0904")]


def test_adjacency_without_temporal_edges_keeps_only_same_keyframe():
    adj = BatchCollator(temporal="none")(_items())["adj"].numpy()
    same = np.array([0, 1, 1, 2, 0, 2])
    mask = same[:, None] == same[None, :]
    np.testing.assert_allclose(adj, np.where(mask, HAND, 0), atol=1e-6)


def test_adjacency_video_mode_cuts_across_clips():
    adj = BatchCollator(temporal="video")(_items(clips=("A", "A", "B")))["adj"].numpy()
    frame = np.array([0, 1, 1, 2, 0, 2])
    cut = ((frame[:, None] == 2) & (frame[None, :] == 1)) | ((frame[:, None] == 1) & (frame[None, :] == 2))
    np.testing.assert_allclose(adj, np.where(cut, 0, HAND), atol=1e-6)


def test_no_objects_drops_object_nodes():
    b = BatchCollator(use_objects=False)(_items())
    np.testing.assert_allclose(b["adj"].numpy(), HAND[:4, :4], atol=1e-6)
    assert b["objects_features"].shape == (0, 6)


def test_links_of_one_keyframe_and_bad_mode():
    assert keyframe_links(1).tolist() == [[True]]
    with pytest.raises(ValueError):
        keyframe_links(2, "sideways")


def _reference_attention(x, adj, W, a, alpha=0.2):
    """Per pair, as the paper writes it: e_jk = LeakyReLU(a^T [h_j || h_k]) * A_jk, masked, softmax."""
    h = x @ W
    n = len(x)
    out = np.zeros((n, n))
    for j in range(n):
        logits = []
        for k in range(n):
            e = float(np.concatenate([h[j], h[k]]) @ a[:, 0])
            e = e if e > 0 else alpha * e
            logits.append(e * adj[j, k] if adj[j, k] > 0 else -9e15)
        logits = np.array(logits)
        w = np.exp(logits - logits.max())
        out[j] = w / w.sum()
    return out


def test_attention_matches_reference_and_masked_entries_get_zero():
    torch.manual_seed(0)
    gat = GAT(5, 3, nheads=2).double()
    x = torch.randn(6, 5, dtype=torch.float64)
    adj = torch.tensor(HAND)
    att = gat.attention(x, adj).detach().numpy()
    for k, head in enumerate(gat.heads()):
        ref = _reference_attention(x.numpy(), HAND, head.W.detach().numpy(), head.a.detach().numpy())
        np.testing.assert_allclose(att[k], ref, rtol=1e-10, atol=1e-12)
    assert np.all(att[:, HAND == 0] == 0.0)
    np.testing.assert_allclose(att.sum(-1), 1.0)


def test_gat_forward_eval_equals_elu_of_weighted_sum():
    torch.manual_seed(1)
    gat = GAT(4, 2, nheads=2).double().eval()
    x = torch.randn(6, 4, dtype=torch.float64)
    out = gat(x, torch.tensor(HAND)).detach().numpy()
    heads = []
    for head in gat.heads():
        W = head.W.detach().numpy()
        att = _reference_attention(x.numpy(), HAND, W, head.a.detach().numpy())
        hp = att @ (x.numpy() @ W)
        heads.append(np.where(hp > 0, hp, np.expm1(hp)))
    np.testing.assert_allclose(out, np.concatenate(heads, 1), rtol=1e-10)


def test_parameter_count_formula_of_the_spec():
    # 2*(4*(1028*257+514)) + 2*(1028^2+1028) + 2*2*1028 + 1028*81+81 + 2048*1024+1024, by hand
    assert parameter_count() == 2117680 + 2115624 + 4112 + 83349 + 2098176 == 6418941
    model = Stage()
    assert sum(p.numel() for p in model.parameters()) == 6418941
    two = Stage(n_heads=2)
    assert sum(p.numel() for p in two.parameters()) == parameter_count(n_heads=2)
    slowfast = Stage(num_classes=80, actors_features_size=2304, objects_features_size=2048)
    assert hasattr(slowfast, "obj_reducer")  # the original skipped the reducer when objects are smaller
    assert sum(p.numel() for p in slowfast.parameters()) == parameter_count(80, 2304, 2048)


def test_heads_that_do_not_add_up_are_refused():
    with pytest.raises(ValueError, match="n_heads"):
        Stage(n_heads=3)


def test_shapes_and_state_dict_names():
    torch.manual_seed(0)
    model = Stage(81, 16, 24, 4)
    b = BatchCollator()(_items(c_dim=16, o_dim=24))
    logits = model(b["actors_features"], b["actors_boxes"], b["objects_features"], b["objects_boxes"], b["adj"])
    assert logits.shape == (4, 81)
    loss = stage_loss(logits, b["labels"])
    loss.backward()
    assert loss.ndim == 0 and torch.isfinite(loss)
    names = set(model.state_dict())
    assert {"obj_reducer.weight", "gat1.attention_0.W", "gat1.attention_3.a", "gat_fc.weight", "l_norm.weight",
            "gat2.attention_0.W", "gat_fc2.bias", "l_norm2.bias", "logits.weight"} <= names
    # 5-d maps and their (t, h, w) means give the same logits
    model.eval()
    feats5 = torch.randn(4, 16, 2, 3, 3)
    args = (b["actors_boxes"], b["objects_features"], b["objects_boxes"], b["adj"])
    np.testing.assert_allclose(model(feats5, *args).detach(), model(feats5.mean((2, 3, 4)), *args).detach(), atol=1e-6)


def test_batch_of_one_keyframe_and_empty_keyframe():
    model = Stage(81, 8, 6, 4)
    items = _items()
    b = BatchCollator()(items[:1])
    assert b["adj"].shape == (2, 2)
    assert model(b["actors_features"], b["actors_boxes"], b["objects_features"], b["objects_boxes"],
                 b["adj"]).shape == (1, 81)
    empty = dict(items[1], actors_features=np.zeros((0, 8, 2, 3, 3), np.float32),
                 actors_boxes=np.zeros((0, 4), np.float32), labels=np.zeros((0, 81), np.float32))
    b = BatchCollator()([empty])
    logits = model(b["actors_features"], b["actors_boxes"], b["objects_features"], b["objects_boxes"], b["adj"])
    assert logits.shape == (0, 81)
    assert stage_loss(logits, b["labels"]).item() == 0.0


def test_loss_is_mean_bce_over_all_entries():
    logits = torch.tensor([[0.0, 2.0], [-1.0, 0.5]])
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # hand: -log(sigmoid(0)), -log(1-sigmoid(2)), -log(1-sigmoid(-1)), -log(sigmoid(.5))
    terms = [math.log(2), math.log(1 + math.e ** 2), math.log(1 + math.e ** -1), math.log(1 + math.e ** -0.5)]
    assert stage_loss(logits, labels).item() == pytest.approx(sum(terms) / 4, rel=1e-6)
