"""Atomic file writes: nothing a user already has is lost or left half-written.

Every file accelsim writes goes to a temporary name in the same directory first and is
renamed into place (rename is atomic on POSIX within one file system).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from accelsim.errors import UserError


def current_umask() -> int:
    """The process's umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _os_error(exc: OSError, path) -> UserError:
    """An OS error on an output path as one user line naming the path."""
    where = exc.filename if exc.filename is not None else path
    return UserError(f"cannot write {str(where)!r}: {exc.strerror or exc}")


def check_output_file(path, what: str) -> Path:
    """Refuse, before anything is created, an output file path that cannot be written:
    not a path, an existing directory, a parent that is a file, a read-only directory."""
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise UserError(f"{what}: expected a file path, got {path!r}"[:200])
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{what} {str(path)!r} is a directory")
    if os.path.lexists(path) and not path.is_file():
        # a device (/dev/null, /dev/full), a FIFO, a socket or a dangling link: replacing it by
        # a regular file through rename would destroy it (as root, the system's /dev/null)
        raise UserError(f"{what} {str(path)!r} exists and is not a regular file")
    _check_parent(path, what)
    return path


def check_output_dir(path, what: str, *, force: bool = False) -> Path:
    """Refuse, before anything is created, an output directory that cannot be made:
    an existing file, an existing directory without ``force``, a parent that is a file,
    a read-only directory."""
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise UserError(f"{what}: expected a directory path, got {path!r}"[:200])
    path = Path(path)
    _recover(path)
    if os.path.lexists(path) and not path.is_dir():
        raise UserError(f"{what} {str(path)!r} exists and is not a directory")
    if path.exists() and not force:
        raise UserError(f"output directory {str(path)!r} exists; pass --force to replace it")
    _check_parent(path, what)
    return path


def _check_parent(path: Path, what: str) -> None:
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"{what} {str(path)!r}: {str(parent)!r} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{what} {str(path)!r}: directory {str(parent)!r} is not writable")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename; an OS error
    (disk full, read-only directory, ...) is one UserError naming the path, and the
    old file, if any, is left as it was. The file gets the permissions a plain open()
    would give (0666 less the umask), not mkstemp's 0600."""
    path = check_output_file(path, "output file")
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, 0o666 & ~current_umask())   # as open() would make it, not mkstemp's 0600
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _os_error(exc, path) from None
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # another user's live process
        return True
    return True


def _leftovers(path: Path, kind: str) -> list[tuple[Path, int]]:
    """(leftover, pid) of :func:`atomic_directory` runs for ``path`` whose process is gone:
    ``.NAME.PID.*.tmp`` (a half-built directory) or ``.NAME.old.PID`` (the replaced one,
    moved aside before the new one took its place)."""
    out = []
    try:
        entries = list(path.parent.iterdir()) if path.parent.is_dir() else []
    except OSError:
        return out
    prefix = f".{path.name}."
    for p in entries:
        rest = p.name[len(prefix):] if p.name.startswith(prefix) else None
        if rest is None:
            continue
        if kind == "tmp" and rest.endswith(".tmp"):
            pid = rest.split(".", 1)[0]
        elif kind == "old" and rest.startswith("old."):
            pid = rest[4:]
        else:
            continue
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            out.append((p, int(pid)))
    return out


def _recover(path: Path) -> None:
    """Clean up after an :func:`atomic_directory` run that was killed: its half-built
    temporary directories are removed, and a replaced directory moved aside is put back if
    the kill came between the two renames (the output path is empty), else removed."""
    for tmp, _ in _leftovers(path, "tmp"):
        shutil.rmtree(tmp, ignore_errors=True)
    for old, _ in _leftovers(path, "old"):
        if not os.path.lexists(path):
            with contextlib.suppress(OSError):
                os.replace(old, path)
                continue
        shutil.rmtree(old, ignore_errors=True)


def write_files(files: dict) -> None:
    """Write several output files all-or-nothing: each is staged in a temporary file next
    to its destination first (a full disk or a read-only directory fails here, before
    any destination changed), then every one is renamed into place."""
    staged: list[tuple[str, Path]] = []
    made: list[Path] = []
    try:
        for path, data in files.items():
            path = check_output_file(path, "output file")
            parent = path.parent
            missing = []
            while not parent.exists():
                missing.append(parent)
                parent = parent.parent
            path.parent.mkdir(parents=True, exist_ok=True)
            made.extend(reversed(missing))
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            staged.append((tmp, path))
            os.fchmod(fd, 0o666 & ~current_umask())
            with os.fdopen(fd, "wb") as f:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
                f.flush()
                os.fsync(f.fileno())
    except BaseException as exc:
        for tmp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        for d in reversed(made):
            with contextlib.suppress(OSError):
                d.rmdir()
        if isinstance(exc, OSError):
            raise _os_error(exc, staged[-1][1] if staged else "output") from None
        raise
    for tmp, path in staged:
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise _os_error(exc, path) from None


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, *, force: bool = False):
    """Build a directory under a temporary name and move it into place on success.

    Yields the temporary directory (a ``Path``). An existing ``path`` is refused unless
    ``force``; with ``force`` it is replaced only once the new one is complete. An OS
    error is one UserError naming the path; the old directory is left as it was. The
    directory gets the permissions mkdir would give under the user's umask. Names carry
    the process id, so the next run removes what a killed run left (:func:`_recover`).
    """
    path = check_output_dir(path, "output directory", force=force)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent))
        tmp.chmod(0o777 & ~current_umask())   # as mkdir would make it, not mkdtemp's 0700
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old.{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)   # killed before this line: the next run puts `old` back
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise _os_error(exc, path) from None
        raise


def read_text_capped(path, what: str, max_bytes: int) -> str:
    """A small text file read with a size cap (a device or a pipe is read up to the cap,
    never until memory runs out); UserError names the file."""
    try:
        with open(path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as exc:
        raise UserError(f"{what} {str(path)!r}: cannot read ({exc.strerror or exc.__class__.__name__})") from None
    if len(raw) > max_bytes:
        raise UserError(f"{what} {path}: more than the limit of {max_bytes:,} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{what} {path}: not UTF-8 text") from None


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_json(value) -> str:
    """SHA-256 of ``value``'s canonical JSON (sorted keys, no spaces): the content digest of
    a validated configuration, independent of the file's layout, comments and key order."""
    import json
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# Limits of a user's YAML document: a config is a few KiB, a ResNet-18 manifest well under
# 1 MiB; an alias bomb or a runaway nesting is refused before it is built.
YAML_MAX_BYTES = 32 * 1024 * 1024
YAML_MAX_DEPTH = 32
_KEY_TAGS = ("tag:yaml.org,2002:str", "tag:yaml.org,2002:int")


def _check_yaml_tree(root, where: str) -> None:
    """Refuse aliases (a node reached twice), nesting deeper than YAML_MAX_DEPTH and keys
    that are not strings (or integers, as in an energy table's ``mac_pj``)."""
    import yaml

    seen: set[int] = set()
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            raise UserError(f"{where}: line {node.start_mark.line + 1}: YAML aliases (*name) are not accepted")
        seen.add(id(node))
        if depth > YAML_MAX_DEPTH:
            raise UserError(f"{where}: line {node.start_mark.line + 1}: nested more than {YAML_MAX_DEPTH} levels deep")
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag not in _KEY_TAGS:
                    shown = repr(key.value) if isinstance(key, yaml.ScalarNode) else \
                        ("a list" if isinstance(key, yaml.SequenceNode) else "a mapping")
                    raise UserError(f"{where}: line {key.start_mark.line + 1}: key {shown} is not a string")
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, depth + 1) for item in node.value)


def parse_yaml(text: str | bytes, where: str):
    """Parse one YAML document safely (no aliases, no deep nesting, string keys, no
    Python tags); UserError names ``where`` and the line."""
    import yaml

    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)   # libyaml: ~20x faster on manifests
    if len(text) > YAML_MAX_BYTES:
        raise UserError(f"{where}: {len(text):,} bytes, more than the limit of {YAML_MAX_BYTES:,}")
    try:
        loader = loader_cls(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_yaml_tree(node, where)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise UserError(f"{where}: not valid YAML{line} ({exc.__class__.__name__})") from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise UserError(f"{where}: not valid YAML ({exc.__class__.__name__})") from None


def read_yaml(path: str | os.PathLike, what: str, *, mapping: bool = True):
    """A user's YAML file, parsed safely (:func:`parse_yaml`); UserError names the file
    when it is missing, too large, not YAML, or (with ``mapping``) not a mapping."""
    if not isinstance(path, (str, os.PathLike)):
        raise UserError(f"{what}: expected a file path, got {type(path).__name__} {path!r}"[:200])
    path = Path(path)
    where = f"{what} {path}"
    try:
        if not path.is_file():
            raise UserError(f"{what} {str(path)!r} does not exist" if not path.exists()
                            else f"{what} {str(path)!r} is not a file")
        size = path.stat().st_size
        if size > YAML_MAX_BYTES:
            raise UserError(f"{where}: {size:,} bytes, more than the limit of {YAML_MAX_BYTES:,}")
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{what} {str(path)!r}: cannot read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{where}: not valid YAML (not UTF-8 text)") from None
    data = parse_yaml(text, where)
    if mapping and not isinstance(data, dict):
        raise UserError(f"{where}: expected a mapping")
    return data
