"""The fast integer engine gives exactly the integers of the float64 path: layer by layer
at worst-case magnitudes (hypothesis), and as bit-identical logits of whole networks,
fault-free and with faulty weights; incremental recompute equals a full recompute."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from accelsim.campaign.params import TrialParams
from accelsim.campaign.trial import decode_and_compare, faulty_words, word_ranges
from accelsim.image import export_image
from accelsim.image.from_checkpoint import export_checkpoint
from accelsim.infer import IntegerNetwork, decode_weights
from accelsim.infer.fast import EXACT_FLOAT32, FastIntegerNetwork, IncrementalRun, accumulate, plan_layer
from accelsim.infer import kernels
from accelsim.infer.requant import INT32_MAX, INT32_MIN, fixed_multiplier, requantize
from accelsim.nn import build_model, load_digits_split

X = load_digits_split().x_test.numpy()


@st.composite
def conv_layers(draw):
    """A random conv layer (geometry, worst-case weights and inputs) and a chunk limit."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c_in = groups * draw(st.integers(1, 24))
    c_out = groups * draw(st.integers(1, 4))
    k = draw(st.integers(1, 5))
    stride, padding, dilation = draw(st.integers(1, 3)), draw(st.integers(0, 2)), draw(st.integers(1, 2))
    size = draw(st.integers((k - 1) * dilation + 1, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    extreme = draw(st.booleans())
    # worst case: every weight at -128 or +127 and every activation at its maximum
    w = rng.choice([-128, 127], size=(c_out, c_in // groups, k, k)) if extreme else \
        rng.integers(-128, 128, size=(c_out, c_in // groups, k, k))
    signed = draw(st.booleans())
    hi = 127 if signed else 255
    x = np.full((2, c_in, size, size), hi) if extreme else rng.integers(-hi if signed else 0, hi + 1, (2, c_in, size, size))
    bias = rng.integers(INT32_MIN, INT32_MAX, c_out, endpoint=True) if draw(st.booleans()) else \
        rng.integers(-(1 << 20), 1 << 20, c_out)
    limit = draw(st.sampled_from([EXACT_FLOAT32, EXACT_FLOAT32, 1 << 16, 1 << 12]))
    return dict(w=w, x=x, bias=bias, stride=stride, padding=padding, dilation=dilation, groups=groups,
                limit=limit, signed=signed)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_layers(), st.floats(1e-5, 0.5))
def test_a_conv_layer_gives_the_exact_integers_of_the_float64_path(layer, m):
    w, x, bias = layer["w"], layer["x"], layer["bias"]
    plan = plan_layer(w, bias, groups=layer["groups"], limit=layer["limit"])

    def conv(inp, weight, b):
        return F.conv2d(inp, weight, b, stride=layer["stride"], padding=layer["padding"],
                        dilation=layer["dilation"], groups=layer["groups"])

    parts, rest = accumulate(torch.from_numpy(x.astype(np.float32)), plan, conv)
    got = sum(p.to(torch.float64).numpy() for p in parts) + rest.reshape(1, -1, 1, 1)
    # the float64 path: products and sums below 2^53 are exact in any order
    exact = conv(torch.from_numpy(x.astype(np.float64)), torch.from_numpy(w.astype(np.float64)), None).numpy()
    exact = exact.astype(np.int64) + bias.reshape(1, -1, 1, 1)
    assert np.array_equal(got.astype(np.int64), exact)
    # and every float32 chunk stayed where float32 integers are exact
    assert all(p.dtype == torch.float64 or float(p.abs().max()) <= layer["limit"] for p in parts)
    # requantization of the chunk sums: the integer reference, element for element
    m0, shift = fixed_multiplier(np.full(w.shape[0], m))
    lo, hi = (-127, 127) if layer["signed"] else (0, 255)
    out = np.empty(exact.shape, dtype=np.float32)
    n, c = exact.shape[:2]
    kernels.requantize_parts(tuple(p.reshape(n, c, -1).contiguous().numpy() for p in parts), rest, m0, shift,
                             lo, hi, out.reshape(n, c, -1))
    ref = requantize(exact, m0.reshape(1, -1, 1, 1), shift.reshape(1, -1, 1, 1), lo, hi)
    assert np.array_equal(out.astype(np.int64), ref)


def test_chunking_follows_the_bound():
    w = np.full((3, 100, 3, 3), -128)
    plan = plan_layer(w, np.zeros(3, np.int64))
    chunks, bound = plan.static
    per_channel = 9 * 128 * 255
    assert bound <= EXACT_FLOAT32 and len(chunks) == -(-100 // (EXACT_FLOAT32 // per_channel))
    assert chunks[0] == (0, EXACT_FLOAT32 // per_channel)
    # a single channel over the bound: the layer runs in float64
    assert plan_layer(np.full((1, 1, 23, 23), 127), np.zeros(1, np.int64)).static[0] is None
    # measured channel maxima of 1 instead of 255: one chunk
    assert plan.chunks(np.ones(100))[0] == ((0, 100),)


@pytest.fixture(scope="module")
def digits_images(tmp_path_factory):
    root = tmp_path_factory.mktemp("fast")
    return {name: export_checkpoint(f"models/{name}-{variant}", layout, root / name)
            for name, variant, layout in [("lenet5", "int4-wot-inplace-4b-64", "inplace-4b-64"),
                                          ("resnet-small", "int8", "none-8b"),
                                          ("squeezenet-small", "int8-wot-inplace-8b-64", "inplace-8b-64"),
                                          ("vgg-small", "int8", "ecc-8b-72")]}


def _faulty(weights: dict, seed: int, names=None) -> dict:
    """Weights with random full-range int8 values in some layers (worst-case faults)."""
    rng = np.random.default_rng(seed)
    out = dict(weights)
    for name in names or list(weights):
        w = weights[name].copy()
        hit = rng.random(w.shape) < 0.2
        w[hit] = rng.choice([-128, 127], hit.sum())
        out[name] = w
    return out


@pytest.mark.parametrize("model", ["lenet5", "resnet-small", "squeezenet-small", "vgg-small"])
def test_networks_give_bit_identical_logits(digits_images, model):
    img = digits_images[model]
    clean = decode_weights(img)[0]
    ref_net, fast_net = IntegerNetwork(img), FastIntegerNetwork(img)
    x = X[:120]
    for weights in (clean, _faulty(clean, 1)):
        ref = ref_net.forward(x, weights)
        assert np.array_equal(fast_net.forward(x, weights, batch=50), ref)
        # chunk limits far below 2^24 exercise the chunked and the float64 paths
        assert np.array_equal(fast_net.forward(x, weights, limit=1 << 12), ref)


def test_32_bit_saturation_of_accumulator_plus_bias_is_kept(digits_images):
    img = digits_images["lenet5"]
    weights = decode_weights(img)[0]
    ref_net, fast_net = IntegerNetwork(img), FastIntegerNetwork(img)
    first, last = img.layers[0], img.layers[-1]
    saved = first.bias.copy(), last.bias.copy()
    try:
        first.bias[:] = np.where(np.arange(first.bias.size) % 2, INT32_MAX, INT32_MIN)
        last.bias[:] = INT32_MAX - 5
        ref = ref_net.forward(X[:40], weights)
        assert (ref == INT32_MAX).any()     # the logits saturate
        assert np.array_equal(fast_net.forward(X[:40], weights), ref)
    finally:
        first.bias[:], last.bias[:] = saved


@pytest.mark.slow   # full size (ResNet-18 / MobileNetV2): `-m "not slow"` skips it while developing
def test_resnet18_at_224_bit_identical(tmp_path):
    torch.manual_seed(0)
    model = build_model("resnet18", seed=0)
    calib = torch.rand(4, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    img = export_image(model, tmp_path / "r18", layout="none-8b", input_shape=(3, 224, 224), calibration=calib)
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(1)).numpy()
    weights = decode_weights(img)[0]
    faulty = _faulty(weights, 2, ["layer4.1.conv2", "fc"])
    for w in (weights, faulty):
        assert np.array_equal(FastIntegerNetwork(img).forward(x, w), IntegerNetwork(img).forward(x, w))


def test_incremental_recompute_equals_a_full_recompute(digits_images):
    img = digits_images["resnet-small"]
    net = FastIntegerNetwork(img)
    x = X[:100]
    clean = decode_weights(img)[0]
    names = [layer.name for layer in img.layers]
    for budget in (1 << 30, 0):       # every cut cached / only the input
        run = IncrementalRun(net, x, weights=clean, batch=40, cache_bytes=budget)
        assert np.array_equal(run.clean, net.forward(x, clean))
        for i, chosen in enumerate([[names[0]], [names[len(names) // 2]], [names[-1]], names[3:5], names]):
            w = _faulty(clean, 10 + i, chosen)
            assert run.changed_layers(w) == [n for n in names if n in chosen]
            assert np.array_equal(run.forward(w), net.forward(x, w))
        assert np.array_equal(run.forward(clean), run.clean)
    # with everything cached, a fault in the last layer restarts right before it
    run = IncrementalRun(net, x, weights=clean, cache_bytes=1 << 30)
    assert run.restart_point([names[-1]]) == net.order[names[-1]]
    assert IncrementalRun(net, x, weights=clean, cache_bytes=0).restart_point([names[-1]]) == 1


@pytest.mark.parametrize("selection", ["all", "conv", "linear"])
def test_incremental_trials_with_a_layer_selection(digits_images, selection):
    img = digits_images["resnet-small"]
    net = FastIntegerNetwork(img)
    x = X[:60]
    run = IncrementalRun(net, x)
    ranges = word_ranges(img, selection)
    for seed in range(3):
        params = TrialParams(campaign="c", model="m", scheme="none-8b", checkpoint="", fault_model="transient",
                             point="ber", vdd=0.5, ber=3e-3, chip=0, repeat=0, layers=selection, samples=60,
                             engine="fast", policy="pass", seed=seed, v_low=0.5, p_stuck1=0.5)
        weights = decode_and_compare(img, faulty_words(img, params, ranges), "pass")[0]
        assert run.changed_layers(weights)
        assert np.array_equal(run.forward(weights), IntegerNetwork(img).forward(x, weights))


def test_quantized_input_matches_the_float64_quantization(digits_images):
    img = digits_images["vgg-small"]
    net = FastIntegerNetwork(img)
    x = np.random.default_rng(0).normal(0, 3, (20,) + img.input_shape).astype(np.float32)
    assert np.array_equal(net.quantized_input(x).numpy().astype(np.int64), net.quantize_input(x))


def _mobilenet_images(root):
    data = load_digits_split()
    imgs = {"mobilenet": export_image(build_model("mobilenet-v2-small", seed=3), root / "m", layout="inplace-8b-64",
                                      input_shape=(1, 8, 8), project=True, calibration=data.x_train[:256]),
            "act4": export_image(build_model("mobilenet-v2-small", seed=5), root / "a4", layout="none-8b",
                                 input_shape=(1, 8, 8), activation_bits=4, calibration=data.x_train[:256])}
    torch.manual_seed(2)
    relu6 = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, dilation=1), nn.MaxPool2d(2), nn.ReLU6(), nn.Flatten(),
                          nn.Linear(64, 10))
    with torch.no_grad():
        relu6[0].weight.mul_(30)   # conv outputs beyond 6: the unfused ReLU6 clamp matters
    imgs["relu6"] = export_image(relu6, root / "r6", layout="none-8b", input_shape=(1, 8, 8),
                                 calibration=data.x_train)
    return imgs


def test_depthwise_relu6_and_4_bit_activations_bit_identical(tmp_path):
    for name, img in _mobilenet_images(tmp_path).items():
        clean = decode_weights(img)[0]
        assert name != "mobilenet" or any(layer.groups > 1 for layer in img.layers)
        for weights in (clean, _faulty(clean, 3)):
            ref = IntegerNetwork(img).forward(X[:80], weights)
            assert np.array_equal(FastIntegerNetwork(img).forward(X[:80], weights, batch=30), ref), name
            assert np.array_equal(FastIntegerNetwork(img).forward(X[:80], weights, limit=1 << 10), ref), name


def test_activation_buffer_faults_apply_as_in_the_float64_path(digits_images):
    from accelsim.hw.activations import ActivationFaults

    img = digits_images["resnet-small"]
    weights = decode_weights(img)[0]
    ref_net, fast_net = IntegerNetwork(img), FastIntegerNetwork(img)
    ref_net.input_faults = ActivationFaults(1e-2, seed=7)
    fast_net.input_faults = ActivationFaults(1e-2, seed=7)
    ref = ref_net.forward(X[:60], weights, batch=25)
    assert not np.array_equal(ref, IntegerNetwork(img).forward(X[:60], weights))
    assert np.array_equal(fast_net.forward(X[:60], weights, batch=25), ref)
    # an incremental run with the hook set recomputes everything from its cached input
    fast_net.input_faults = None
    run = IncrementalRun(fast_net, X[:60], weights=weights, batch=25)
    fast_net.input_faults = ActivationFaults(1e-2, seed=7)
    assert np.array_equal(run.forward(weights), ref)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_layers(), st.floats(1e-5, 0.5))
def test_int8_gemm_layer_gives_the_exact_integers_of_the_float64_path(layer, m):
    """The int8 x int8 -> int32 path (im2col, the 128 offset of unsigned inputs and its
    per-channel correction, zero padding, stride, dilation): the float64 accumulators, and
    after requantization the integer reference, at worst-case magnitudes."""
    from accelsim.infer import int8
    if not int8.available():
        pytest.skip("no integer matrix product in this torch build")
    w, x, bias = layer["w"], layer["x"], layer["bias"]
    weights = int8.Int8Weights(w, layer["groups"])
    assert weights.usable == (layer["groups"] == 1)
    if not weights.usable:
        return
    xt = torch.from_numpy(x.astype(np.float32))
    zero = int8.input_zero(xt)
    assert zero == (0 if layer["signed"] or x.max() <= 127 else 128)
    k = w.shape[2]
    acc, (oh, ow), correction = int8.accumulators(xt, weights, (k, k), (layer["stride"],) * 2,
                                                  (layer["padding"],) * 2, (layer["dilation"],) * 2, zero)
    exact = F.conv2d(torch.from_numpy(x.astype(np.float64)), torch.from_numpy(w.astype(np.float64)), None,
                     stride=layer["stride"], padding=layer["padding"], dilation=layer["dilation"]).numpy()
    exact = exact.astype(np.int64)
    n, c = exact.shape[:2]
    got = acc.numpy().astype(np.int64) + correction[:, None]
    assert np.array_equal(got.reshape(c, n, oh, ow).transpose(1, 0, 2, 3), exact)
    m0, shift = fixed_multiplier(np.full(c, m))
    lo, hi = (-127, 127) if layer["signed"] else (0, 255)
    out = np.empty(exact.shape, dtype=np.float32)
    int8.requantize(acc.numpy(), (correction + bias).astype(np.int64), m0, shift, lo, hi, n, out.reshape(n, c, -1))
    ref = requantize(exact + bias.reshape(1, -1, 1, 1), m0.reshape(1, -1, 1, 1), shift.reshape(1, -1, 1, 1), lo, hi)
    assert np.array_equal(out.astype(np.int64), ref)


def test_int8_path_runs_the_layers_and_equals_the_float32_path(digits_images, monkeypatch):
    """On whole networks the int8 path (made to serve every ungrouped layer; by default only
    those whose float32 sums need several chunks) serves them (counted), and the logits
    equal both the float32 path's and the float64 reference's, with faulty weights too."""
    from accelsim.infer import int8
    if not int8.available():
        pytest.skip("no integer matrix product in this torch build")
    calls = []
    real = int8.accumulators
    monkeypatch.setattr(int8, "accumulators", lambda *a, **k: calls.append(1) or real(*a, **k))
    for name in ("resnet-small", "squeezenet-small"):
        img = digits_images[name]
        net = FastIntegerNetwork(img)
        net.int8_min_chunks = 1
        weights = _faulty(decode_weights(img)[0], 3)
        calls.clear()
        got = net.forward(X[:40], weights)
        assert len(calls) == sum(1 for layer in img.layers if layer.groups == 1) > 0
        net.use_int8 = False
        assert np.array_equal(got, net.forward(X[:40], weights))
        assert np.array_equal(got, IntegerNetwork(img).forward(X[:40], weights))
