"""Same seed, same bits: the zoo's retraining and the fault studies' seeds."""

import hashlib

from accelsim.nn import retrain_zoo


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_retrain_zoo_gives_the_same_bits_twice(tmp_path):
    for run in ("a", "b"):
        retrain_zoo.main(str(tmp_path / run), archs=("lenet5",), variants=("int4-wot-inplace-4b-32",),
                         epochs=2, qat_epochs=1)
    a = tmp_path / "a" / "lenet5-int4-wot-inplace-4b-32.safetensors"
    b = tmp_path / "b" / "lenet5-int4-wot-inplace-4b-32.safetensors"
    assert a.stat().st_size > 10_000 and _digest(a) == _digest(b)
