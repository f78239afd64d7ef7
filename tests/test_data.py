"""Data sources named the same way everywhere: each format written here in its real
layout, the seeded subset, and every bad input as one line."""

import gzip
import pickle

import numpy as np
import pytest
from PIL import Image

from accelsim.cli import main
from accelsim.errors import UserError
from accelsim.nn.data import (DataSpec, calibration_set, check_fits, evaluation_set, fingerprint, fixed_order,
                              load_data, parse_data, training_split)


def write_idx(path, array, compress=False):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    (gzip.open if compress else open)(path, "wb").write(header + array.astype(np.uint8).tobytes())


def write_cifar_bin(path, images, labels):
    """The binary version's records: one label byte, then 1024 R, 1024 G, 1024 B bytes."""
    records = np.concatenate([np.asarray(labels, np.uint8)[:, None], images.reshape(len(images), -1)], axis=1)
    records.astype(np.uint8).tofile(path)


def test_parse_data_specs(tmp_path):
    assert parse_data(None) == DataSpec() and parse_data("digits").is_default
    (tmp_path / "d").mkdir()
    np.savez(tmp_path / "a.npz", x=np.zeros((2, 1, 4, 4), np.float32))
    s = parse_data({"source": "imagefolder:d", "resize": 36, "crop": 32, "mean": [0.5, 0.4, 0.3],
                    "std": [0.2, 0.2, 0.2]}, tmp_path)
    assert s.path == str((tmp_path / "d").resolve()) and s.resize == (36,) and s.crop == (32, 32)
    assert s.to_dict() == {"source": f"imagefolder:{tmp_path.resolve() / 'd'}", "resize": [36], "crop": [32, 32],
                           "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.2, 0.2]}
    assert parse_data("npz:a.npz", tmp_path).kind == "npz"
    for value, match in [("imagenet:/x", "unknown source 'imagenet'"), ("digits:/x", "takes no path"),
                         ("mnist", "mnist needs a path"), ("mnist:nowhere", "directory .*nowhere' does not exist"),
                         ("npz:missing.npz", "file .*missing.npz' does not exist"), (3, "must be a string"),
                         ({"source": "npz:a.npz", "resize": 8}, "resize/crop apply to imagefolder"),
                         ({"source": "imagefolder:d", "crop": 0}, "crop: must be >= 1"),
                         ({"source": "imagefolder:d", "mean": [0.5]}, "give both mean and std"),
                         ({"source": "imagefolder:d", "mean": [0.5], "std": [0.0]}, "std\\[0\\]: must be > 0"),
                         ({"source": "imagefolder:d", "colour": 1}, "unknown field"),
                         ("synthetic:3x224x224", "synthetic needs NxCxHxW"),
                         ("synthetic:9000x3x224x224", "more than 134,217,728")]:
        with pytest.raises(UserError, match=match):
            parse_data(value, tmp_path)


def test_synthetic_inputs_are_seeded_and_unlabelled():
    ds = load_data(parse_data("synthetic:4x3x8x8"))
    assert ds.x.shape == (4, 3, 8, 8) and ds.x.dtype == np.float32 and ds.y is None
    assert ds.x[0, 0, 0, 0] == np.float32(0.5005275011062622)   # the same on every machine (SHA-256 seed, PCG64)
    assert 0 <= ds.x.min() and ds.x.max() < 1
    assert calibration_set(parse_data("synthetic:4x3x8x8")).shape == (4, 3, 8, 8)
    with pytest.raises(UserError, match="no labels"):
        training_split(parse_data("synthetic:4x3x8x8"))


def test_mnist_gzipped_or_not(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (6, 28, 28))
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", imgs, compress=True)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([3, 1, 4, 1, 5, 9]))
    write_idx(tmp_path / "train-images-idx3-ubyte", imgs[:4])
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.array([2, 7, 1, 8]), compress=True)
    spec = parse_data(f"mnist:{tmp_path}")
    ds = load_data(spec)
    assert ds.x.shape == (6, 1, 28, 28) and ds.y.tolist() == [3, 1, 4, 1, 5, 9]
    assert ds.x[2, 0, 3, 4] == np.float32(imgs[2, 3, 4] / 255.0)
    split = training_split(spec)
    assert split.y_train.tolist() == [2, 7, 1, 8] and split.x_test.shape == (6, 1, 28, 28)
    assert calibration_set(spec).shape == (4, 1, 28, 28)


def test_cifar10_binary_and_the_pickled_version_refused(tmp_path):
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (5, 3, 32, 32))
    write_cifar_bin(tmp_path / "test_batch.bin", imgs, [0, 9, 2, 7, 7])
    ds = load_data(parse_data(f"cifar10:{tmp_path}"))
    assert ds.x.shape == (5, 3, 32, 32) and ds.y.tolist() == [0, 9, 2, 7, 7]
    assert ds.x[1, 2, 0, 5] == np.float32(imgs[1, 2, 0, 5] / 255.0)   # blue plane, row 0, column 5
    (tmp_path / "short.bin").write_bytes(b"\x00" * 100)
    (tmp_path / "p").mkdir()
    with open(tmp_path / "p" / "test_batch", "wb") as f:
        pickle.dump({b"data": imgs.reshape(5, -1), b"labels": [0, 1, 2, 3, 4]}, f)
    with pytest.raises(UserError, match=r"python \(pickled\) version \(test_batch\).*never unpickles.*test_batch.bin"):
        load_data(parse_data(f"cifar10:{tmp_path / 'p'}"))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "test_batch.bin").write_bytes(b"\x00" * 3000)
    with pytest.raises(UserError, match="3000 bytes, not a whole number of 3073-byte records"):
        load_data(parse_data(f"cifar10:{tmp_path / 'b'}"))
    with pytest.raises(UserError, match="data_batch_1.bin' does not exist"):
        training_split(parse_data(f"cifar10:{tmp_path}"))


def _folder(root, sizes, classes=("cat", "dog"), fmt=("png", "jpg")):
    rng = np.random.default_rng(2)
    arrays = {}
    for cls in classes:
        (root / cls).mkdir(parents=True)
        for i, (h, w) in enumerate(sizes):
            a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            name = f"{i}.{fmt[i % len(fmt)]}"
            Image.fromarray(a).save(root / cls / name)
            arrays[(cls, name)] = a
    return arrays


def test_image_folder_png_jpeg_resize_crop_normalise(tmp_path):
    arrays = _folder(tmp_path / "f", [(6, 6), (6, 6), (6, 6)], fmt=("png",))
    ds = load_data(parse_data(f"imagefolder:{tmp_path / 'f'}"))
    assert ds.x.shape == (6, 3, 6, 6) and ds.y.tolist() == [0, 0, 0, 1, 1, 1] and ds.classes == ["cat", "dog"]
    a = arrays[("dog", "1.png")]   # PNG is lossless: the exact pixels
    assert np.array_equal(ds.x[4], a.transpose(2, 0, 1).astype(np.float32) / np.float32(255))
    # mixed sizes and formats: ImageNet-style resize of the shorter side, center crop, mean/std
    _folder(tmp_path / "g", [(20, 16), (16, 24), (18, 18)])
    spec = parse_data({"source": f"imagefolder:{tmp_path / 'g'}", "resize": 12, "crop": 10,
                       "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]})
    ds = load_data(spec)
    assert ds.x.shape == (6, 3, 10, 10)
    img = Image.open(tmp_path / "g" / "cat" / "1.jpg").convert("RGB").resize((18, 12), Image.BILINEAR)
    want = (np.asarray(img.crop((4, 1, 14, 11)), np.float32).transpose(2, 0, 1) / 255 - 0.5) / 0.25
    assert np.allclose(ds.x[1], want, atol=1e-6)
    # a subset decodes only its images, and they are the full set's at the same indices
    sub = evaluation_set(spec, 4)
    keep = np.sort(fixed_order(6, "samples")[:4])
    assert np.array_equal(sub.x, ds.x[keep]) and np.array_equal(sub.y, ds.y[keep])
    with pytest.raises(UserError, match="images of different sizes .*declare resize and crop"):
        load_data(parse_data(f"imagefolder:{tmp_path / 'g'}"))
    with pytest.raises(UserError, match="0.png: crop 40x40 is larger than the 15x12 image"):
        load_data(parse_data({"source": f"imagefolder:{tmp_path / 'g'}", "resize": 12, "crop": 40}))


def test_image_folder_numeric_classes_unlabelled_and_broken(tmp_path):
    _folder(tmp_path / "n", [(4, 4)], classes=("3", "17"), fmt=("png",))
    assert load_data(parse_data(f"imagefolder:{tmp_path / 'n'}")).y.tolist() == [17, 3]   # sorted names: "17" < "3"
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(3):
        Image.fromarray(np.full((4, 4), 40 * i, np.uint8)).save(flat / f"{i}.png")   # grayscale: one channel
    ds = load_data(parse_data(f"imagefolder:{flat}"))
    assert ds.y is None and ds.x.shape == (3, 1, 4, 4) and ds.x[2, 0, 0, 0] == np.float32(80 / 255)
    with pytest.raises(UserError, match="no labels"):
        training_split(parse_data(f"imagefolder:{flat}"))
    (flat / "3.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="3.png is not a readable image"):
        load_data(parse_data(f"imagefolder:{flat}"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no PNG/JPEG images"):
        load_data(parse_data(f"imagefolder:{tmp_path / 'empty'}"))


def test_npz_float_uint8_labels_and_refusals(tmp_path):
    x8 = np.arange(2 * 1 * 2 * 2, dtype=np.uint8).reshape(2, 1, 2, 2)
    np.savez(tmp_path / "u.npz", x=x8, y=np.array([1, 0]))
    ds = load_data(parse_data(f"npz:{tmp_path / 'u.npz'}"))
    assert ds.x.dtype == np.float32 and ds.x[1, 0, 1, 1] == np.float32(7 / 255) and ds.y.tolist() == [1, 0]
    np.savez(tmp_path / "f.npz", x=np.full((3, 2, 2, 2), -0.5, np.float64))
    ds = load_data(parse_data(f"npz:{tmp_path / 'f.npz'}"))
    assert ds.y is None and ds.x.dtype == np.float32 and float(ds.x.min()) == -0.5
    cases = {"obj.npz": dict(x=np.array([None, 1], dtype=object)), "noX.npz": dict(images=x8),
             "3d.npz": dict(x=np.zeros((2, 4, 4))), "int.npz": dict(x=np.zeros((2, 1, 2, 2), np.int32)),
             "nan.npz": dict(x=np.full((1, 1, 2, 2), np.nan)), "ylen.npz": dict(x=x8, y=np.array([1])),
             "yneg.npz": dict(x=x8, y=np.array([0, -1])), "extra.npz": dict(x=x8, z=x8)}
    matches = {"obj.npz": "not readable without pickle", "noX.npz": "no array 'x' \\(found: images\\)",
               "3d.npz": "x has shape \\(2, 4, 4\\), expected \\(N, C, H, W\\)", "int.npz": "dtype int32",
               "nan.npz": "NaN", "ylen.npz": "expected 2 integer labels", "yneg.npz": "label -1 is negative",
               "extra.npz": "unknown array\\(s\\) z"}
    for name, arrays in cases.items():
        np.savez(tmp_path / name, **arrays)
        with pytest.raises(UserError, match=matches[name]):
            load_data(parse_data(f"npz:{tmp_path / name}"))
    (tmp_path / "junk.npz").write_bytes(b"PK junk")
    with pytest.raises(UserError, match="junk.npz: not readable"):
        load_data(parse_data(f"npz:{tmp_path / 'junk.npz'}"))


def test_seeded_subset_is_fixed(tmp_path):
    np.savez(tmp_path / "s.npz", x=np.arange(100, dtype=np.float32).reshape(100, 1, 1, 1), y=np.arange(100) % 10)
    spec = parse_data(f"npz:{tmp_path / 's.npz'}")
    sub = evaluation_set(spec, 8)
    # the subset is a function of the data size only (SHA-256-derived seed, numpy PCG64):
    # these indices are the same on every machine
    assert sub.x[:, 0, 0, 0].astype(int).tolist() == [0, 3, 10, 16, 21, 26, 27, 38]
    assert sub.y.tolist() == [0, 3, 0, 6, 1, 6, 7, 8]
    assert evaluation_set(spec, 1000).x.shape[0] == 100
    digits = evaluation_set(None, 20)   # digits: the first 20 of its fixed stratified split, as before
    assert np.array_equal(digits.y, load_data().y[:20])
    assert fingerprint(sub) != fingerprint(evaluation_set(spec, 9))


def test_check_fits_shape_and_label_range(tmp_path):
    np.savez(tmp_path / "s.npz", x=np.zeros((4, 1, 8, 8), np.float32), y=np.array([0, 1, 12, 3]))
    ds = load_data(parse_data(f"npz:{tmp_path / 's.npz'}"))
    with pytest.raises(UserError, match=r"inputs of shape \(1, 8, 8\) do not match net's input \(3, 32, 32\)"):
        check_fits(ds, (3, 32, 32), 10, "net")
    with pytest.raises(UserError, match=r"label 12 is out of range for net \(10 classes, labels 0..9\)"):
        check_fits(ds, (1, 8, 8), 10, "net")
    check_fits(ds, (1, 8, 8), 13, "net")


def test_cli_data_errors_are_one_line_exit_2(tmp_path, capsys):
    from accelsim.image.from_checkpoint import export_checkpoint
    from pathlib import Path
    models = Path(__file__).resolve().parents[1] / "models"
    image = tmp_path / "img"
    export_checkpoint(str(models / "lenet5-int8"), "none-8b", image)
    np.savez(tmp_path / "rgb.npz", x=np.zeros((2, 3, 8, 8), np.float32))
    np.savez(tmp_path / "lab.npz", x=np.zeros((2, 1, 8, 8), np.float32), y=np.array([0, 10]))
    np.savez(tmp_path / "ok.npz", x=np.random.default_rng(0).random((6, 1, 8, 8)).astype(np.float32))
    for args, match in [(["infer", str(image), "--data", "mnist:nowhere"], "directory 'nowhere' does not exist"),
                        (["infer", str(image), "--data", f"npz:{tmp_path / 'rgb.npz'}"], "do not match image"),
                        (["infer", str(image), "--data", f"npz:{tmp_path / 'lab.npz'}"], "label 10 is out of range"),
                        (["infer", str(image), "--data", f"cifar10:{tmp_path}"], "test_batch.bin' does not exist"),
                        (["simulate", "--image", str(image), "--data", f"npz:{tmp_path / 'rgb.npz'}"], "do not match"),
                        (["export", str(models / "lenet5-int8"), "--layout", "none-8b", "-o", str(tmp_path / "e"),
                          "--data", f"npz:{tmp_path / 'rgb.npz'}"], "do not match checkpoint"),
                        (["train", "--data", "npz:nope.npz", "-o", str(tmp_path / "t")], "nope.npz' does not exist")]:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert match in err and err.count("\n") == 1, (args, err)
    assert not (tmp_path / "e").exists() and not (tmp_path / "t.yaml").exists()
    assert main(["infer", str(image), "--data", f"npz:{tmp_path / 'ok.npz'}"]) == 0
    assert "6 unlabelled inputs" in capsys.readouterr().out
    assert main(["infer", str(image), "--samples", "100"]) == 0
    assert "on 100 digits test samples" in capsys.readouterr().out


# what the tool refuses in a data source, and whether only the file system can tell
DATA_REFUSALS = [("imagenet:/x", "unknown source 'imagenet'"), ("digits:/x", "takes no path"),
                 ("mnist", "mnist needs a path"), (3, "must be a string"), ("", "expected a source|must not be empty"),
                 ({"source": "npz:a.npz", "resize": 8}, "resize/crop apply to imagefolder"),
                 ({"source": "imagefolder:d", "crop": 0}, "crop: must be >= 1"),
                 ({"source": "imagefolder:d", "crop": [1, 2, 3]}, "crop"),
                 ({"source": "imagefolder:d", "mean": [0.5]}, "give both mean and std"),
                 ({"source": "imagefolder:d", "mean": [0.5, 0.5], "std": [0.2]}, "mean has 2 values but std has 1"),
                 ({"source": "imagefolder:d", "mean": [0.5], "std": [0.0]}, "std\\[0\\]: must be > 0"),
                 ({"source": "imagefolder:d", "colour": 1}, "unknown field"), ({"resize": 3}, "source"),
                 ("synthetic:3x224x224", "synthetic needs NxCxHxW"),
                 ("synthetic:9000x3x224x224", "more than 134,217,728")]


def test_schema_and_loader_agree_on_data_sources(tmp_path):
    """`accelsim schema campaign`'s model and parse_data are one validator: the schema's own
    examples pass both, every refusal of the tool is refused by both (only a missing file
    or folder is the loader's alone: the schema cannot see the disk)."""
    from accelsim.schema import CampaignSpec, validate
    examples = CampaignSpec.model_json_schema()["properties"]["data"]["examples"]
    assert len(examples) >= 5
    for d in ("data/mnist", "data/cifar-10-batches-bin", "data/val", "d"):
        (tmp_path / d).mkdir(parents=True)
    np.savez(tmp_path / "inputs.npz", x=np.zeros((2, 1, 4, 4), np.float32))
    base = {"models": ["lenet5"], "schemes": ["none-8b"], "voltages": [0.9]}
    for value in examples:
        validate(CampaignSpec, {**base, "data": value}, "spec")
        text = value if isinstance(value, str) else value["source"]
        assert parse_data(value, tmp_path).kind == text.partition(":")[0]
    for value, match in DATA_REFUSALS:
        with pytest.raises(UserError, match=match):
            parse_data(value, tmp_path)
        with pytest.raises(UserError, match=match):
            validate(CampaignSpec, {**base, "data": value}, "spec")
    validate(CampaignSpec, {**base, "data": "mnist:nowhere"}, "spec")   # the disk: the loader's check
    with pytest.raises(UserError, match="nowhere' does not exist"):
        parse_data("mnist:nowhere", tmp_path)


def test_named_fashion_mnist_resolves_env_then_debian_and_refuses_in_one_line(tmp_path, monkeypatch, capsys):
    """``fashion-mnist`` reads $ACCELSIM_DATA/fashion-mnist first, then Debian's folder; its
    text (and so a card's dataset and a trial's key) names no machine path; absent, one
    line with the install command, exit 2 from the CLI."""
    import accelsim.schema.data_source as data   # where the spec (and a named set's folder) is checked

    root = tmp_path / "fashion-mnist"
    root.mkdir()
    imgs = np.random.default_rng(3).integers(0, 256, (5, 28, 28))
    write_idx(root / "t10k-images-idx3-ubyte.gz", imgs, compress=True)
    write_idx(root / "t10k-labels-idx1-ubyte.gz", np.array([9, 0, 0, 3, 8]), compress=True)
    write_idx(root / "train-images-idx3-ubyte.gz", imgs[:3], compress=True)
    write_idx(root / "train-labels-idx1-ubyte.gz", np.array([1, 2, 3]), compress=True)
    monkeypatch.setenv("ACCELSIM_DATA", str(tmp_path))
    spec = parse_data("fashion-mnist")
    assert spec.text == "fashion-mnist" and spec.path is None and spec.to_dict() == {"source": "fashion-mnist"}
    assert spec.root == str(root.resolve())
    ds = load_data(spec)
    assert ds.y.tolist() == [9, 0, 0, 3, 8] and ds.x[4, 0, 5, 6] == np.float32(imgs[4, 5, 6] / 255.0)
    assert ds.classes[9] == "Ankle boot" and ds.name == "fashion-mnist"
    assert training_split(spec).y_train.tolist() == [1, 2, 3]
    with pytest.raises(UserError, match="named data set and takes no path"):
        parse_data("fashion-mnist:/x")
    monkeypatch.setenv("ACCELSIM_DATA", str(tmp_path / "empty"))
    monkeypatch.setattr(data, "DEBIAN_DATASETS", tmp_path / "usr-share-datasets")
    with pytest.raises(UserError, match="not installed .*sudo apt-get install dataset-fashion-mnist"):
        parse_data("fashion-mnist")
    assert main(["infer", "models/lenet5-int8", "--data", "fashion-mnist"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "apt-get install dataset-fashion-mnist" in err[0]
