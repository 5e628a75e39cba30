"""An offline, versioned byte corpus for the tiny-LM tasks: the Python standard library.

Every machine with Python has it, so the corpus needs no download; but its content differs
between Python versions, so the built bytes are shipped (``data/corpus-v1.bin.xz``) with the
sha256 of the uncompressed bytes (``data/corpus-v1.sha256``) and the PSF licence
(``data/PSF-LICENSE.txt``), and ``load_corpus`` checks the hash on every load.

Build recipe (``build_corpus``, corpus v1; run once, on CPython 3.11.7, to create the file):

1. The English help text behind ``help()``: the ``topics`` dict of ``pydoc_data/topics.py``
   (read with ``ast.literal_eval``, never imported), topics in sorted key order, each written as
   ``"help('<key>')\\n\\n<text>\\n\\n"``.
2. The library's ``.py`` sources, sorted by POSIX relative path, each preceded by a
   ``"# ==== <relpath> ====\\n"`` line and followed by a newline. Skipped: any path component in
   ``SKIP_DIRS`` (tests, idlelib, tkinter, turtledemo, encodings, lib2to3, ensurepip,
   site-packages, __pycache__, pydoc_data, lib-dynload, config-*), files named ``test_*.py``,
   and the build-specific ``_sysconfigdata*.py``.
3. Everything concatenated as UTF-8 bytes (sources are read as bytes, unchanged) and cut at
   ``CORPUS_BYTES`` = 4 MiB.

Split (``split_corpus``): the last ``VALIDATION_FRACTION`` = 5 % of the bytes (209,715) are the
validation split, the first 95 % (3,984,589) the training split; contiguous, so no validation
window overlaps a training window. Bytes are the tokens (vocabulary 256, no tokenizer).

Rebuild the shipped files with ``python -m benchmarks.lm.corpus --write`` (only meaningful on
the same Python version; otherwise the hash changes, which is the point of shipping the bytes).

Slices (``SLICES``, ``load_slice``): named parts of the shipped corpus-v1 bytes, the data of the
tinylm instances (benchmarks.lm.sweep.INSTANCES). A slice is either a byte range of the corpus or
the concatenation, in corpus order, of the whole file chunks (from a ``# ==== <path> ====`` line
to the next one) whose path starts with a prefix. Each slice has its own split by the same rule
(``split_corpus``: its last 5 % is validation), and its sha256 is recorded in ``SLICES`` and
checked on every load (``CorpusChecksumError``); the run datasets' manifests repeat it.

    name      definition                           bytes    what
    help      bytes [0, 467,787)                   467,787  the English help() topics (prose with
                                                            short code examples), sorted by topic
    asyncio   path prefix asyncio/ (33 files)      490,975  Python source: the asyncio package

The two have about the same size, so an instance pair differs in language (English text vs
Python code), not in the amount of data; both are read within one epoch or less at the token
budgets used (2^16-2^17 bytes).
"""
from __future__ import annotations

import argparse
import ast
import functools
import hashlib
import lzma
import re
import shutil
import sys
import sysconfig
from pathlib import Path

CORPUS_NAME = "python-stdlib-v1"
CORPUS_BYTES = 4 * 2**20
VALIDATION_FRACTION = 0.05
BUILT_WITH = "CPython 3.11.7"  # the interpreter whose standard library produced the shipped bytes

DATA_DIR = Path(__file__).resolve().parent / "data"
CORPUS_FILE = DATA_DIR / "corpus-v1.bin.xz"
SHA_FILE = DATA_DIR / "corpus-v1.sha256"
LICENSE_FILE = DATA_DIR / "PSF-LICENSE.txt"

SKIP_DIRS = frozenset({
    "test", "tests", "idle_test", "idlelib", "tkinter", "turtledemo", "encodings", "lib2to3",
    "ensurepip", "site-packages", "dist-packages", "__pycache__", "pydoc_data", "lib-dynload",
})


#: name -> (kind, argument, sha256 of the slice bytes, description); kind "range": (start, stop) byte
#: offsets; kind "prefix": a path prefix of the source files (module docstring)
SLICES: dict[str, tuple[str, object, str, str]] = {
    "help": ("range", (0, 467_787), "d9e825e870fb84340284f4657dac10974282d4751b1e840a85383ee365e50c5c",
             "the English help() topics of pydoc_data/topics.py"),
    "asyncio": ("prefix", "asyncio/", "17ba0af9fb62c31091423a2e4c9484cbf7649ecd14c915b6b5412d5ba999ff30", "the Python sources of the asyncio package"),
}
_HEADER = re.compile(rb"# ==== (\S+) ====\n")


class CorpusChecksumError(ValueError):
    """The corpus bytes do not match the recorded sha256 (corrupted or replaced file)."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def expected_sha256(sha_file: Path = SHA_FILE) -> str:
    """The recorded hash (first word of the .sha256 file, `sha256sum` format)."""
    return sha_file.read_text().split()[0].strip()


def load_corpus(path: Path | str = CORPUS_FILE, sha_file: Path | str = SHA_FILE) -> bytes:
    """Decompress the shipped corpus and verify it against the recorded sha256."""
    return _load(str(Path(path).resolve()), str(Path(sha_file).resolve()))


@functools.lru_cache(maxsize=4)
def _load(path: str, sha_file: str) -> bytes:
    try:
        data = lzma.decompress(Path(path).read_bytes())
    except lzma.LZMAError as exc:
        raise CorpusChecksumError(f"corpus {path} is not a valid xz file ({exc}): restore it from the "
                                  "repository") from exc
    want, got = expected_sha256(Path(sha_file)), sha256(data)
    if got != want:
        raise CorpusChecksumError(
            f"corpus {path} has sha256 {got}, expected {want} (from {sha_file}); the file is corrupted "
            "or was rebuilt on another Python version: restore it from the repository")
    return data


def slice_bytes(name: str, data: bytes) -> bytes:
    """The bytes of slice `name` (``SLICES``) of corpus `data`, unchecked."""
    if name not in SLICES:
        raise ValueError(f"unknown corpus slice {name!r}; known: {', '.join(SLICES)}")
    kind, arg, _, _ = SLICES[name]
    if kind == "range":
        start, stop = arg
        return data[start:stop]
    starts = [(m.start(), m.group(1).decode()) for m in _HEADER.finditer(data)]
    ends = [s for s, _ in starts[1:]] + [len(data)]
    return b"".join(data[s:e] for (s, path), e in zip(starts, ends) if path.startswith(arg))


@functools.lru_cache(maxsize=8)
def load_slice(name: str) -> bytes:
    """Slice `name` of the shipped corpus, checked against its recorded sha256."""
    data = slice_bytes(name, load_corpus())
    want, got = SLICES[name][2], sha256(data)
    if got != want:
        raise CorpusChecksumError(f"corpus slice {name!r} has sha256 {got}, expected {want}: the corpus or the "
                                  "slice definition changed")
    return data


def split_corpus(data: bytes, validation_fraction: float = VALIDATION_FRACTION) -> tuple[bytes, bytes]:
    """(train, validation): the last `validation_fraction` of the bytes is the validation split."""
    n_val = int(len(data) * validation_fraction)
    return data[: len(data) - n_val], data[len(data) - n_val:]


def _stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def _skipped(rel: Path) -> bool:
    parts = rel.parts
    if any(p in SKIP_DIRS or p.startswith("config-") for p in parts[:-1]):
        return True
    name = parts[-1]
    return name.startswith(("test_", "_sysconfigdata"))


def source_files(stdlib: Path) -> list[Path]:
    """The library sources that go into the corpus, sorted by POSIX relative path."""
    files = [p for p in stdlib.rglob("*.py") if p.is_file() and not _skipped(p.relative_to(stdlib))]
    return sorted(files, key=lambda p: p.relative_to(stdlib).as_posix())


def help_text(stdlib: Path) -> bytes:
    """The `help()` topics of pydoc_data/topics.py, in sorted key order."""
    tree = ast.parse((stdlib / "pydoc_data" / "topics.py").read_text(encoding="utf-8"))
    topics = next(ast.literal_eval(node.value) for node in tree.body
                  if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "topics")
    return "".join(f"help({key!r})\n\n{topics[key]}\n\n" for key in sorted(topics)).encode("utf-8")


def build_corpus(stdlib: Path | str | None = None, size: int = CORPUS_BYTES) -> bytes:
    """Rebuild the corpus from a standard library directory (default: the running Python's)."""
    stdlib = Path(stdlib) if stdlib is not None else _stdlib_dir()
    chunks, total = [help_text(stdlib)], 0
    total = len(chunks[0])
    for path in source_files(stdlib):
        if total >= size:
            break
        chunk = f"# ==== {path.relative_to(stdlib).as_posix()} ====\n".encode() + path.read_bytes() + b"\n"
        chunks.append(chunk)
        total += len(chunk)
    data = b"".join(chunks)[:size]
    if len(data) < size:
        raise ValueError(f"standard library at {stdlib} yields only {len(data)} bytes, need {size}")
    return data


def write_corpus(data: bytes, out_dir: Path = DATA_DIR) -> dict:
    """Write the xz file, its sha256 and the PSF licence (copied from the Python installation)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / CORPUS_FILE.name).write_bytes(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
    digest = sha256(data)
    (out_dir / SHA_FILE.name).write_text(f"{digest}  corpus-v1.bin\n")
    licence = _stdlib_dir() / "LICENSE.txt"
    if licence.exists():
        shutil.copyfile(licence, out_dir / LICENSE_FILE.name)
    return {"sha256": digest, "bytes": len(data), "xz_bytes": (out_dir / CORPUS_FILE.name).stat().st_size,
            "licence_copied": licence.exists()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rebuild from this Python's stdlib and overwrite data/")
    args = parser.parse_args(argv)
    if args.write:
        print(write_corpus(build_corpus()), f"(built with Python {sys.version.split()[0]})")
        return 0
    data = load_corpus()
    train, val = split_corpus(data)
    print(f"{CORPUS_NAME}: {len(data)} bytes, sha256 {sha256(data)} OK; train {len(train)}, validation {len(val)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
