"""Each agency's export, derived from the truth of a chunk: its own columns, IDs, code spellings,
time of observation and dirt, plus a truth table linking every row back to the true person and family.

One module per agency, named after its mapping file in ``dtsen/sources/mappings`` (``regsosek`` and
``susenas`` each write two files from one draw); ``common`` holds what they share and ``chunk`` the
context they read. Column names follow what each source is known to ship (SIAK's ``NAMA_LGKP``,
Regsosek's item numbers, DTKS's ``IDDTKS`` ...). Nothing true that the agency could not know is written
to a source file.
"""

from dtsen.synth.sources.chunk import ChunkSources
from dtsen.synth.sources.common import RECORD_ID, SOURCES, SourceTables

__all__ = ["RECORD_ID", "SOURCES", "ChunkSources", "SourceTables"]
