"""Reading source CSV files, refusing the ones that are not what they claim to be.

File-level problems refuse the whole import with an `InvalidInputError` and nothing is
written: a missing file, an empty file, binary content, another delimiter than the comma,
duplicate or missing required columns. Row-level problems (a bad value on one line) are the
mapper's business: the row is rejected and reported, the rest imported — unless so many rows
are bad that the file itself must be wrong (see `refuse_if_mostly_rejected`).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from kpi_engine.errors import InvalidInputError
from kpi_engine.importers.report import RejectedRow

# Delimiters a spreadsheet export might use instead of the comma.
_OTHER_DELIMITERS = (";", "\t", "|")
_GZIP_MAGIC = b"\x1f\x8b"


class SourceRow(NamedTuple):
    """One data row: its first line number in the file (header = line 1) and its fields.

    A named tuple of the raw fields rather than a dataclass of dicts: event logs have
    hundreds of thousands of rows. `values` builds the by-column view on demand.
    """

    line: int
    fields: list[str]
    columns: tuple[str, ...]

    @property
    def values(self) -> dict[str, str]:
        return dict(zip(self.columns, self.fields, strict=True))


@dataclass(frozen=True)
class CsvFile:
    path: Path
    raw: bytes
    columns: tuple[str, ...]
    rows: tuple[SourceRow, ...]
    rejected: tuple[RejectedRow, ...]

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


def require_file(directory: Path, name: str, source: str) -> Path:
    """`directory/name`, or a clear error naming what the directory does hold."""
    if not directory.is_dir():
        raise InvalidInputError(f"{source}: {directory} is not a directory.")
    path = directory / name
    if not path.is_file():
        found = sorted(p.name for p in directory.iterdir() if p.is_file())
        listing = ", ".join(found) if found else "no files"
        raise InvalidInputError(f"{source}: {directory} has no {name} (found: {listing}).")
    return path


def read_csv(path: Path, required: Sequence[str], source: str) -> CsvFile:
    """Read a comma-separated file (plain or gzip) with a header row.

    Rows whose field count differs from the header's are rejected individually.
    """
    if not path.is_file():
        raise InvalidInputError(f"{source}: file not found: {path}")
    raw = path.read_bytes()
    text = _decode(_decompress(raw, path, source), path, source)
    if not text.strip():
        raise InvalidInputError(f"{source}: {path.name} is empty.")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    columns = tuple(name.strip() for name in header)
    _check_header(columns, required, path, source)
    rows: list[SourceRow] = []
    rejected: list[RejectedRow] = []
    width = len(columns)
    line = reader.line_num + 1
    for fields in reader:
        if len(fields) == width:
            rows.append(SourceRow(line, fields, columns))
        elif fields and (len(fields) > 1 or fields[0].strip()):  # not a blank line
            rejected.append(
                RejectedRow(path.name, line, f"has {len(fields)} fields, the header has {width}")
            )
        line = reader.line_num + 1
    if not rows and not rejected:
        raise InvalidInputError(f"{source}: {path.name} has a header but no data rows.")
    refuse_if_mostly_rejected(path.name, len(rows) + len(rejected), rejected, source)
    return CsvFile(path, raw, columns, tuple(rows), tuple(rejected))


def refuse_if_mostly_rejected(
    file: str, total: int, rejected: Sequence[RejectedRow], source: str
) -> None:
    """Refuse the whole file when more than half of its rows are bad.

    A few bad rows are data problems worth reporting; a majority means the file is in a
    format we do not read (other date format, shifted columns), and importing the rest
    would silently drop most of it.
    """
    if total and len(rejected) * 2 > total:
        examples = "; ".join(f"line {r.line}: {r.reason}" for r in rejected[:3])
        raise InvalidInputError(
            f"{source}: {file}: {len(rejected):,} of {total:,} rows cannot be read, so the "
            f"file was refused and nothing was imported. First problems: {examples}"
        )


def checksum_of(parts: Iterable[bytes | str]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\x00")
    return digest.hexdigest()


def _decompress(raw: bytes, path: Path, source: str) -> bytes:
    if not raw.startswith(_GZIP_MAGIC):
        if path.suffix == ".gz" and raw:
            raise InvalidInputError(f"{source}: {path.name} ends in .gz but is not gzip data.")
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise InvalidInputError(f"{source}: {path.name} is a damaged gzip file ({error}).") \
            from error


def _decode(data: bytes, path: Path, source: str) -> str:
    sample = data[:65536]
    if b"\x00" in sample or _control_share(sample) > 0.05:
        raise InvalidInputError(
            f"{source}: {path.name} looks like a binary file, not a CSV text file."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheet exports on Windows are often cp1252; latin-1 never fails.
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            return data.decode("latin-1")


def _control_share(sample: bytes) -> float:
    if not sample:
        return 0.0
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 13))
    return controls / len(sample)


def _check_header(
    columns: tuple[str, ...], required: Sequence[str], path: Path, source: str
) -> None:
    header_line = ",".join(columns)
    missing = [name for name in required if name not in columns]
    if missing:
        for delimiter in _OTHER_DELIMITERS:
            if len(columns) == 1 and header_line.count(delimiter) >= 1:
                shown = "tab" if delimiter == "\t" else delimiter
                raise InvalidInputError(
                    f"{source}: {path.name} looks like '{shown}'-separated; kpibot reads "
                    f"comma-separated CSV. Re-export it with commas."
                )
        found = ", ".join(repr(c) for c in columns[:40])
        raise InvalidInputError(
            f"{source}: {path.name} is missing required column(s) "
            f"{', '.join(repr(m) for m in missing)}; found: {found}."
        )
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise InvalidInputError(
            f"{source}: {path.name} has duplicate column(s) {', '.join(duplicates)}."
        )
