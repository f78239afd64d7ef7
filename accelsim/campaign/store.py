"""The campaign store: one SQLite file, one row per finished trial.

A trial is keyed by the SHA-256 of its full parameter set and written in one
transaction when it ends, so an interrupted campaign (Ctrl-C, a killed process) resumes
by skipping the keys already present: nothing is lost and nothing is counted twice.
Schema in docs/campaigns.md.
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING

from urllib.parse import quote

from accelsim.errors import UserError
from accelsim.fileio import check_output_file

if TYPE_CHECKING:
    from accelsim.campaign.params import TrialParams

SCHEMA = "accelsim-campaign"
# 2: column export_sha256 (what the trial's image was made from); 3: per-component energy
# columns and the per-input correctness mask; 4: SDC rates sdc_top1, sdc_top5; 5: trial keys
# hash the content of every file a trial is made from (accelsim.campaign.params), and each
# row names its run's provenance (table provenance, column provenance_sha256); 6: accumulator energy
SCHEMA_VERSION = 6
READABLE_VERSIONS = (1, 2, 3, 4, 5, 6)   # older stores are read (missing columns None), never written to
UPGRADABLE_VERSIONS = (5,)      # a version-5 store gains the accumulator energy column (NULL for its trials)
SDC_COLUMNS = ("sdc_top1", "sdc_top5")
PARAM_COLUMNS = ("campaign", "model", "scheme", "checkpoint", "export_sha256", "fault_model", "point", "vdd",
                 "ber", "chip", "repeat", "layers", "samples", "engine", "policy", "seed")
# the energy model's components (accelsim.energy.COMPONENTS), one column each: pJ per inference
ENERGY_COLUMNS = tuple(f"energy_{c}_pj" for c in ("sram_dynamic", "sram_leakage", "mac", "registers",
                                                  "accumulators", "buffers", "ecc", "dram"))
V6_COLUMNS = ("energy_accumulators_pj",)
RESULT_COLUMNS = ("accuracy", "baseline_accuracy", *SDC_COLUMNS, "injected_bits", "residual_bits", "data_bits", "words",
                  "corrected", "detected", "miscorrected", "undetected", "energy_pj", *ENERGY_COLUMNS, "cycles",
                  "correct", "seconds", "provenance_sha256")
_TYPES = {"vdd": "REAL", "ber": "REAL", "chip": "INTEGER", "repeat": "INTEGER", "samples": "INTEGER",
          "seed": "INTEGER", "accuracy": "REAL", "baseline_accuracy": "REAL", **dict.fromkeys(SDC_COLUMNS, "REAL"), "energy_pj": "REAL",
          **dict.fromkeys(ENERGY_COLUMNS, "REAL"), "cycles": "INTEGER", "correct": "TEXT", "seconds": "REAL",
          "provenance_sha256": "TEXT"}


_HEX = re.compile(r"(?:[0-9a-f]{2})*")
# what a row's result columns may hold: rates are shares of inputs, counts are counts
RATE_COLUMNS = ("accuracy", "baseline_accuracy", *SDC_COLUMNS)
COUNT_COLUMNS = ("injected_bits", "residual_bits", "data_bits", "words", "corrected", "detected", "miscorrected",
                 "undetected", "cycles", "chip", "repeat", "samples")


def trials_in(path: str | Path) -> int:
    """Trials committed to the store at ``path`` so far, read while another process may be
    writing it (read only, never waiting); 0 while it is missing or not yet a store."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    except sqlite3.Error:
        return 0


def _col(name: str) -> str:
    return f'"{name}" {_TYPES.get(name, "INTEGER" if name in RESULT_COLUMNS else "TEXT")}'


class Store:
    """readonly: open an existing store only to read it (a version-1 store is accepted:
    its rows have export_sha256 None); otherwise the store must be of SCHEMA_VERSION."""

    def __init__(self, path: str | Path, *, create: bool = True, readonly: bool = False, for_writing: bool = False):
        """for_writing (with readonly): open read only, but refuse what a writer would refuse."""
        self.path = Path(path)
        self.readonly = readonly
        self._for_writing = for_writing
        self.version = SCHEMA_VERSION
        self._lock_file = None
        existed = self.path.exists()
        if not existed and (not create or readonly):
            raise UserError(f"campaign store {str(self.path)!r} does not exist")
        if existed and not self.path.is_file():
            raise UserError(f"campaign store {str(self.path)!r} is a directory" if self.path.is_dir()
                            else f"campaign store {str(self.path)!r} is not a regular file")
        if existed and readonly and self.path.stat().st_size == 0:
            raise UserError(f"campaign store {str(self.path)!r} is empty, not a campaign store")
        if not existed:
            check_output_file(self.path, "campaign store")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:   # made here, not by SQLite (which gives 0644 whatever the umask): 0666 less the umask
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                pass
            except OSError as exc:
                raise UserError(f"campaign store {str(self.path)!r}: cannot create ({exc.strerror})") from None
        try:
            try:
                self.conn = self._connect()
                tables = self._tables()
            except sqlite3.OperationalError as exc:
                if not (readonly and for_writing and "readonly" in str(exc).lower()):
                    raise
                # a campaign killed mid-write left a journal that only a writer may recover;
                # the writer about to use the store does exactly that, so the probe may too
                self.readonly = False
                self.conn = self._connect()
                tables = self._tables()
        except sqlite3.DatabaseError as exc:
            raise UserError(f"campaign store {str(self.path)!r} is not a readable SQLite file ({exc})") from None
        except sqlite3.Error as exc:   # OperationalError: cannot open (permissions, path)
            raise UserError(f"campaign store {str(self.path)!r}: cannot open ({exc})") from None
        if existed and self.path.stat().st_size:
            self._integrity()
        if existed and tables:
            self._check(tables)
        elif existed and self.path.stat().st_size and not tables and self.readonly and not for_writing:
            # an SQLite file without tables (a campaign killed while creating its store): a
            # writer takes it as new, a reader has nothing to read
            raise UserError(f"campaign store {str(self.path)!r} is not an accelsim campaign store")
        if not self.readonly:
            # WAL (set only on our own store, before its tables exist if it is new): a commit
            # survives the process being killed, without a full sync per trial
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        if not tables and not self.readonly:
            self._create()

    def _integrity(self) -> None:
        """SQLite's quick_check (every page and index readable and consistent): a store with
        garbage written into it is refused in one line, never extended or half-reported."""
        try:
            problems = [r[0] for r in self.conn.execute("PRAGMA quick_check(3)")]
        except sqlite3.DatabaseError as exc:
            problems = [str(exc)]
        if problems != ["ok"]:
            self.conn.close()
            raise UserError(f"campaign store {str(self.path)!r} is damaged (SQLite integrity check: "
                            f"{'; '.join(map(str, problems))[:200]}); restore it from a copy or start a new store")

    def _tables(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}

    def _connect(self) -> sqlite3.Connection:
        if not self.readonly:
            return sqlite3.connect(self.path, timeout=30)
        # read only (SQLite URI mode=ro): nothing is ever written into the file. Without a
        # -wal file no writer is active, and immutable=1 also keeps SQLite from creating
        # the -wal/-shm side files next to a store it only reads.
        wal = any(self.path.with_name(self.path.name + side).exists() for side in ("-wal", "-journal"))
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro" + ("" if wal else "&immutable=1")
        return sqlite3.connect(uri, uri=True, timeout=30)

    @staticmethod
    def check_not_busy(path: str | Path) -> None:
        """Refuse, before any export, a store another campaign holds (its :meth:`lock`);
        the lock is only probed here and taken for good by :meth:`lock`."""
        try:
            _lock_exclusive(path).close()   # closing the file drops the probe's lock
        except OSError:
            return   # missing or unreadable: the checks that follow name it

    @staticmethod
    def claim(path: str | Path) -> "StoreClaim":
        """Take the store at ``path`` for this process's campaign before any work (export,
        fault-free passes): an exclusive flock on the store's own file, made empty here if it
        is new (a writer takes an empty file as new), so that a second campaign started at the
        same time on the same path, new or not, is refused before it exports anything. Hand
        the claim to :meth:`lock`; :meth:`StoreClaim.release` drops it (and the empty file it
        made) if the campaign stops before that."""
        path = Path(path)
        created = False
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:   # 0666 less the umask, as a store made by __init__
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
                created = True
            except FileExistsError:   # made by a campaign started at the same moment: the flock decides
                pass
            except OSError as exc:
                raise UserError(f"campaign store {str(path)!r}: cannot create ({exc.strerror})") from None
        return StoreClaim(path, _lock_exclusive(path), created)

    def lock(self, claim: "StoreClaim | None" = None) -> None:
        """Take the store for this process's campaign: a second campaign writing the same
        store at the same time is refused (flock; released when the store is closed or the
        process dies, so a killed campaign never leaves a stale lock). ``claim``: the lock
        :meth:`claim` took before the campaign's export, kept from now on by this store."""
        if claim is not None:
            self._lock_file, claim.file = claim.file, None
            return
        self._lock_file = _lock_exclusive(self.path)

    def _check(self, tables: set[str]) -> None:
        if "meta" not in tables or "trials" not in tables:
            raise UserError(f"campaign store {str(self.path)!r} is a foreign SQLite file (no accelsim tables)")
        meta = dict(self.conn.execute("SELECT key, value FROM meta"))
        if meta.get("schema") != SCHEMA:
            raise UserError(f"campaign store {str(self.path)!r} is a foreign SQLite file")
        try:
            self.version = int(meta.get("schema_version", -1))
        except (TypeError, ValueError):   # NULL or text
            self.version = -1
        if self.version == SCHEMA_VERSION or (self.readonly and not self._for_writing
                                              and self.version in READABLE_VERSIONS):
            self._check_columns()
            return
        if self.version in UPGRADABLE_VERSIONS:
            if not self.readonly:   # a writer extends it; a read-only check (for_writing) accepts it as is
                self._add_columns()
            self._check_columns()
            return
        if self.version in READABLE_VERSIONS:
            raise UserError(f"campaign store {self.path}: schema version {self.version} keys its trials by the "
                            f"paths of their accelerator and energy files, not their content (version "
                            f"{SCHEMA_VERSION} does), so its rows cannot be matched; it can be reported but not "
                            f"extended: run the campaign into a new store (accelsim demo: --fresh)")
        raise UserError(f"campaign store {self.path}: schema version {meta.get('schema_version')} != {SCHEMA_VERSION}")

    def _add_columns(self) -> None:
        """Version 5 had no accumulator energy: add the column (NULL for the trials already there)."""
        have = {r[1] for r in self.conn.execute("PRAGMA table_info(trials)")}
        with self.conn:
            for c in V6_COLUMNS:
                if c not in have:
                    self.conn.execute(f"ALTER TABLE trials ADD COLUMN {_col(c)}")
            self.conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        self.version = SCHEMA_VERSION

    def _check_columns(self) -> None:
        """Every column this version writes must be there (a hand-edited or truncated store
        would otherwise fail half-way through a report)."""
        have = {r[1] for r in self.conn.execute('PRAGMA table_info("trials")')}
        if self.version >= 6:
            need = ("key",) + PARAM_COLUMNS + RESULT_COLUMNS + ("params", "per_layer")
        elif self.version >= 2:   # read only (5: also upgradable): before the accumulator column (6), the
            # provenance column (5), the SDC columns (3), and for 2 the energy breakdown
            new = (set(V6_COLUMNS) | (set() if self.version == 5 else {"provenance_sha256"})
                   | (set() if self.version >= 4 else set(SDC_COLUMNS))
                   | (set() if self.version >= 3 else set(ENERGY_COLUMNS) | {"correct"}))
            need = ("key",) + PARAM_COLUMNS + tuple(c for c in RESULT_COLUMNS if c not in new) + ("params", "per_layer")
        else:   # read only: what a row needs to be read and sorted
            need = ("key", "model", "scheme", "layers", "vdd", "ber", "chip", "repeat", "accuracy", "params",
                    "per_layer")
        missing = [c for c in need if c not in have]
        if missing:
            raise UserError(f"campaign store {self.path}: table trials has no column(s) {', '.join(missing)}")
        if self.version >= 5 and "provenance" not in self._tables():
            raise UserError(f"campaign store {self.path}: no table provenance")

    def _create(self) -> None:
        cols = ", ".join(_col(c) for c in PARAM_COLUMNS + RESULT_COLUMNS)
        with self.conn:
            # one transaction (Python's sqlite3 opens none for DDL): a process killed while
            # creating the store leaves an empty file, which the next run takes as new
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            self.conn.execute("CREATE TABLE provenance (sha256 TEXT PRIMARY KEY, document TEXT)")
            self.conn.execute(f"CREATE TABLE trials (key TEXT PRIMARY KEY, {cols}, params TEXT, "
                              "per_layer TEXT, created REAL)")
            self.conn.executemany("INSERT INTO meta VALUES (?, ?)",
                                  [("schema", SCHEMA), ("schema_version", str(SCHEMA_VERSION))])

    def done_keys(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT key FROM trials")}

    def add_provenance(self, document: dict) -> str:
        """Keep one run's provenance (campaign.runner.provenance); returns its SHA-256, which
        the rows that run writes name (column provenance_sha256)."""
        from accelsim.fileio import sha256_json
        digest = sha256_json(document)
        with self.conn:
            self.conn.execute("INSERT OR IGNORE INTO provenance VALUES (?, ?)",
                              (digest, json.dumps(document, sort_keys=True, default=str)))
        return digest

    def provenance(self) -> dict[str, dict]:
        """Every run's provenance by its SHA-256 (empty before version 5)."""
        if self.version < 5:
            return {}
        return {k: json.loads(v) for k, v in self.conn.execute("SELECT sha256, document FROM provenance")}

    def write(self, key: str, params: "TrialParams", result: dict, *, provenance: str | None = None) -> None:
        """Insert one finished trial in its own transaction (idempotent per key). ``per_layer``
        keeps the network's layer order (the report draws layers in that order);
        ``provenance``: the SHA-256 :meth:`add_provenance` gave for this run."""
        if self.readonly:
            raise RuntimeError("a store opened readonly is not written to")
        params = params.to_dict()
        result = dict(result, provenance_sha256=provenance)
        values = [params.get(c) for c in PARAM_COLUMNS] + [result.get(c) for c in RESULT_COLUMNS]
        cols = ", ".join(f'"{c}"' for c in ("key",) + PARAM_COLUMNS + RESULT_COLUMNS + ("params", "per_layer", "created"))
        marks = ", ".join("?" * (len(values) + 4))
        try:
            with self.conn:
                self.conn.execute(f"INSERT OR IGNORE INTO trials ({cols}) VALUES ({marks})",
                                  [key, *values, json.dumps(params, sort_keys=True),
                                   json.dumps(result.get("per_layer", {})), time.time()])
        except sqlite3.Error as exc:   # disk full, I/O error, a store damaged while we ran
            raise UserError(f"campaign store {str(self.path)!r}: cannot write a trial ({exc}); the trials "
                            "committed so far are kept and skipped when the campaign runs again") from None

    def set_meta(self, key: str, value) -> None:
        try:
            with self.conn:
                self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))
        except sqlite3.Error as exc:
            raise UserError(f"campaign store {str(self.path)!r}: cannot write ({exc})") from None

    def meta(self) -> dict:
        out = {}
        try:
            items = self.conn.execute("SELECT key, value FROM meta").fetchall()
        except sqlite3.Error as exc:
            raise UserError(f"campaign store {str(self.path)!r}: cannot read its meta table ({exc})") from None
        for k, v in items:
            try:
                out[k] = json.loads(v)
            except (json.JSONDecodeError, TypeError, RecursionError):   # text, NULL, a nesting bomb
                out[k] = v
        return out

    def rows(self) -> list[dict]:
        """Every trial, each value checked as input (a store is a file anyone can edit):
        types, rates within [0, 1], counts >= 0, finite numbers, per_layer a mapping."""
        try:
            cur = self.conn.execute("SELECT * FROM trials ORDER BY model, scheme, layers, vdd DESC, ber, chip, repeat")
            names = [d[0] for d in cur.description]
            raw = cur.fetchall()
        except sqlite3.Error as exc:
            raise UserError(f"campaign store {str(self.path)!r}: cannot read its trials ({exc})") from None
        return [self._row(dict(zip(names, r))) for r in raw]

    def _row(self, row: dict) -> dict:
        def bad(col, why):
            return UserError(f"campaign store {self.path}: trial {row.get('key')!r}: {col} = {row.get(col)!r} "
                             f"{why}"[:300])
        row.setdefault("export_sha256", None)   # a version-1 store
        row.setdefault("sdc_top1", None)        # versions 1 to 3
        row.setdefault("sdc_top5", None)
        row.setdefault("provenance_sha256", None)   # versions 1 to 4
        mask = row.get("correct")
        if mask is not None and not (isinstance(mask, str) and _HEX.fullmatch(mask)):
            raise UserError(f"campaign store {self.path}: trial {row.get('key')!r}: correct = {mask!r} "
                            f"is not the hex of a per-input mask"[:300])
        for col, kind in _TYPES.items():
            if kind == "TEXT":
                continue
            if col in row and row[col] is not None and (isinstance(row[col], (str, bytes))
                                                        or (kind == "INTEGER" and isinstance(row[col], float))):
                raise bad(col, f"is not {'an integer' if kind == 'INTEGER' else 'a number'}")
            if isinstance(row.get(col), float) and not math.isfinite(row[col]):
                raise bad(col, "is not a finite number")
        for col in ("model", "scheme", "layers"):
            if row.get(col) is not None and not isinstance(row[col], str):
                raise bad(col, "is not a name")
        for col in RATE_COLUMNS:
            if row.get(col) is not None and not 0 <= row[col] <= 1:
                raise bad(col, "is outside 0..1 (a share of the inputs)")
        for col in COUNT_COLUMNS:
            if row.get(col) is not None and row[col] < 0:
                raise bad(col, "is negative")
        for col in ("vdd", "ber", "energy_pj"):
            if row.get(col) is not None and row[col] < 0:
                raise bad(col, "is negative")
        try:
            row["per_layer"] = json.loads(row["per_layer"] or "{}")
        except (json.JSONDecodeError, TypeError, RecursionError):
            raise UserError(f"campaign store {self.path}: trial {row.get('key')!r}: per_layer is not JSON") from None
        layers = row["per_layer"]
        if not isinstance(layers, dict) or not all(
                isinstance(v, dict) and all(isinstance(n, (int, float)) and not isinstance(n, bool)
                                            and math.isfinite(n) and n >= 0 for n in v.values()) for v in layers.values()):
            raise UserError(f"campaign store {self.path}: trial {row.get('key')!r}: per_layer is not a mapping "
                            "of layer names to counts")
        return row

    def close(self) -> None:
        self.conn.close()
        if self._lock_file is not None:   # after the connection: closing it drops SQLite's own locks
            self._lock_file.close()
            self._lock_file = None


def _lock_exclusive(path: str | Path):
    """The open store file holding an exclusive, non-blocking flock on it (the store's own
    file: no lock file to create or leave behind; the lock goes when the file is closed or
    the process dies); refused in one line while another campaign holds it. OSError if the
    file cannot be opened."""
    import fcntl

    f = open(path, "rb")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        raise UserError(f"campaign store {str(path)!r} is being written by another campaign; "
                        "wait for it to finish (finished trials are kept and skipped)") from None
    return f


class StoreClaim:
    """A campaign's hold on its store path from before its export until its :class:`Store`
    takes the lock over (:meth:`Store.lock`)."""

    def __init__(self, path: Path, file, created: bool):
        self.path, self.file, self.created = path, file, created

    def release(self) -> None:
        """Drop the hold unless a Store took it; the empty file made by :meth:`Store.claim`
        goes too (a campaign refused before its first trial leaves no store behind)."""
        if self.file is None:
            return
        try:
            if self.created and self.path.is_file() and self.path.stat().st_size == 0:
                self.path.unlink()
        finally:
            self.file.close()
            self.file = None
