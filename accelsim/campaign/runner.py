"""Run a campaign: expand the spec, export the images it needs once, then run every
trial not yet in the store, serially, on local worker processes, or on a Dask cluster.

The main process is the only writer of the store: each finished trial is committed in
its own transaction, so killing any process loses at most the trials in flight.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import re
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from accelsim.campaign.spec import Spec, trial_key
from accelsim.campaign.store import Store
from accelsim.errors import UserError
from accelsim.fileio import check_output_dir, check_output_file


def image_cache_dir(store_path: Path) -> Path:
    return store_path.with_name(store_path.stem + ".images")


def image_keys(spec: Spec) -> dict[tuple[str, str], str]:
    """(model, scheme) -> SHA-256 of everything its image is exported from (checkpoint or
    state dict bytes, model card or model file, layout, export options, calibration data,
    format and package version; a user's ready image: its manifest and words): the key of
    the cached image and the ``export_sha256`` of each trial row."""
    import functools

    from accelsim.image.provenance import calibration_sha256
    from accelsim.nn.data import calibration_set

    # one hash of the calibration set (up to 2048 full-size inputs) for every source
    calibration = functools.cache(lambda: calibration_sha256(calibration_set(spec.data)))
    return {(model, scheme): source_key(src, scheme, spec.data, calibration)
            for (model, scheme), src in spec.checkpoints.items()}


def source_key(src, scheme: str, data, calibration) -> str:
    """The export key of one ModelSource (see image_keys); ``calibration()`` gives the
    SHA-256 of ``data``'s calibration set."""
    import hashlib

    from accelsim.fileio import sha256_file
    from accelsim.image.from_checkpoint import checkpoint_export_key
    from accelsim.image.provenance import export_key, seeded_export_key
    from accelsim.nn.checkpoint import checkpoint_paths

    if src.kind == "checkpoint":
        if data.is_default:   # the calibration the card's own data set gives
            return checkpoint_export_key(src.path, scheme, project=src.project)
        return checkpoint_export_key(src.path, scheme, project=src.project, data=data, calibration_sha=calibration())
    if src.kind == "image":
        d = Path(src.path)
        return hashlib.sha256((sha256_file(d / "manifest.yaml") + sha256_file(d / "image.bin")).encode()).hexdigest()
    if src.kind == "seeded":   # accelsim.nn.seeded prepares the weights before export
        return seeded_export_key(src.path, src.seed, scheme, calibration_sha=calibration(),
                                 options={"project": bool(src.project), "per_channel": True, "init": "data-dependent",
                                          "fit_layout": bool(src.project)})
    file, _, name = src.factory.rpartition(":")
    card = checkpoint_paths(src.path)[1]
    return export_key(src.path, file, scheme, calibration_sha=calibration(),
                      options={"project": bool(src.project), "per_channel": True, "factory": name,
                               "card_sha256": sha256_file(card) if card.is_file() else None})


def prepare_images(spec: Spec, cache: Path, keys: dict | None = None, *, progress: bool = False) -> dict[tuple[str, str], str]:
    """Export (once) the memory image of every (model, scheme); a user's ready image is
    used where it is. Returns their dirs.

    A cached image lives in a directory named by its content key and is reused only when
    it loads (every check of load_image) and its manifest records that same key: a
    checkpoint whose bytes changed, at the same path or not, gets a fresh image. If an
    export fails, a cache folder made here is removed again: a failed campaign leaves
    nothing behind."""
    import shutil

    from accelsim.image import load_image

    keys = image_keys(spec) if keys is None else keys
    made = not cache.exists()
    dirs = {}
    try:
        for (model, scheme), src in spec.checkpoints.items():
            key = keys[(model, scheme)]
            if src.kind == "image":
                dirs[(model, scheme)] = str(Path(src.path).resolve())
                continue
            d = cache / f"{model}-{scheme}-{key[:16]}"
            try:
                fresh = load_image(d).manifest.source.get("export_sha256") != key
            except UserError:
                fresh = True
            if fresh:
                from accelsim.progress import step
                with step(f"exporting {model} ({scheme}): calibration, quantization, packing", enabled=progress):
                    image = export_source(src, scheme, d, spec.data, key)
                if image.manifest.source["export_sha256"] != key:   # the checkpoint changed while we ran
                    raise UserError(f"checkpoint {src.path} changed during the campaign's export; run again")
            dirs[(model, scheme)] = str(d)
        if spec.engine == "cycle":   # a table without a MAC width an image needs: refused before any trial
            from accelsim.energy.model import check_table
            for d in dirs.values():
                check_table(spec.energy, load_image(d))
    except BaseException:
        if made:
            shutil.rmtree(cache, ignore_errors=True)
        raise
    return dirs


def export_source(src, scheme: str, out: Path, data, key: str):
    """Export a checkpoint or factory source at ``scheme``, calibrated on ``data``."""
    from accelsim.nn.source import load_source_model, source_activation_bits, source_bits
    from accelsim.image.from_checkpoint import export_checkpoint
    from accelsim.image.export import export_image
    from accelsim.nn.data import calibration_set

    if src.kind == "checkpoint":
        return export_checkpoint(src.path, scheme, out, force=True, project=src.project,
                                 data=None if data.is_default else data)
    calibration = calibration_set(data)
    model, _ = load_source_model(src, tuple(calibration.shape[1:]))
    if src.kind == "seeded":    # a random network predicts one class for every input (accelsim.nn.seeded)
        from accelsim.ecc import get_layout
        from accelsim.nn.seeded import data_dependent_init, fit_layout
        if src.project and get_layout(scheme).throttled:
            fit_layout(model, get_layout(scheme))
        data_dependent_init(model, calibration)
    return export_image(model, out, layout=scheme, input_shape=tuple(calibration.shape[1:]),
                        calibration=calibration, bits=source_bits(src), project=src.project, force=True,
                        activation_bits=source_activation_bits(src),
                        source=({"model": src.path, "seed": src.seed} if src.kind == "seeded" else
                                {"factory": src.factory, "checkpoint": src.path}) |
                        {"data": data.text, "export_sha256": key})


def check_layer_selection(spec: Spec, image_dirs: dict) -> None:
    """Every named layer selection must match a layer of every model (before anything is written)."""
    if spec.layers in ("all", "each"):
        return
    from accelsim.campaign.trial import word_ranges
    from accelsim.image import load_image
    for d in image_dirs.values():
        image = load_image(d)
        for selection in spec.layers:
            word_ranges(image, selection)


def layer_names(image_dirs: dict) -> dict[str, list[str]]:
    from accelsim.image import load_image
    out = {}
    for (model, _), d in image_dirs.items():
        out.setdefault(model, [layer.name for layer in load_image(d).layers])
    return out


def portable_path(path: str | Path, base_dir: Path | None) -> str:
    """``path`` as the report shows it: relative to the run's config folder, or to the
    accelsim source tree for the bundled models, else absolute and marked as outside."""
    p = Path(path).resolve()
    base = (base_dir or Path(".")).resolve()
    if p.is_relative_to(base):
        return os.path.relpath(p, base)
    tree = Path(__file__).resolve().parents[2]
    if p.is_relative_to(tree):
        return f"<accelsim>/{p.relative_to(tree)}"
    return f"{p} (outside the config's folder)"


def _model_files(src, base_dir: Path | None) -> dict:
    """What a (model, scheme)'s weights come from: its files, relative, with their sha256."""
    from accelsim.fileio import sha256_file
    from accelsim.nn.checkpoint import checkpoint_paths

    def entry(path) -> dict:
        path = Path(path)
        return {"path": portable_path(path, base_dir), "sha256": sha256_file(path) if path.is_file() else None}

    if src.kind == "checkpoint":
        weights, card = checkpoint_paths(src.path)
        return {"kind": "checkpoint", "weights": entry(weights), "model card": entry(card)}
    if src.kind == "image":
        return {"kind": "memory image", "image.bin": entry(Path(src.path) / "image.bin"),
                "manifest": entry(Path(src.path) / "manifest.yaml")}
    if src.kind == "seeded":   # no weight file: the network and the seed define the weights
        file, sep, name = src.path.rpartition(":")
        model = {"model file": entry(file), "factory": name} if sep and file.endswith(".py") else {"zoo model": src.path}
        return {"kind": "seeded (no weight file)", **model, "seed": src.seed}
    file, _, name = src.factory.rpartition(":")
    weights = Path(src.path) if src.path.endswith(".safetensors") else Path(src.path + ".safetensors")
    return {"kind": "model file + state dict", "model file": entry(file), "factory": name, "weights": entry(weights)}


def run_environment() -> dict:
    """When, where and with what the campaign ran: UTC date, host and CPU, library versions."""
    import datetime
    import platform
    from importlib import metadata

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {"python": platform.python_version()}
    for lib in ("numpy", "torch", "numba", "simpy", "scipy", "pydantic", "matplotlib"):
        try:
            versions[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            continue
    return {"run_date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
            "host": {"name": platform.node(), "cpu": cpu, "cores": os.cpu_count() or 0,
                     "system": f"{platform.system()} {platform.release()}"},
            "versions": versions}


def provenance(spec: Spec, base_dir: Path | None = None) -> dict:
    """What a reader needs to reproduce the campaign: the sweep, seeds, sample sizes, the
    BER curve, the accelerator and energy tables as resolved (not only their paths), the
    evaluation data with its content hash, the model files with their sha256 (paths
    relative to ``base_dir``, the spec's folder), the package version and the git commit
    (when any). Date, host and library versions: run_environment."""
    from accelsim import __version__
    from accelsim.hw.config import is_preset
    from accelsim.nn.data import evaluation_set, fingerprint

    data_sha = spec.data_sha256 or fingerprint(evaluation_set(spec.data, spec.samples))
    return {"name": spec.name, "seed": spec.seed, "models": spec.models, "schemes": spec.schemes,
            "voltages": spec.voltages, "bers": spec.bers, "fault_model": spec.fault_model, "chips": spec.chips,
            "repeats": spec.repeats, "samples": spec.samples, "layers": spec.layers, "engine": spec.engine,
            "policy": spec.policy, "v_low": spec.v_low(), "fault_map": spec.fault_map, "curve": spec.curve_dict,
            "curve_info": spec.curve.info(), "chip_models": [m.name for m in spec.chip_models],
            "accelerator": spec.accelerator and (spec.accelerator if is_preset(spec.accelerator)
                                                 else portable_path(spec.accelerator, base_dir)),
            "accelerator_config": spec.accelerator_config.flat(),
            "accelerator_sha256": spec.accelerator_config.digest,
            "energy_table": (portable_path(spec.energy_table, base_dir) if spec.energy_table else
                             "packaged 45 nm (accelsim/configs/energy.yaml)"),
            "energy_values": spec.energy.to_dict(), "energy_table_sha256": spec.energy.digest,
            "data_source": {"source": _portable_data(spec.data, base_dir), "inputs": spec.samples, "sha256": data_sha},
            "checkpoints": {f"{m}/{s}": _model_files(c, base_dir)
                            for (m, s), c in sorted(spec.checkpoints.items(), key=lambda kv: kv[0])},
            "accelsim_version": __version__, "git_commit": git_commit()}


def _portable_data(data, base_dir: Path | None) -> str:
    """The data spec's text with a folder or file path made relative (portable_path)."""
    kind, sep, where = data.text.partition(":")
    if not sep or kind == "synthetic":
        return data.text
    return f"{kind}:{portable_path(where, base_dir)}"


def git_commit() -> str | None:
    """The commit of the accelsim checkout that runs (None outside a git work tree), with
    '+dirty' when tracked files differ from it."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty else "")


_ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _init_worker(passes=(), ready=None):
    """A worker process's start: one BLAS/torch thread (workers, not threads, use the
    cores), then the fault-free pass of every image of ``passes`` (params, image_dir), kept
    in the process's cache for its trials; its pid goes to ``ready`` when done."""
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
    import torch
    torch.set_num_threads(1)
    from accelsim.campaign.trial import fault_free_pass
    try:
        for params, image_dir in passes:
            fault_free_pass(params, image_dir)
    except Exception:   # the first trial on that image meets the same error and reports it with its key
        pass
    finally:
        if ready is not None:
            ready.put(os.getpid())


def _ready() -> int:
    return os.getpid()


def _run(args):
    from accelsim.campaign.trial import run_trial
    params, image_dir, (accelerator, energy) = args
    return run_trial(params, image_dir, accelerator, energy)


def run_campaign(spec: Spec, store_path: str | Path, *, workers: int = 1, scheduler: str | None = None,
                 progress: bool = True, limit: int | None = None, label: str = "trials",
                 base_dir: str | Path | None = None) -> dict:
    """Run every pending trial; returns {"total", "skipped", "ran", "seconds"}. ``progress``:
    labelled progress of the export, the fault-free passes and the trials (``label``), as
    plain lines when the output is not a terminal (accelsim.progress). ``base_dir``: the
    spec's folder, against which the provenance shows paths."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UserError(f"workers = {workers!r} must be an integer >= 1")
    if not isinstance(store_path, (str, os.PathLike)) or not str(store_path):
        raise UserError(f"campaign store: expected a file path, got {store_path!r}"[:200])
    store_path = Path(store_path)
    # every input is checked before anything is written: the store (an existing one must be
    # ours and of this schema, a new one's directory writable), the image cache's place,
    # each checkpoint's tensors and the scheduler
    if store_path.exists() and not (store_path.is_file() and store_path.stat().st_size == 0):
        # a foreign, unreadable or old-schema file is refused before any work, read only
        Store.check_not_busy(store_path)
        Store(store_path, create=False, readonly=True, for_writing=True).close()
    else:
        check_output_file(store_path, "campaign store")
    check_output_dir(image_cache_dir(store_path), "image cache", force=True)
    _check_checkpoints(spec)
    # the store is taken now, before anything is exported: a second campaign started at the
    # same moment on the same path (new or not) is refused here, not after its own export
    claim = Store.claim(store_path)
    try:
        client = _connect(scheduler) if scheduler and not hasattr(scheduler, "submit") else scheduler
        try:
            return _run_campaign(spec, store_path, workers, client, progress, limit, label,
                                 Path(base_dir) if base_dir is not None else None, claim)
        finally:
            if client is not scheduler:
                client.close()
    finally:
        claim.release()


def _check_checkpoints(spec: Spec) -> None:
    """Every model loads (parse_spec checked them; a Spec made otherwise is checked here)."""
    from accelsim.nn.source import load_source_model

    for src in sorted({s for s in spec.checkpoints.values() if s.kind != "image"}, key=lambda s: s.key):
        load_source_model(src)


_ADDRESS = re.compile(r"^(?:(?:tcp|tls|inproc|ucx|ws|wss)://)?[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")


def _connect(address):
    """A Dask client for ``address`` (tcp://host:port); UserError if it is malformed or
    nothing answers there within a few seconds, before any store exists."""
    if not isinstance(address, str) or not _ADDRESS.match(address):
        raise UserError(f"Dask scheduler address {address!r} is not of the form tcp://host:port")
    from dask.distributed import Client
    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise UserError(f"cannot reach the Dask scheduler at {address!r} ({exc.__class__.__name__})") from None


def _run_campaign(spec: Spec, store_path: Path, workers: int, scheduler, progress: bool, limit: int | None,
                  label: str = "trials", base_dir: Path | None = None, claim=None) -> dict:
    from accelsim.progress import Bar, step

    with step("hashing the models and the calibration data", enabled=progress):
        keys = image_keys(spec)
    # absolute: Dask workers run in folders of their own (a relative --store must work there)
    image_dirs = prepare_images(spec, image_cache_dir(store_path.absolute()), keys, progress=progress)
    check_layer_selection(spec, image_dirs)
    # export_sha256 is part of the trial key: new checkpoint bytes are new trials
    trials = spec.trials(layer_names(image_dirs) if spec.layers == "each" else None, keys)
    if not trials:
        raise UserError("campaign spec: the sweep names no trials")
    store = Store(store_path)
    try:
        store.lock(claim)
    except UserError:
        store.close()
        raise
    # the rows this run writes name this run's provenance (the store keeps every run's);
    # meta 'spec' is the latest run's, for a reader of the whole store
    document = {**provenance(spec, base_dir), "data": spec.data.text, "metric": spec.metric}
    prov = store.add_provenance(document)
    # when, where and with which libraries: the latest run's, outside the rows' provenance
    # digest (the same sweep on another day or machine gives the same rows)
    store.set_meta("spec", {**document, **run_environment()})
    done = store.done_keys()
    pending = [(key, p) for key, p in ((trial_key(p), p) for p in trials) if key not in done]
    if limit is not None:
        pending = pending[:limit]
    t0 = time.perf_counter()
    machine = (spec.accelerator_config, spec.energy)   # read and validated once, by parse_spec
    jobs = [(key, params, image_dirs[(params.model, params.scheme)]) for key, params in pending]
    pool = None
    try:
        if workers == 1 and not scheduler:
            _fault_free_passes(jobs, progress)
        elif not scheduler and jobs:   # the workers' own fault-free passes, labelled, before the trials
            pool = _WorkerPool(workers, _unique_passes(jobs), min(workers, len(jobs)), progress)
        bar = Bar(label if not scheduler else f"{label} (each Dask worker first runs the fault-free passes)",
                  len(trials), len(trials) - len(pending), unit="trials", enabled=progress)
        try:
            execute = _executor(store, bar, scheduler, machine, prov, pool)
            if spec.sequential is None:
                execute(jobs)
            else:
                from accelsim.campaign.sequential import run_sequential
                jobs = run_sequential(spec, trials, jobs, store, execute)
        finally:
            bar.close()
    except BaseException:
        if pool is not None:
            pool.terminate()
        raise
    finally:
        if pool is not None:
            pool.shutdown()
        store.close()
    return {"total": len(trials), "skipped": len(trials) - len(pending), "ran": len(jobs),
            "seconds": time.perf_counter() - t0}


def _executor(store: Store, bar, scheduler, machine, prov: str, pool: "_WorkerPool | None" = None):
    """A function that runs a list of jobs (key, params, image_dir) and writes each result
    to the store as it finishes: serially, on ``pool`` (worker processes kept for every
    call; the caller shuts it down), or on a Dask cluster."""
    if scheduler:
        return lambda jobs: _run_dask(jobs, store, bar, scheduler, machine, prov)
    if pool is None:   # one worker, or no job to run
        def serial(jobs):
            for key, params, image_dir in jobs:
                store.write(key, params, _run((params, image_dir, machine)), provenance=prov)
                bar.advance()
        return serial

    def parallel(jobs):
        futures = {pool.executor.submit(_run, (params, d, machine)): (key, params) for key, params, d in jobs}
        try:
            for fut in as_completed(futures):
                key, params = futures[fut]
                store.write(key, params, fut.result(), provenance=prov)
                bar.advance()
        except BaseException:
            # a failed trial, Ctrl-C or SIGTERM: drop the queue instead of computing it
            # unrecorded, and end the trials in flight (a SIGTERM reaches this process
            # only, not its workers)
            pool.terminate()
            raise

    return parallel


class _WorkerPool:
    """``workers`` spawned worker processes (one thread each) that have run the fault-free
    passes of the campaign's images before its first trial, under a progress label of
    their own (a ResNet-18 pass takes tens of seconds: the log says what the wait is)."""

    def __init__(self, workers: int, passes: list, started: int, progress: bool):
        from accelsim.progress import step

        ctx = multiprocessing.get_context("spawn")
        ready = ctx.Queue()
        # the pool's workers are the multiprocessing children started from here on (the
        # executor has no public list of its processes; terminate() ends these)
        self._others = {child.pid for child in multiprocessing.active_children()}
        saved = {k: os.environ.get(k) for k in _ONE_THREAD}
        os.environ.update(_ONE_THREAD)   # inherited by the workers, spawned by the submits below
        try:
            self.executor = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                                initargs=(passes, ready))
            # the executor spawns a worker per submit while none is idle: these start ``started``
            warm = [self.executor.submit(_ready) for _ in range(started)]
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        inputs = sorted({params.samples for params, _ in passes})
        label = (f"fault-free passes in {started} worker processes: {len(passes)} image"
                 f"{'s' if len(passes) != 1 else ''}, {'/'.join(map(str, inputs))} inputs, in each worker")
        try:
            with step(label, enabled=progress):
                done = 0
                while done < started:
                    try:
                        ready.get(timeout=0.5)
                        done += 1
                    except queue.Empty:
                        if any(f.done() and f.exception() is not None for f in warm):
                            break   # a worker died: the trials' futures say how
        except BaseException:
            self.terminate()
            self.shutdown()
            raise

    def terminate(self) -> None:
        """Drop the queued trials and end the worker processes at once."""
        processes = [child for child in multiprocessing.active_children() if child.pid not in self._others]
        self.executor.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            proc.terminate()

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def _unique_passes(jobs) -> list:
    """(params, image_dir) of one job per image, input count and data: the fault-free passes."""
    seen, passes = set(), []
    for _, params, image_dir in jobs:
        what = (image_dir, params.samples, json.dumps(params.data, sort_keys=True))
        if what not in seen:
            seen.add(what)
            passes.append((params, image_dir))
    return passes


def _fault_free_passes(jobs, progress: bool) -> None:
    """The fault-free pass of every image the pending trials use, once each, labelled
    (a ResNet-18 pass over 64 inputs takes tens of seconds: it is not hidden in trial 1)."""
    from accelsim.campaign.trial import fault_free_pass
    from accelsim.progress import step

    for params, image_dir in _unique_passes(jobs):
        with step(f"fault-free pass: {params.model} ({params.scheme}), {params.samples} inputs", enabled=progress):
            fault_free_pass(params, image_dir)


def _run_dask(jobs, store: Store, bar, client, machine, prov: str) -> None:
    from dask.distributed import as_completed as dask_completed

    futures = {}
    for key, params, d in jobs:
        futures[client.submit(_run, (params, d, machine), key=f"trial-{key}", pure=False)] = (key, params)
    try:
        for fut in dask_completed(list(futures)):
            key, params = futures[fut]
            store.write(key, params, fut.result(), provenance=prov)
            bar.advance()
    except BaseException:
        client.cancel(list(futures))
        raise
