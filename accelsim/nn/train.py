"""Training on the digits: float pre-training (or fine-tuning from a checkpoint), then
(optionally) pruning, QAT, WOT, weight clipping and random bit error training, ending in a
checkpoint and a model card.

Deterministic: a run is a function of its arguments and seed (one intra-op thread,
seeded initialisation, seeded shuffling, seeded bit errors).
"""

from __future__ import annotations

import contextlib
import shlex
import sys
import time
from dataclasses import asdict, dataclass

import torch
from torch import nn

from accelsim.ecc import get_layout
from accelsim.errors import UserError
from accelsim.nn.data import DataSpec, training_split
from accelsim.nn.checkpoint import checkpoint_paths, load_checkpoint, load_state, read_state
from accelsim.nn.modelref import build_any, is_factory_ref, parse_factory, probe
from accelsim.nn.zoo import model_info
from accelsim.quant import prune as pruning
from accelsim.quant import qat


@dataclass
class TrainConfig:
    model: str = "lenet5"
    bits: int | None = None          # None: float32 weights
    layout: str | None = None        # an in-place layout: WOT for its throttled slots
    epochs: int = 40                 # float pre-training epochs
    qat_epochs: int = 20             # fine-tuning epochs with fake quantization
    lr: float = 3e-3
    batch_size: int = 64
    seed: int = 0
    clip: float | None = None        # weight clipping bound w_max
    randbet: float = 0.0             # random bit error rate p during QAT
    prune: float = 0.0               # fraction pruned
    structured: bool = False         # per-output-channel pruning
    init: str | None = None          # --from: start from this checkpoint / safetensors state dict
    act_bits: int | None = 8         # QAT: ReLU/ReLU6 outputs fake-quantized to this many unsigned bits
    data: DataSpec = DataSpec()      # the training data (accelsim.nn.data spec)

    def validate(self) -> None:
        if not is_factory_ref(self.model):
            shape, _, data = model_info(self.model)
            if data != "digits" and self.data.is_default:
                raise UserError(f"model {self.model!r} is a full-size {data} topology: give its --data")
        if self.bits is not None and not 1 <= self.bits <= 8:
            raise UserError(f"bits = {self.bits}: must be 1 to 8 (or omitted for float32)")
        if self.layout:
            layout = get_layout(self.layout)
            if self.bits is None:
                raise UserError(f"layout {self.layout} needs --bits {layout.weight_bits}")
            if layout.weight_bits != self.bits:
                raise UserError(f"layout {self.layout} holds {layout.weight_bits}-bit weights, not --bits {self.bits}")
        if not 0 <= self.randbet < 0.5:
            raise UserError(f"randbet = {self.randbet}: must be in [0, 0.5)")
        if self.randbet and self.bits is None:
            raise UserError("random bit error training needs --bits")
        if self.clip is not None and self.clip <= 0:
            raise UserError(f"clip = {self.clip}: must be > 0")
        if self.act_bits is not None and not 2 <= self.act_bits <= 8:
            raise UserError(f"activation bits = {self.act_bits}: must be 2 to 8")
        if self.act_bits is not None and self.act_bits != 8 and self.bits is None:
            raise UserError(f"--activation-bits {self.act_bits} needs --bits (activations are quantized in QAT)")
        if self.epochs < 0 or self.qat_epochs < 0:
            raise UserError("epochs must be >= 0")


@contextlib.contextmanager
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    was = model.training
    model.eval()
    pred = torch.cat([model(x[i:i + 512]).argmax(1) for i in range(0, len(x), 512)])
    model.train(was)
    return float((pred == y).float().mean())


def _epochs(model, data, epochs, cfg, gen, after_step, report, label):
    """Train ``epochs`` epochs; after each, ``report`` (if given) receives one line: the
    mean training loss, the training accuracy over the epoch's batches (running, as the
    weights moved), the held-out accuracy and the epoch's time."""
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(epochs, 1))
    loss_fn = nn.CrossEntropyLoss()
    n = len(data.x_train)
    for epoch in range(epochs):
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=gen)
        loss_sum, correct = 0.0, 0
        for i in range(0, n, cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            opt.zero_grad()
            out = model(data.x_train[idx])
            loss = loss_fn(out, data.y_train[idx])
            loss.backward()
            opt.step()
            after_step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((out.detach().argmax(1) == data.y_train[idx]).sum())
        sched.step()
        if report is not None:
            held_out = accuracy(model, data.x_test, data.y_test)
            report(f"{label} epoch {epoch + 1}/{epochs}: loss {loss_sum / n:.4f}, train accuracy "
                   f"{100 * correct / n:.2f} %, held-out accuracy {100 * held_out:.2f} %, "
                   f"{time.perf_counter() - t0:.1f} s")
    model.eval()


def _print_line(text: str) -> None:
    print(text, flush=True)


def check_exportable(model: nn.Module, input_shape, what: str) -> None:
    """Trace the network as export will (accelsim.image.graph.capture): an operation the
    exporter refuses (e.g. torch.sigmoid) is reported before the first epoch, not after
    the training."""
    from accelsim.image.graph import capture

    was = model.training
    model.eval()
    try:
        capture(model, input_shape)
    except UserError as exc:
        raise UserError(f"{what}: cannot be exported after training: {exc}") from None
    finally:
        model.train(was)


def start_model(cfg: TrainConfig, input_shape=None) -> nn.Module:
    """The network training starts from: seeded, or the weights of ``cfg.init`` (a
    checkpoint with its card, or a bare safetensors state dict such as a converted
    torchvision checkpoint, loaded into ``cfg.model`` with its key names unchanged)."""
    if cfg.init is None:
        return build_any(cfg.model, seed=cfg.seed, input_shape=input_shape)
    weights, card_path = checkpoint_paths(cfg.init)
    if card_path.exists():
        # the card's model file runs only when it is the one --model names
        named = [parse_factory(cfg.model, ".").file] if is_factory_ref(cfg.model) else []
        model, card = load_checkpoint(cfg.init, trust=named, hint=f"give --model {card_model_hint(card_path)}")
        if _model_identity(card["model"], card_path.parent) != _model_identity(cfg.model, "."):
            raise UserError(f"--from {cfg.init}: a {card['model']} checkpoint, not {cfg.model}")
        return model
    return load_state(build_any(cfg.model, seed=cfg.seed, input_shape=input_shape), read_state(weights),
                      str(weights), cfg.model)


def card_model_hint(card_path) -> str:
    """The card's model as the user would name it on the command line."""
    from accelsim.nn.checkpoint import load_card
    return load_card(card_path).model


def _model_identity(model: str, base_dir) -> str:
    """A zoo name, or a model file's absolute path and factory (cards name it relatively)."""
    return parse_factory(model, base_dir).text if is_factory_ref(model) else model


def train(cfg: TrainConfig, *, show_progress: bool = True) -> tuple[nn.Module, dict]:
    """Train per ``cfg``; returns the model (quantized weights baked in) and its card.
    ``show_progress``: one plain line per epoch on stdout (a terminal and a pipe alike)."""
    cfg.validate()
    data = training_split(cfg.data)
    layout = get_layout(cfg.layout) if cfg.layout else None
    t0 = time.perf_counter()
    progress = _print_line if show_progress else None
    with _one_thread():
        torch.manual_seed(cfg.seed)
        gen = torch.Generator().manual_seed(cfg.seed)
        model = start_model(cfg, data.input_shape)
        classes = probe(model, data.input_shape, repr(cfg.model))
        if data.num_classes > classes:
            raise UserError(f"data {cfg.data.text}: label {data.num_classes - 1} is out of range for model "
                            f"{cfg.model!r} ({classes} classes)")
        check_exportable(model, data.input_shape, f"model {cfg.model!r}")
        clip = (lambda: qat.clip_weights(model, cfg.clip)) if cfg.clip else (lambda: None)
        _epochs(model, data, cfg.epochs, cfg, gen, clip, progress, f"{cfg.model} fp32")
        fp32_acc = accuracy(model, data.x_test, data.y_test)
        masks = pruning.magnitude_masks(model, cfg.prune, structured=cfg.structured) if cfg.prune else {}
        pruning.apply_masks(model, masks)
        card_extra: dict = {"fp32_accuracy": round(fp32_acc, 4)}
        if cfg.bits is not None:
            if layout is not None:
                out = qat.count_out_of_layout(model, cfg.bits, layout)
                total = sum(m.weight.numel() for _, m in qat.weight_layers(model))
                card_extra["wot_out_of_range_before"] = out
                card_extra["wot_fraction_out_of_range_before"] = round(out / total, 5)
            if cfg.act_bits:   # functional ReLUs too: the integer path quantizes every one of them
                model = qat.modular_activations(model)
            handle = qat.attach_qat(model, cfg.bits, layout=layout, act_bits=cfg.act_bits,
                                    randbet_p=cfg.randbet, seed=cfg.seed)

            def after_step():
                clip()
                if masks:
                    pruning.apply_masks(model, masks)
                if layout is not None:
                    qat.wot_clamp(model, cfg.bits, layout)

            _epochs(model, data, cfg.qat_epochs, cfg, gen, after_step, progress,
                    f"{cfg.model} int{cfg.bits} QAT" + (f" WOT {cfg.layout}" if layout else ""))
            if cfg.act_bits:   # with the activations still fake-quantized, as the integer path computes
                card_extra["accuracy_quantized_activations"] = round(accuracy(model, data.x_test, data.y_test), 4)
            handle.detach()
            proj = qat.project_weights(model, cfg.bits, layout)
            card_extra["weights"] = proj["weights"]
            card_extra["wot_moved_at_projection"] = proj["moved"]
        elif masks:
            _epochs(model, data, cfg.qat_epochs, cfg, gen, lambda: (clip(), pruning.apply_masks(model, masks)),
                    progress, f"{cfg.model} fine-tune pruned")
    acc = accuracy(model, data.x_test, data.y_test)
    card = {
        "model": cfg.model,
        "dataset": cfg.data.text,
        "num_classes": classes,
        "input_shape": list(data.input_shape),
        "bits": cfg.bits if cfg.bits is not None else 32,
        "scheme": "fp32" if cfg.bits is None else f"int{cfg.bits} symmetric per-channel",
        "layout": cfg.layout,
        # export quantizes unsigned activations to this width (8 unless QAT trained fewer)
        "activation_bits": cfg.act_bits if cfg.bits is not None and cfg.act_bits else 8,
        "accuracy": round(acc, 4),
        "sparsity": round(pruning.sparsity(model), 4),
        "seed": cfg.seed,
        "from": cfg.init,
        "train_seconds": round(time.perf_counter() - t0, 1),
        "config": {**asdict(cfg), "data": cfg.data.to_dict()},
        **card_extra,
    }
    return model, card


def command_line(argv: list[str] | None = None) -> str:
    return "accelsim " + shlex.join(sys.argv[1:] if argv is None else argv)
