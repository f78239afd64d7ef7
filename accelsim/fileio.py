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


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename; the file gets the
    permissions a plain open() would give (0666 less the umask), not mkstemp's 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, *, force: bool = False):
    """Build a directory under a temporary name and move it into place on success.

    Yields the temporary directory (a ``Path``). An existing ``path`` is refused unless
    ``force``; with ``force`` it is replaced only once the new one is complete. The
    directory gets the permissions mkdir would give under the user's umask.
    """
    path = Path(path)
    if path.exists() and not force:
        raise UserError(f"output directory {str(path)!r} exists; pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        tmp.chmod(0o777 & ~current_umask())   # as mkdir would make it, not mkdtemp's 0700
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old.{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_yaml(path: str | os.PathLike, what: str, *, mapping: bool = True):
    """A user's YAML file, parsed safely; UserError names the file when it is missing,
    not YAML, or (with ``mapping``) not a mapping."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"{what} {path}: not valid YAML ({exc.__class__.__name__})") from None
    if mapping and not isinstance(data, dict):
        raise UserError(f"{what} {path}: expected a mapping")
    return data
