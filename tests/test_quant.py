"""Quantization math, QAT pieces, WOT, RandBET and pruning, on real tensors."""

import numpy as np
import pytest
import torch

from accelsim.ecc import get_layout
from accelsim.errors import UserError
from accelsim.nn import build_model
from accelsim.quant import QuantSpec, dequantize, quantize_asymmetric, quantize_symmetric
from accelsim.quant import prune, qat


def test_symmetric_formula_exact():
    x = np.array([1.0, -0.5, 0.25, 0.1, -1.0])
    q, s = quantize_symmetric(x, 8)
    assert s == pytest.approx(1 / 127)
    assert q.tolist() == [127, -64, 32, 13, -127] and q.dtype == np.int8
    q4, s4 = quantize_symmetric(x, 4)
    assert s4 == pytest.approx(1 / 7) and q4.tolist() == [7, -4, 2, 1, -7]
    # round-trip error at most half a step
    assert np.max(np.abs(dequantize(q, s) - x)) <= s / 2 + 1e-12


def test_per_channel_and_binary():
    w = torch.tensor([[0.5, -0.2], [2.0, 0.9]])
    q, s = quantize_symmetric(w, 4, per_channel=True)
    assert s.flatten().tolist() == pytest.approx([0.5 / 7, 2.0 / 7])
    assert q.tolist() == [[7, -3], [7, 3]]
    qb, sb = quantize_symmetric(w, 1)
    assert qb.tolist() == [[1, -1], [1, 1]] and float(sb) == pytest.approx(0.9)


def test_asymmetric_zero_exact():
    x = np.array([-0.5, 0.0, 1.0])
    q, s, z = quantize_asymmetric(x, 8)
    assert q.tolist() == [0, 85, 255] and int(z) == 85
    assert dequantize(q, s, z)[1] == 0.0


def test_bits_and_spec_validation():
    with pytest.raises(UserError, match="1 to 8 bits"):
        quantize_symmetric(np.ones(3), 9)
    with pytest.raises(UserError, match="NaN"):
        quantize_symmetric(np.array([np.nan]), 8)
    assert str(QuantSpec.parse("int4-pc")) == "int4-pc" and QuantSpec.parse("fp32").is_float
    with pytest.raises(UserError, match="number format"):
        QuantSpec.parse("int4x")


def test_ste_gradient_is_identity():
    w = torch.tensor([0.3, -0.7], requires_grad=True)
    y = qat.ste(w, torch.round(w * 3) / 3)
    y.sum().backward()
    assert w.grad.tolist() == [1.0, 1.0]
    assert y.tolist() == pytest.approx([1 / 3, -2 / 3])


def test_throttle_bounds_follow_layout_slots():
    layout = get_layout("inplace-8b-64")
    lo, hi = qat.throttle_bounds(torch.Size([2, 8]), 8, layout)
    assert lo[0].tolist() == [-64] * 7 + [-127] and hi[1].tolist() == [63] * 7 + [127]


def test_wot_projection_makes_every_layer_packable():
    model = build_model("lenet5", seed=3)
    layout = get_layout("inplace-4b-64")
    before = qat.count_out_of_layout(model, 4, layout)
    assert before > 0
    info = qat.project_weights(model, 4, layout)
    assert info["moved"] == before and info["weights"] == 19614
    for _, m in qat.weight_layers(model):
        q = torch.round(m.weight / m.weight_scale.reshape(-1, *([1] * (m.weight.dim() - 1))))
        layout.pack(q.reshape(-1).to(torch.int64).numpy())   # raises if any weight is out of range
    assert qat.count_out_of_layout(model, 4, layout) == 0


def test_randbet_flip_rate():
    q = torch.zeros(200_000)
    g = torch.Generator().manual_seed(1)
    flipped = qat.flip_bits_int(q, 4, 0.01, g)
    bits = (flipped.to(torch.int64) & 0xF)
    ones = sum(int(((bits >> b) & 1).sum()) for b in range(4))
    assert abs(ones - 8000) < 5 * np.sqrt(8000)
    assert flipped.min() >= -8 and flipped.max() <= 7


def test_pruning_sparsity_exact():
    model = build_model("lenet5", seed=0)
    masks = prune.magnitude_masks(model, 0.5)
    prune.apply_masks(model, masks)
    for _, m in qat.weight_layers(model):
        assert int((m.weight == 0).sum()) == m.weight.numel() // 2
    model = build_model("lenet5", seed=0)
    masks = prune.magnitude_masks(model, 0.5, structured=True)
    prune.apply_masks(model, masks)
    conv = model.features[0].weight
    assert int((conv.abs().sum(dim=(1, 2, 3)) == 0).sum()) == 3
    with pytest.raises(UserError, match="prune fraction"):
        prune.magnitude_masks(model, 1.0)
