"""Data sets, named by one spec string everywhere (``--data`` on the command line, ``data:``
in run and campaign configs):

- ``digits``            scikit-learn's bundled 8x8 digits (the default; no download);
- ``mnist:DIR``         the four MNIST idx files, gzipped or not;
- ``fashion-mnist``     Fashion-MNIST (Xiao et al. 2017; 60,000 training and 10,000 test 28x28
                        images, 10 classes) as Debian's ``dataset-fashion-mnist`` installs it:
                        ``$ACCELSIM_DATA/fashion-mnist`` if that exists, else
                        ``/usr/share/datasets/fashion-mnist``; nothing is downloaded;
- ``cifar10:DIR``       the CIFAR-10 *binary* batches (``data_batch_1..5.bin``, ``test_batch.bin``);
                        the python (pickled) version is refused: it is never unpickled;
- ``imagefolder:DIR``   ``DIR/<class>/<image>.png|jpg`` (ImageNet-style), or images directly in
                        ``DIR`` (unlabelled); resize / center-crop / mean-std normalisation
                        declared beside the spec;
- ``npz:FILE``          arrays ``x`` (N, C, H, W; float or uint8) and optional ``y`` (int labels),
                        read with ``allow_pickle=False``;
- ``synthetic:NxCxHxW`` N seeded uniform [0, 1) inputs of shape (C, H, W), unlabelled (for
                        full-size networks without a data set: SDC only).

Every loader returns float32 inputs ``x`` of shape (N, C, H, W) (uint8 pixels scaled to
[0, 1], then normalised if the spec says so) and int64 labels ``y`` or None (unlabelled).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import math
import re
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from accelsim.errors import UserError
# the spec (text, transform, paths) is checked without torch in accelsim.schema.data_source,
# so that a CLI or config error in it answers before the heavy stack is loaded; re-exported here
from accelsim.schema.data_source import (DATA_ENV, DEBIAN_DATASETS, IMAGE_MAX_SIDE, KINDS, NAMED,  # noqa: F401
                                         NAMED_KINDS, SYNTHETIC_MAX_VALUES, TRANSFORM_FIELDS, DataSource, DataSpec,
                                         data_from_args, named_available, named_candidates, named_root, parse_data,
                                         source_parts, synthetic_shape, validate_source_text)
from accelsim.seeds import derive

# The fixed split of the 1,797 digits: 25 % test, stratified, random_state 0 -> 1,347/450.
DIGITS_TEST_FRACTION = 0.25
DIGITS_SPLIT_SEED = 0
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
# Sources without a train/test split of their own keep this seeded share out of training.
HOLDOUT_FRACTION = 0.2
# Export calibrates activation scales on at most this many training inputs (a seeded subset).
CALIBRATION_MAX = 2048
# Bounds checked before anything is allocated (products in Python ints, never int64):
MAX_CLASSES = 1 << 20          # labels 0..MAX_CLASSES-1; ImageNet-21k has 21,841 classes
IDX_MAX_BYTES = 1 << 32        # one idx file: MNIST's largest is 47 MB
NPZ_MAX_BYTES = 1 << 33        # all arrays of one npz file, as their headers declare them
IMAGE_MAX_PIXELS = 1 << 28     # one decoded or resized image (Pillow's own bomb limit is ~179 M)


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


@dataclass
class Dataset:
    """Inputs ``x`` float32 (N, C, H, W) and labels ``y`` int64 (N,) or None."""

    x: np.ndarray
    y: np.ndarray | None
    name: str
    classes: list[str] | None = field(default=None)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(v) for v in self.x.shape[1:])

    @property
    def labelled(self) -> bool:
        return self.y is not None

    def take(self, index: np.ndarray) -> "Dataset":
        return Dataset(self.x[index], None if self.y is None else self.y[index], self.name, self.classes)


# ---------------------------------------------------------------- the spec


# ---------------------------------------------------------------- loaders


@functools.lru_cache(maxsize=1)
def _digits_arrays():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None]
    return tuple(train_test_split(x, d.target.astype(np.int64), test_size=DIGITS_TEST_FRACTION,
                                  random_state=DIGITS_SPLIT_SEED, stratify=d.target))


def load_digits_split() -> Split:
    """8x8 digits scaled to [0, 1] (pixel / 16), shape (N, 1, 8, 8), fixed split."""
    xtr, xte, ytr, yte = (a.copy() for a in _digits_arrays())
    return Split(torch.from_numpy(xtr), torch.from_numpy(ytr), torch.from_numpy(xte),
                 torch.from_numpy(yte), 10, "digits")


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (MNIST format: magic 0x00 0x00 dtype ndim, big-endian dims), gzipped or
    not. The header is checked before the data is read, and no more than the header
    declares (at most IDX_MAX_BYTES) is ever read: a device or a pipe is refused."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"IDX file {str(path)!r} does not exist")
    if not path.is_file():
        raise UserError(f"IDX file {str(path)!r} is not a regular file")
    try:
        with _open(path) as f:
            head = f.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] != 0x08:
                raise UserError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
            ndim = head[3]
            if not 1 <= ndim <= 4:
                raise UserError(f"{path}: IDX header declares {ndim} dimensions (expected 1 to 4)")
            raw_dims = f.read(4 * ndim)
            if len(raw_dims) < 4 * ndim:
                raise UserError(f"{path}: truncated IDX header ({4 + len(raw_dims)} of {4 + 4 * ndim} bytes)")
            dims = [int.from_bytes(raw_dims[4 * i:4 * i + 4], "big") for i in range(ndim)]
            if 0 in dims:
                raise UserError(f"{path}: IDX file holds no samples (shape {dims})")
            size = math.prod(dims)
            if size > IDX_MAX_BYTES:
                raise UserError(f"{path}: IDX header declares shape {dims} ({size:,} bytes), more than the "
                                f"limit of {IDX_MAX_BYTES:,}")
            raw = f.read(size + 1)   # one byte more: trailing data is an error too
    except (OSError, EOFError, zlib.error) as exc:   # BadGzipFile is an OSError
        raise UserError(f"{path}: not readable ({exc.__class__.__name__}: {exc})"[:300]) from None
    if len(raw) != size:
        raise UserError(f"{path}: {len(raw)}{'+' if len(raw) > size else ''} bytes of data for shape {dims} "
                        f"({size} expected)")
    return np.frombuffer(raw, dtype=np.uint8).reshape(dims)


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
    if images.ndim != 3 or labels.ndim != 1:
        raise UserError(f"MNIST in {root}: images of shape {images.shape} (want N x H x W), labels {labels.shape}")
    if len(images) != len(labels):
        raise UserError(f"MNIST: {len(images)} images but {len(labels)} labels in {root}")
    x = torch.from_numpy(images.astype(np.float32) / 255.0)[:, None]
    return x, torch.from_numpy(labels.astype(np.int64))


CIFAR_RECORD = 1 + 3 * 32 * 32   # label byte + 32x32 R, G, B planes (the binary version's format)
CIFAR_PICKLED = ("test_batch", "data_batch_1", "batches.meta")


def load_cifar10(root: str | Path, split: str = "test") -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 *binary* batches (``data_batch_1..5.bin``, ``test_batch.bin``) from ``root``
    (or its ``cifar-10-batches-bin`` folder). The python version is a pickle: refused."""
    root = Path(root)
    if not (root / "test_batch.bin").exists() and (root / "cifar-10-batches-bin").is_dir():
        root = root / "cifar-10-batches-bin"
    names = ["test_batch.bin"] if split == "test" else [f"data_batch_{i}.bin" for i in range(1, 6)]
    xs, ys = [], []
    for name in names:
        path = root / name
        if not path.exists():
            pickled = [p for p in CIFAR_PICKLED if (root / p).exists()]
            if pickled:
                raise UserError(f"CIFAR-10: {str(root)!r} holds the python (pickled) version ({pickled[0]}), which "
                                "accelsim never unpickles; use the binary version (cifar-10-binary.tar.gz): "
                                "data_batch_1.bin .. data_batch_5.bin and test_batch.bin")
            raise UserError(f"CIFAR-10: {str(path)!r} does not exist (binary version: data_batch_1.bin .. "
                            "data_batch_5.bin, test_batch.bin)")
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size == 0 or raw.size % CIFAR_RECORD:
            raise UserError(f"CIFAR-10: {path} holds {raw.size} bytes, not a whole number of "
                            f"{CIFAR_RECORD}-byte records")
        records = raw.reshape(-1, CIFAR_RECORD)
        xs.append(records[:, 1:].reshape(-1, 3, 32, 32))
        ys.append(records[:, 0].astype(np.int64))
    labels = np.concatenate(ys)
    if labels.max() > 9:
        raise UserError(f"CIFAR-10 in {root}: label {int(labels.max())} is out of range 0..9")
    x = torch.from_numpy(np.concatenate(xs).astype(np.float32) / 255.0)
    return x, torch.from_numpy(labels)


def _resize_crop(img, resize: tuple[int, ...] | None, crop: tuple[int, int] | None):
    """torchvision's eval transform: resize (shorter side, aspect kept; or exact (H, W)),
    bilinear, then a center crop of (H, W)."""
    from PIL import Image

    if resize is not None:
        w, h = img.size
        if len(resize) == 1:
            s = resize[0]
            size = (s, max(1, int(s * h / w))) if w <= h else (max(1, int(s * w / h)), s)
        else:
            size = (resize[1], resize[0])
        if size[0] * size[1] > IMAGE_MAX_PIXELS:
            raise UserError(f"resize to {size[1]}x{size[0]} is more than {IMAGE_MAX_PIXELS:,} pixels")
        img = img.resize(size, Image.BILINEAR)
    if crop is not None:
        w, h = img.size
        ch, cw = crop
        if ch > h or cw > w:
            raise UserError(f"crop {ch}x{cw} is larger than the {h}x{w} image (resize first)")
        top, left = int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0))
        img = img.crop((left, top, left + cw, top + ch))
    return img


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def image_folder_files(root: str | Path) -> tuple[list[tuple[Path, int]], list[str] | None]:
    """([(image path, label)], class names) in a fixed order: classes sorted by name, files
    sorted within a class. Labels: the class folder's index, or the folder's name when every
    name is an integer (e.g. ImageNet class ids ``0``..``999``); images directly in ``root``
    and no class folders: unlabelled (label -1, classes None)."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"image folder {str(root)!r} does not exist")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if classes:
        numeric = all(re.fullmatch(r"\d+", c) for c in classes)
        # digits counted before int(): a 5,000-digit name is past int()'s own limit
        big = [c for c in classes if numeric and (len(c.lstrip("0")) > 7 or int(c) >= MAX_CLASSES)]
        if big:
            big = big[0]
            raise UserError(f"image folder {str(root)!r}: class folder {big[:40]!r} is a label above "
                            f"{MAX_CLASSES - 1} (integer folder names are the labels)")
        files = [(path, int(c) if numeric else i) for i, c in enumerate(classes) for path in _image_files(root / c)]
    else:
        files = [(path, -1) for path in _image_files(root)]
    if not files:
        raise UserError(f"image folder {str(root)!r} holds no PNG/JPEG images "
                        "(expected DIR/<class>/<image>.png|jpg, or images directly in DIR)")
    return files, (classes or None)


GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
WIDE_GRAY_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")   # 16-bit PNG greys open as I;16 (or I)


@contextlib.contextmanager
def _image_errors(path: Path):
    """Anything Pillow raises or warns on a hostile file (a decompression bomb, a zTXt/iCCP
    text bomb, a truncated or corrupt stream) as one UserError naming the file; its
    DecompressionBombWarning is an error here, never a line printed before the error."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except UserError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UserError(f"image folder: {path} is too large to decode ({str(exc).split('.')[0]})"[:300]) from None
    except MemoryError:
        raise UserError(f"image folder: {path}: not enough memory to decode it") from None
    except Exception as exc:   # Pillow raises OSError, ValueError, SyntaxError, struct.error, ...
        raise UserError(f"image folder: {path} is not a readable image ({exc.__class__.__name__})") from None


def _pixels(img, gray: bool) -> np.ndarray:
    """(C, H, W) float32 in [0, 1]: 8-bit channels / 255, 16-bit greys / 65535 (clipping
    them to 8 bits would read every pixel above 255 as white)."""
    if gray and img.mode in WIDE_GRAY_MODES:
        a = np.asarray(img.convert("I"), dtype=np.int64)   # PNG keeps 16-bit greys as integers 0..65535
        return (np.clip(a, 0, 65535).astype(np.float32) / np.float32(65535.0))[None]
    a = np.asarray(img.convert("L" if gray else "RGB"), dtype=np.uint8)
    a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    return a.astype(np.float32) / np.float32(255.0)


def load_image_folder(root: str | Path, resize=None, crop=None, select=None) -> tuple[torch.Tensor, torch.Tensor | None, list[str] | None]:
    """The images of :func:`image_folder_files` (only those at indices ``select``, if given:
    a large folder's subset is decoded without the rest), as (x, labels or None, classes).

    One channel when every image of the folder is grayscale (read from the file headers),
    else RGB; decoded one at a time, so memory holds only the resized crops."""
    from PIL import Image

    files, classes = image_folder_files(root)
    gray = True
    for path, _ in files:
        with _image_errors(path), Image.open(path) as img:
            gray = gray and img.mode in GRAY_MODES
    chosen = files if select is None else [files[i] for i in select]
    arrays = []
    for path, _ in chosen:
        with _image_errors(path), Image.open(path) as img:
            if img.width * img.height > IMAGE_MAX_PIXELS:
                raise UserError(f"image folder: {path} has {img.width}x{img.height} pixels, more than "
                                f"{IMAGE_MAX_PIXELS:,}")
            img.load()   # truncated data shows only when decoding
            if img.mode in WIDE_GRAY_MODES and gray:
                img = img.convert("I")
            elif img.mode not in ("L", "RGB") or (img.mode == "RGB") == gray:
                img = img.convert("L" if gray else "RGB")
            else:
                img = img.copy()
            try:
                img = _resize_crop(img, resize, crop)
            except UserError as exc:
                raise UserError(f"image folder: {path}: {exc}") from None
            arrays.append(_pixels(img, gray))
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        other = next(i for i, a in enumerate(arrays) if a.shape != arrays[0].shape)
        raise UserError(f"image folder {root}: images of different sizes ({chosen[0][0].name} "
                        f"{arrays[0].shape[1:]}, {chosen[other][0].name} {arrays[other].shape[1:]}); "
                        "declare resize and crop")
    x = torch.from_numpy(np.ascontiguousarray(np.stack(arrays), dtype=np.float32))
    if classes is None:
        return x, None, None
    return x, torch.tensor([label for _, label in chosen], dtype=torch.int64), classes


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an npz file, each header checked before its data is read: no object
    (pickled) arrays, at most NPZ_MAX_BYTES in all, and no array larger than the bytes its
    archive member holds (a header may declare any size: 561 GiB is refused, not allocated)."""
    import zipfile

    from numpy.lib import format as npy

    if not path.exists():
        raise UserError(f"npz file {str(path)!r} does not exist")
    if not path.is_file():
        raise UserError(f"npz file {str(path)!r} is not a regular file")
    where = f"npz file {path}"
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
        if magic == b"\x93NUMPY":
            raise UserError(f"{where}: a single .npy array, not an npz archive (save it with np.savez(..., x=...))")
        arrays, total = {}, 0
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy") or "/" in info.filename:
                    raise UserError(f"{where}: archive member {info.filename[:60]!r} is not an array (.npy)")
                with zf.open(info) as member:
                    version = npy.read_magic(member)
                    header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
                    shape, _, dtype = header(member)
                    if dtype.hasobject:
                        raise UserError(f"{where}: array {info.filename[:-4]!r} holds Python objects, "
                                        "which would need pickle (not readable without pickle: refused)")
                    nbytes = math.prod(shape) * dtype.itemsize
                    total += nbytes
                    if total > NPZ_MAX_BYTES:
                        raise UserError(f"{where}: array {info.filename[:-4]!r} of shape {shape} declares "
                                        f"{nbytes:,} bytes; the file's arrays may hold at most {NPZ_MAX_BYTES:,}")
                    if nbytes > info.file_size:
                        raise UserError(f"{where}: array {info.filename[:-4]!r} of shape {shape} needs "
                                        f"{nbytes:,} bytes but its member holds {info.file_size:,} (truncated?)")
                with zf.open(info) as member:
                    arrays[info.filename[:-4]] = npy.read_array(member, allow_pickle=False)
    except UserError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, zlib.error, NotImplementedError, KeyError,
            SyntaxError, TypeError) as exc:
        # not a zip archive, a corrupt member (CRC, deflate), a malformed .npy header
        text = str(exc).splitlines()[0] if str(exc).strip() else ""
        raise UserError(f"{where}: not readable as an npz archive ({exc.__class__.__name__}: {text})"[:300]) from None
    return arrays


def load_npz(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """``x`` (N, C, H, W) float or uint8 (scaled by 1/255) and optional ``y`` (N,) integer labels."""
    path = Path(path)
    arrays = _read_npz(path)
    if "x" not in arrays:
        raise UserError(f"npz file {path}: no array 'x' (found: {', '.join(sorted(arrays)) or 'none'})")
    unknown = set(arrays) - {"x", "y"}
    if unknown:
        raise UserError(f"npz file {path}: unknown array(s) {', '.join(sorted(unknown))} (expected x and optional y)")
    x = arrays["x"]
    if x.ndim != 4 or 0 in x.shape:
        raise UserError(f"npz file {path}: x has shape {x.shape}, expected (N, C, H, W)")
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / np.float32(255.0)
    elif np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
        if not np.isfinite(x).all():
            raise UserError(f"npz file {path}: x holds NaN or infinite values")
    else:
        raise UserError(f"npz file {path}: x has dtype {x.dtype}, expected a float type or uint8")
    y = arrays.get("y")
    if y is not None:
        if not np.issubdtype(y.dtype, np.integer) or y.shape != (len(x),):
            raise UserError(f"npz file {path}: y has dtype {y.dtype} and shape {y.shape}, "
                            f"expected {len(x)} integer labels")
        if len(y) and int(y.min()) < 0:
            raise UserError(f"npz file {path}: label {int(y.min())} is negative")
        if len(y) and int(y.max()) >= MAX_CLASSES:   # compared as Python ints: uint64 2**64-1 is no -1
            raise UserError(f"npz file {path}: label {int(y.max())} is above {MAX_CLASSES - 1}")
        y = y.astype(np.int64)
    return x, y


# ---------------------------------------------------------------- sets for each use


def _normalise(x: np.ndarray, spec: DataSpec) -> np.ndarray:
    if spec.mean is None:
        return x
    c = x.shape[1]
    mean, std = np.array(spec.mean, dtype=np.float32), np.array(spec.std, dtype=np.float32)
    if len(mean) not in (1, c):
        raise UserError(f"data {spec.text}: mean/std give {len(mean)} values for {c}-channel inputs")
    return ((x - mean.reshape(1, -1, 1, 1)) / std.reshape(1, -1, 1, 1)).astype(np.float32)


def _signature(spec: DataSpec) -> tuple:
    """Names, sizes and modification times of the source's files: the cache below is keyed
    by them, so an edited file is read again."""
    if not spec.is_file_source:
        return ()
    root = Path(spec.root)   # a named data set: where it was found ($ACCELSIM_DATA or Debian's)
    if root.is_file():
        st = root.stat()
        return ((root.name, st.st_size, st.st_mtime_ns),)
    out = []
    for p in sorted(root.rglob("*")):
        if p.is_file():
            st = p.stat()
            out.append((str(p.relative_to(root)), st.st_size, st.st_mtime_ns))
    return (str(root), *out)


def _load(spec: DataSpec, split: str, select: tuple[int, ...] | None = None) -> Dataset:
    return _load_cached(spec, split, _signature(spec), select)


@functools.lru_cache(maxsize=4)
def _load_cached(spec: DataSpec, split: str, signature: tuple, select: tuple[int, ...] | None) -> Dataset:
    if spec.kind == "digits":
        xtr, xte, ytr, yte = _digits_arrays()
        x, y = (xtr, ytr) if split == "train" else (xte, yte)
        ds = Dataset(x.copy(), y.copy(), "digits", [str(i) for i in range(10)])
    elif spec.kind == "mnist":
        x, y = load_mnist(spec.path, split)
        ds = Dataset(x.numpy(), y.numpy(), spec.text)
    elif spec.kind == "fashion-mnist":
        x, y = load_mnist(spec.root, split)
        ds = Dataset(x.numpy(), y.numpy(), spec.text, list(FASHION_CLASSES))
    elif spec.kind == "cifar10":
        x, y = load_cifar10(spec.path, split)
        ds = Dataset(x.numpy(), y.numpy(), spec.text)
    elif spec.kind == "imagefolder":
        x, y, classes = load_image_folder(spec.path, spec.resize, spec.crop, select)
        ds = Dataset(x.numpy(), None if y is None else y.numpy(), spec.text, classes)
    elif spec.kind == "synthetic":
        shape = synthetic_shape(spec.path)
        x = np.random.default_rng(derive(0, "synthetic", spec.path)).random(shape, dtype=np.float32)
        ds = Dataset(x, None, spec.text)
    else:
        x, y = load_npz(spec.path)
        ds = Dataset(x, y, spec.text)
    ds.x = np.ascontiguousarray(_normalise(ds.x, spec), dtype=np.float32)
    ds.x.setflags(write=False)   # cached and shared: nobody may change it in place
    return ds


def has_split(spec: DataSpec) -> bool:
    """Whether the source has its own train/test split (digits, (Fashion-)MNIST, CIFAR-10)."""
    return spec.kind in ("digits", "fashion-mnist", "mnist", "cifar10")


def fixed_order(n: int, key: str) -> np.ndarray:
    """A seeded permutation of range(n): the same on every machine (SHA-256 seed)."""
    return np.random.default_rng(derive(0, "data-order", key, n)).permutation(n)


def _holdout(spec: DataSpec, ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) indices of a source without a split: a seeded HOLDOUT_FRACTION held out."""
    order = fixed_order(len(ds.x), "holdout")
    n_test = max(1, int(round(HOLDOUT_FRACTION * len(order)))) if len(order) > 1 else 0
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def load_data(spec: DataSpec | None = None) -> Dataset:
    """The evaluation set: the test split of digits/MNIST/CIFAR-10, the whole folder or file
    otherwise."""
    spec = spec or DataSpec()
    return _load(spec, "test")


def data_size(spec: DataSpec | None = None) -> int:
    """How many inputs the evaluation set holds (an image folder: counted, not decoded)."""
    spec = spec or DataSpec()
    if spec.kind == "imagefolder":
        return len(image_folder_files(spec.path)[0])
    return int(len(load_data(spec).x))


def evaluation_set(spec: DataSpec | None, samples: int | None) -> Dataset:
    """The first ``samples`` inputs of the evaluation set in a fixed order: the digits split's
    own (already a seeded stratified shuffle), a seeded permutation for every other source;
    kept in file order, so the same subset on every machine."""
    spec = spec or DataSpec()
    if spec.kind == "imagefolder":   # decode only the subset of a large folder
        n = len(image_folder_files(spec.path)[0])
        if samples is None or samples >= n:
            return load_data(spec)
        return _load(spec, "test", tuple(int(i) for i in np.sort(fixed_order(n, "samples")[:samples])))
    ds = load_data(spec)
    if samples is None or samples >= len(ds.x):
        return ds
    if spec.kind == "digits":
        return ds.take(np.arange(samples))
    return ds.take(np.sort(fixed_order(len(ds.x), "samples")[:samples]))


def training_split(spec: DataSpec | None = None) -> Split:
    """Train and test tensors for training: the source's own split, or a seeded hold-out of
    HOLDOUT_FRACTION for imagefolder and npz. Needs labels."""
    spec = spec or DataSpec()
    if has_split(spec):
        train, test = _load(spec, "train"), _load(spec, "test")
    else:
        ds = _load(spec, "test")
        tr, te = _holdout(spec, ds)
        train, test = ds.take(tr), ds.take(te)
    if train.y is None:
        raise UserError(f"data {spec.text}: no labels (class sub-folders or npz 'y'): cannot train on it")
    classes = int(max(train.y.max(), test.y.max() if len(test.y) else 0)) + 1
    return Split(torch.from_numpy(np.array(train.x)), torch.from_numpy(train.y.copy()),
                 torch.from_numpy(np.array(test.x)), torch.from_numpy(test.y.copy()), classes, spec.text)


def calibration_set(spec: DataSpec | None = None) -> torch.Tensor:
    """Inputs for export's activation calibration: the training split (or, without a split,
    the whole source), at most CALIBRATION_MAX of them (seeded subset)."""
    spec = spec or DataSpec()
    ds = _load(spec, "train" if has_split(spec) else "test")
    x = ds.x
    if len(x) > CALIBRATION_MAX:
        x = x[np.sort(fixed_order(len(x), "calibration")[:CALIBRATION_MAX])]
    return torch.from_numpy(np.array(x))


def check_fits(ds: Dataset, input_shape, num_classes: int | None, what: str) -> None:
    """One-line errors when ``ds`` cannot feed ``what``: input shape or a label out of range."""
    shape = tuple(int(v) for v in input_shape)
    if ds.input_shape != shape:
        raise UserError(f"data {ds.name}: inputs of shape {ds.input_shape} do not match {what}'s input {shape}")
    if ds.y is not None and num_classes is not None and len(ds.y) and int(ds.y.max()) >= num_classes:
        raise UserError(f"data {ds.name}: label {int(ds.y.max())} is out of range for {what} "
                        f"({num_classes} classes, labels 0..{num_classes - 1})")


def fingerprint(ds: Dataset) -> str:
    """SHA-256 of the inputs and labels (part of a trial's key: other data, other trial)."""
    import hashlib

    h = hashlib.sha256()
    h.update(repr(ds.x.shape).encode())
    h.update(np.ascontiguousarray(ds.x, dtype=np.float32).tobytes())
    if ds.y is not None:
        h.update(np.ascontiguousarray(ds.y, dtype=np.int64).tobytes())
    return h.hexdigest()
