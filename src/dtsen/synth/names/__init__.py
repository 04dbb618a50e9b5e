"""Indonesian personal names for the synthetic population: true names and the dirt sources add to them.

Record linkage is only worth measuring if names look like the registry's: single names of elderly
Javanese, long modern names of the young, Balinese birth-order names, Batak marga carried by children,
fam names in the east, Indonesianised Tionghoa names, and the spellings, titles and typos that field
copies add (DTSEN.md section 3, "Names"). Everything here is vectorised with NumPy and Polars: true
names are drawn as token indices into typed-in pools and joined once; the dirt functions loop in Python
only over the rows they change. Nothing is downloaded: every pool in ``synth/data/names`` was typed in
by hand.

Codes used: ``sex`` 1 = male, 2 = female (``JenisKelamin``); ``education_level`` is ``IjazahTertinggi``
(0 none .. 4 D1-D3, 5 D4/S1, 6 S2/S3); ``role`` follows ``dtsen.synth.household`` (HEAD=0, SPOUSE=1,
CHILD=2, CHILD_IN_LAW=3, GRANDCHILD=4, PARENT=5, OTHER=6).
"""

from dtsen.synth.names.cultures import CULTURES, PROVINCE_CODES, culture_weights, draw_culture
from dtsen.synth.names.dirt import add_titles, name_variants, typos
from dtsen.synth.names.pools import ERA_EDGES, NAMES_DATA, POOL_FILES, parse_pool_file
from dtsen.synth.names.true_names import (
    SURNAME_CULTURES,
    SURNAME_USE,
    draw_full_names,
    era_bucket,
    family_surnames,
)

__all__ = [
    "CULTURES",
    "ERA_EDGES",
    "NAMES_DATA",
    "POOL_FILES",
    "PROVINCE_CODES",
    "SURNAME_CULTURES",
    "SURNAME_USE",
    "add_titles",
    "culture_weights",
    "draw_culture",
    "draw_full_names",
    "era_bucket",
    "family_surnames",
    "name_variants",
    "parse_pool_file",
    "typos",
]
