"""A file handed to the cycle and the database marks saying which rows it holds, made to agree.

The serving database exports what the cycle must take (approved changes of decided cases, vital events
pushed by Dukcapil) as Parquet files in the cycle's inbox and marks the exported rows. A row must be either
in a file and marked, or in neither, so that the next export takes it: the file is streamed under a hidden
name, renamed into place only once the marks are flushed, and removed again if the commit fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from dtsen.atomic import commit_file


class StagedParquet:
    """The file being written: ``write`` batches of rows; ``empty`` until the first one."""

    def __init__(self, staging: Path, schema: pa.Schema) -> None:
        self.staging = staging
        self.schema = schema
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None

    @property
    def empty(self) -> bool:
        return self._writer is None

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.staging, self.schema)
        self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


@contextmanager
def parquet_with_marks(session: Session, final: Path, schema: pa.Schema) -> Iterator[StagedParquet]:
    """Stream rows into ``final`` while the block marks them in ``session``; on leaving the block the file
    and the marks are committed together (nothing written: no file, and the session is left as it is). On
    an error the staging file is removed and the session rolled back."""
    final.parent.mkdir(parents=True, exist_ok=True)
    staged = StagedParquet(final.with_name(f".{final.name}.tmp"), schema)
    try:
        yield staged
        if staged.empty:
            return
        staged.close()
        session.flush()
        commit_file(staged.staging, final)
        try:
            session.commit()
        except Exception:
            final.unlink(missing_ok=True)
            raise
    except Exception:
        staged.close()
        staged.staging.unlink(missing_ok=True)
        session.rollback()
        raise
