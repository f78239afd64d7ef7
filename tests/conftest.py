"""Fixtures shared by several test modules."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread for a module: on a 2-core machine running two xdist workers,
    torch's own thread pool only contends (a 224x224 export took 25 s instead of 3 s)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def fashion_mnist_installed() -> bool:
    from accelsim.nn.data import named_available
    return named_available("fashion-mnist")


# Tests that read Debian's Fashion-MNIST (`make test` installs dataset-fashion-mnist where
# it can). Skipped, with the reason, only where it is absent; in CI (ACCELSIM_REQUIRE_DATA=1)
# running without it is a failure instead.
needs_fashion = pytest.mark.skipif(
    not fashion_mnist_installed() and __import__("os").environ.get("ACCELSIM_REQUIRE_DATA") != "1",
    reason="Fashion-MNIST is not installed (sudo apt-get install dataset-fashion-mnist)")
