"""What a network's outputs say: top-k classes, SDC rates against the fault-free outputs,
the number of classes of a memory image, and its top-1 predictions on a data set."""

from __future__ import annotations

import numpy as np

from accelsim.infer.integer import IntegerNetwork

TOP_K = 5


def top_classes(net: IntegerNetwork, out: np.ndarray, k: int = TOP_K) -> np.ndarray:
    """(N, min(k, classes)) class indices by descending real-valued output; ties go to the
    lower class index (stable sort), as argmax does."""
    real = -(out.astype(np.float64) * net.output_scale()).reshape(len(out), -1)
    return np.argsort(real, axis=1, kind="stable")[:, :k]


def sdc_rates(clean_top: np.ndarray, top: np.ndarray, classes: int) -> tuple[float, float | None]:
    """(top-1 SDC, top-5 SDC): the share of inputs whose top-1 class differs from the
    fault-free network's, and the share whose fault-free top-1 class is no longer among the
    faulty top 5 (Li et al., SC'17, SDC-1 / SDC-5). With 5 classes or fewer the top 5 hold
    every class, so top-5 SDC is None rather than a constant 0."""
    sdc1 = float(np.mean(top[:, 0] != clean_top[:, 0]))
    if classes <= TOP_K:
        return sdc1, None
    sdc5 = float(np.mean(~(top[:, :TOP_K] == clean_top[:, :1]).any(axis=1)))
    return sdc1, sdc5


def image_classes(image) -> int:
    """Outputs per input of a memory image's network (one zero input through it)."""
    out = IntegerNetwork(image).forward(np.zeros((1, *image.input_shape), dtype=np.float32))
    return int(np.prod(out.shape[1:]))


def evaluate_image(image, data, samples: int | None = None, weights=None) -> tuple[object, "np.ndarray"]:
    """(the evaluated Dataset, top-1 predictions) of a memory image on ``data``, after the
    one-line checks of shape and label range."""
    from accelsim.nn.data import check_fits, evaluation_set

    from accelsim.infer.fast import FastIntegerNetwork

    ds = evaluation_set(data, samples)
    if samples is not None and len(ds.x) < samples:
        from accelsim.errors import UserError
        raise UserError(f"--samples {samples}: the data {data.text} holds only {len(ds.x)} inputs")
    check_fits(ds, image.input_shape, image_classes(image), f"image {image.path}")
    # the exact fast engine campaigns use (bit-identical to IntegerNetwork, tested in test_infer_fast)
    return ds, FastIntegerNetwork(image).predict(ds.x, weights)


def recorded_data(image):
    """The data source an image was exported for, as its manifest records it (a campaign's
    or a --data export's data, or the checkpoint's own training data); None: digits."""
    from accelsim.errors import UserError
    from accelsim.nn.data import parse_data

    text = (image.manifest.source if image.manifest is not None else {}).get("data")
    if not text:
        return None
    try:
        return parse_data(text, ".", f"data {text!r} recorded in {image.path}/manifest.yaml")
    except UserError as exc:
        raise UserError(f"{exc}; give --data") from None
