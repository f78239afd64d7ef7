"""Networks, data and training: the model zoo, digits/MNIST/CIFAR-10/folder loaders,
QAT/WOT/clipping/RandBET/pruning training and safetensors checkpoints with model cards.

Attributes load torch on first use (accelsim.lazy): the CLI answers --help without it."""

from accelsim.lazy import lazy_exports

__all__ = ["build_model", "list_models", "load_checkpoint", "load_digits_split", "model_info",
           "save_checkpoint"]
__getattr__ = lazy_exports(__name__, {
    "load_checkpoint": "accelsim.nn.checkpoint", "save_checkpoint": "accelsim.nn.checkpoint",
    "load_digits_split": "accelsim.nn.data",
    "build_model": "accelsim.nn.zoo", "list_models": "accelsim.nn.zoo", "model_info": "accelsim.nn.zoo"})
