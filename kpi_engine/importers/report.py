"""What an import tells its caller: counts per table, rejected rows and notes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RejectedRow:
    """A source row that was not imported; `line` is the 1-based line in `file` (header = 1)."""

    file: str
    line: int
    reason: str


@dataclass(frozen=True)
class TableCounts:
    """What one import did to one table."""

    table: str
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0


@dataclass(frozen=True)
class ImportReport:
    """The outcome of one `kpibot import`; totals are the sums over `tables`."""

    source: str
    path: str
    checksum: str
    tables: tuple[TableCounts, ...]
    rejected_rows: tuple[RejectedRow, ...] = ()
    # Facts the user should know: mappings applied, data-quality cases kept as in the source.
    notes: tuple[str, ...] = ()
    import_run_id: int | None = None

    @property
    def inserted(self) -> int:
        return sum(t.inserted for t in self.tables)

    @property
    def updated(self) -> int:
        return sum(t.updated for t in self.tables)

    @property
    def unchanged(self) -> int:
        return sum(t.unchanged for t in self.tables)

    @property
    def deleted(self) -> int:
        return sum(t.deleted for t in self.tables)

    @property
    def rejected(self) -> int:
        return len(self.rejected_rows)

    @property
    def changed_nothing(self) -> bool:
        return self.inserted == 0 and self.updated == 0 and self.deleted == 0

    def summary(self) -> str:
        """One line for humans: what changed, or that nothing did."""
        head = (
            f"{self.source}: inserted {self.inserted:,}, updated {self.updated:,}, "
            f"unchanged: {self.unchanged:,}, rejected {self.rejected:,}"
        )
        if self.deleted:
            head += f", deleted {self.deleted:,}"
        if self.changed_nothing:
            head += " (already up to date, nothing changed)"
        return head

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "path": self.path,
            "checksum": self.checksum,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "rejected": self.rejected,
            "tables": [t.__dict__ for t in self.tables],
            "rejected_rows": [r.__dict__ for r in self.rejected_rows],
            "notes": list(self.notes),
            "import_run_id": self.import_run_id,
        }


def merge_counts(first: TableCounts, second: TableCounts) -> TableCounts:
    """Two writes to the same table, counted as one."""
    return TableCounts(first.table, first.inserted + second.inserted,
                       first.updated + second.updated, first.unchanged + second.unchanged,
                       first.deleted + second.deleted)
