"""Networks, data and training: the model zoo, digits/MNIST/CIFAR-10/folder loaders,
QAT/WOT/clipping/RandBET/pruning training and safetensors checkpoints with model cards."""

from accelsim.nn.checkpoint import load_checkpoint, save_checkpoint
from accelsim.nn.data import load_digits_split
from accelsim.nn.zoo import build_model, list_models, model_info

__all__ = ["build_model", "list_models", "load_checkpoint", "load_digits_split", "model_info",
           "save_checkpoint"]
