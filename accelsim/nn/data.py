"""Data sets: scikit-learn's bundled digits (the default; no download), and loaders for
MNIST idx files, CIFAR-10 python batches and ImageNet-style class folders on a local path.

Every loader returns float32 tensors ``x`` of shape (N, C, H, W) with values in [0, 1]
and int64 labels ``y``.
"""

from __future__ import annotations

import gzip
import pickle  # CIFAR-10's own file format is a pickle; we read only that format
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from accelsim.errors import UserError

# The fixed split of the 1,797 digits: 25 % test, stratified, random_state 0 -> 1,347/450.
DIGITS_TEST_FRACTION = 0.25
DIGITS_SPLIT_SEED = 0


@dataclass
class Split:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    name: str

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def load_digits_split() -> Split:
    """8x8 digits scaled to [0, 1] (pixel / 16), shape (N, 1, 8, 8), fixed split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None]
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=DIGITS_TEST_FRACTION,
                                          random_state=DIGITS_SPLIT_SEED, stratify=d.target)
    return Split(torch.from_numpy(xtr), torch.from_numpy(ytr).long(), torch.from_numpy(xte),
                 torch.from_numpy(yte).long(), 10, "digits")


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (MNIST format: magic 0x00 0x00 dtype ndim, big-endian dims)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"IDX file {str(path)!r} does not exist")
    with _open(path) as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise UserError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise UserError(f"{path}: {data.size} bytes of data for shape {dims}")
    return data.reshape(dims)


def load_mnist(root: str | Path, split: str = "test") -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST from ``root`` holding ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``."""
    root = Path(root)
    prefix = "train" if split == "train" else "t10k"

    def find(kind):
        for name in (f"{prefix}-{kind}-ubyte", f"{prefix}-{kind}-ubyte.gz"):
            if (root / name).exists():
                return root / name
        raise UserError(f"MNIST: no {prefix}-{kind}-ubyte[.gz] in {str(root)!r}")

    images = read_idx(find("images-idx3"))
    labels = read_idx(find("labels-idx1"))
    if len(images) != len(labels):
        raise UserError(f"MNIST: {len(images)} images but {len(labels)} labels in {root}")
    x = torch.from_numpy(images.astype(np.float32) / 255.0)[:, None]
    return x, torch.from_numpy(labels.astype(np.int64))


def load_cifar10(root: str | Path, split: str = "test") -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 python batches (``data_batch_1..5``, ``test_batch``) from ``root``."""
    root = Path(root)
    names = ["test_batch"] if split == "test" else [f"data_batch_{i}" for i in range(1, 6)]
    xs, ys = [], []
    for name in names:
        path = root / name
        if not path.exists():
            raise UserError(f"CIFAR-10: {str(path)!r} does not exist")
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        try:
            data, labels = batch[b"data"], batch[b"labels"]
        except (KeyError, TypeError):
            raise UserError(f"CIFAR-10: {path} has no b'data'/b'labels' entries") from None
        xs.append(np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32))
        ys.append(np.asarray(labels, dtype=np.int64))
    x = torch.from_numpy(np.concatenate(xs).astype(np.float32) / 255.0)
    return x, torch.from_numpy(np.concatenate(ys))


def load_image_folder(root: str | Path, size: tuple[int, int] | None = None) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """ImageNet-style ``root/<class>/<image>.png``; classes sorted by name. PNG via matplotlib."""
    from matplotlib import image as mpimg

    root = Path(root)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not classes:
        raise UserError(f"image folder {str(root)!r} has no class sub-folders")
    xs, ys = [], []
    for label, cls in enumerate(classes):
        for path in sorted((root / cls).glob("*.png")):
            img = np.asarray(mpimg.imread(path), dtype=np.float32)
            if img.ndim == 2:
                img = img[..., None]
            img = img[..., :3].transpose(2, 0, 1)
            if size and img.shape[1:] != tuple(size):
                raise UserError(f"{path}: size {img.shape[1:]} != expected {tuple(size)}")
            xs.append(img)
            ys.append(label)
    if not xs:
        raise UserError(f"image folder {str(root)!r} holds no PNG images")
    shapes = {x.shape for x in xs}
    if len(shapes) > 1:
        raise UserError(f"image folder {root}: images of different shapes {sorted(shapes)}")
    return torch.from_numpy(np.stack(xs)), torch.tensor(ys), classes
