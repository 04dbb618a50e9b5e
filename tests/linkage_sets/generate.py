"""Two linkage test sets of our own, in layouts `dtsen synth` never writes (issue 14).

The synthetic generator scores F1 0.997 on its own exports; that says little about a file nobody tuned
the model for. These sets bring their own name material (written here, not taken from dtsen.synth),
their own noise and their own file layouts, with the true person of every row, so that linkage can be
measured on data it has not seen:

- ``kabupaten`` (Kabupaten Garut, 3205): a register in a SIAK-like layout with other headers; a bansos
  list naming desa and kecamatan by name (prefixes, spaces, old spellings), honorifics, missing or
  mistyped NIKs; a field survey with its own building + family numbers and birth dates in three
  columns (98 = unknown), NIK for ~70% only; an electricity customer list with a free-text address.
- ``kota`` (Kota Binjai, 1275): a register; a welfare export whose NIKs come from noisy IDs
  (separators, transposed digits, zeros dropped per segment); a service export with several forms per
  person (some identical), age only; unregistered children carrying a household member's NIK; Batak
  marga/boru, Balinese I/NI and dropped first names (MUHAMMAD RIZKI -> RIZKI).

Each set is drawn from its own ``random.Random`` (seed and set name): the same seed writes byte-identical
files, whether one set or both are generated. The truth (``truth.csv``: berkas, baris, person_id) names
the person behind every data line (line 1 is the header, as ingestion counts).

    python tests/linkage_sets/generate.py OUT_DIR [--seed 15] [--families 1100]
"""

from __future__ import annotations

import argparse
import csv
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from dtsen.reference.nik import make_nik
from dtsen.reference.regions import kecamatan, villages

SETS = ("kabupaten", "kota")
OBSERVED = date(2026, 6, 30)  # the date every export describes; ages are counted at it
UNKNOWN = 98  # the survey's code for an unknown day, month or year
# the seed the measured scores use (docs/linkage.md); with 14 the kota set makes Splink EM fail, see there
SEED = 15


def _words(text: str) -> list[str]:
    """A name list written as one string: one name per word."""
    return text.split()


# --- name material (Sundanese / West Java) --------------------------------------------------------
SUNDA_MALE = _words(
    "ASEP DEDE UJANG CECEP DADANG AGUS YAYAN ENDANG HERI DEDI RAHMAT IWAN ROHMAN JAJANG WAWAN DODI "
    "ADE ENTIS OMAN MAMAN NANANG KOMAR ACENG ENJANG YUSUF RIDWAN HENDRA ARIF FAJAR RIZKI DIMAS ILHAM "
    "GILANG RENDI FIRMAN AAN UCUP DEDEN ENCEP UJU YOYO OTONG DUDUNG ENDING SOLIHIN ABDUL ROBI TATANG "
    "ENGKOS"
)
SUNDA_FEMALE = _words(
    "IMAS EUIS NENG ENOK TITIN ENCUM YAYAH IIS NUNUNG EPON ENENG CUCU ELIS NINING YULI RINA SITI DEWI "
    "LILIS AI NENDEN ROSITA WINDA TATI ATIKAH YENI POPON ENTIN EVI DEDEH OOM EHA WIWIN NURHAYATI ANI "
    "YANTI TETI ELA UMI SRI LINA AAM MIMIN"
)
SUNDA_SECOND = _words(
    "SUPRIATNA HIDAYAT KURNIAWAN SETIAWAN RUKMANA SOBARI HERMAWAN SAPUTRA SUNARYA SUKMANA HAMDANI "
    "SAEPUDIN NURDIN MULYANA RUSTANDI SOLEHUDIN KUSNADI SUHERMAN GUNAWAN FIRDAUS RAMDANI SAPUTRI "
    "NURJANAH KOMALASARI RAHAYU MAULANA SURYANA JUNAEDI HERDIANA ROHAENI SUMIATI KARTIKA WULANDARI "
    "SULASTRI FITRIANI PERMANA SOBANDI"
)
FEMALE_SECOND = {"SAPUTRI", "NURJANAH", "KOMALASARI", "RAHAYU", "ROHAENI", "SUMIATI", "KARTIKA"}
FEMALE_SECOND |= {"WULANDARI", "SULASTRI", "FITRIANI"}
KAMPUNG = _words(
    "CIBODAS BABAKAN CIKONENG SUKAMANAH PASIRWANGI CIPARAY LEUWIGOONG CIMANGGU SINDANGSARI CIKADU "
    "PASANGGRAHAN CIHERANG NANGGERANG CIJAMBU SAMPALAN CILEUNGSIR PANYINGKIRAN CIMAJA"
)

# --- name material (Kota Binjai: Batak, Malay/Javanese, Balinese) ---------------------------------
BATAK_MALE = _words(
    "JONI ROBERT HENDRA MARTIN BONAR POLTAK TUMPAL SAHAT DANIEL FERDINAND RICARDO ANDREAS HOTMAN "
    "PARLINDUNGAN BINSAR MANGATUR TIGOR JHONSON RUDOLF HISAR"
)
BATAK_FEMALE = _words(
    "ROSMAWATI LAMRIA DEBORA MARIA YOHANA TIUR ROTUA ELISABETH RISMA MARLINA HOTNIDA DUMARIA SONDANG "
    "NURMALA RUGUN"
)
MARGA = _words(
    "SIMANJUNTAK SIREGAR NASUTION HUTAGALUNG SIAHAAN PANJAITAN SITUMORANG SINAGA MANURUNG PANGARIBUAN "
    "LUBIS HARAHAP TAMBUNAN SIMATUPANG GINTING SEMBIRING TARIGAN SITEPU PURBA SARAGIH"
)
MELAYU_MALE = _words(
    "RIZKI FAJAR ILHAM HAFIZ FAUZI ARIF SUPRIADI SUGIANTO WAGIMAN SYAHRIAL ZULKIFLI RAHMAD IRFAN ANDI "
    "RAMADHAN FIKRI SYAHPUTRA AZHAR HABIBI RIDHO"
)
MELAYU_FEMALE = _words(
    "AISYAH HALIMAH FATIMAH NURHASANAH SRI WAHYUNI RAHMAWATI SYAFRIDA MAWAR JULIANA KHAIRANI ZAHRA "
    "NURUL AULIA SALSABILA RAHMA SUSANTI"
)
MELAYU_SECOND = _words(
    "SYAHPUTRA HASIBUAN PRATAMA RAMADHAN HIDAYAT SAPUTRA NASUTION WIJAYA KURNIAWAN FADILLAH LESTARI "
    "HANDAYANI PUTRI SARI ANGGRAINI"
)
BALI_ORDER = ("WAYAN", "MADE", "NYOMAN", "KETUT")  # birth order: first, second, third, fourth child
BALI_MALE = _words("SUDARTA ARSANA SUARDANA ARTAWAN SUPARTA MERTA WIRAWAN ADNYANA DARMAWAN SUASTIKA")
BALI_FEMALE = _words("AYU LESTARI SUARNI PURNAMI SRI WAHYUNI ARIANI SUKMAWATI DEWI PUSPITA")
JALAN = [
    "SUDIRMAN",
    "GATOT SUBROTO",
    "DIPONEGORO",
    "T. AMIR HAMZAH",
    "GUNUNG BENDAHARA",
    "SAMANHUDI",
    "ASAHAN",
    "KARTINI",
    "SAMURA",
    "IKAN PAUS",
    "PERINTIS KEMERDEKAAN",
    "JAMBI",
    "MADURA",
    "SOEKARNO HATTA",
]


@dataclass
class Person:
    pid: str
    name: str
    sex: int  # 1 laki-laki, 2 perempuan
    birth: date
    nik: str | None
    family: Family
    role: str  # KEPALA KELUARGA, ISTRI, SUAMI, ANAK, ORANG TUA
    registered: bool = True
    borrowed_nik: bool = False  # carries a household member's NIK (no NIK of their own)

    @property
    def age(self) -> int:
        years = OBSERVED.year - self.birth.year
        return years - ((OBSERVED.month, OBSERVED.day) < (self.birth.month, self.birth.day))


@dataclass
class Family:
    fid: str
    kk: str
    desa: str  # 10-digit Kemendagri code
    desa_name: str
    kec_name: str
    kelurahan: bool
    street: str
    rt: int
    rw: int
    members: list[Person] = field(default_factory=list)

    @property
    def head(self) -> Person:
        return self.members[0]


class World:
    """The persons and families of one set, and the counters that keep NIK/KK serials unique."""

    def __init__(self, rng: random.Random, code: str) -> None:
        self.rng = rng
        self.code = code
        self.families: list[Family] = []
        self._serial: dict[str, int] = {}
        self._pid = 0

    def serial(self, key: str) -> int:
        self._serial[key] = self._serial.get(key, 0) + 1
        return self._serial[key]

    def nik(self, kec: str, birth: date, sex: int) -> str:
        partial = make_nik(kec, birth, sex, 1)[:12]
        return make_nik(kec, birth, sex, self.serial(partial))

    def kk(self, kec: str) -> str:
        issued = date(2008, 1, 1) + timedelta(days=self.rng.randrange(6000))
        stem = f"{kec}{issued.day:02d}{issued.month:02d}{issued.year % 100:02d}"
        return f"{stem}{self.serial('kk' + stem):04d}"

    def person(self, family: Family, name: str, sex: int, birth: date, role: str, kec: str) -> Person:
        self._pid += 1
        p = Person(f"{self.code}{self._pid:05d}", name, sex, birth, self.nik(kec, birth, sex), family, role)
        family.members.append(p)
        return p

    @property
    def persons(self) -> list[Person]:
        return [p for f in self.families for p in f.members]


def _birth(rng: random.Random, oldest: int, youngest: int) -> date:
    """A birth date between ``oldest`` and ``youngest`` years before OBSERVED."""
    start = OBSERVED - timedelta(days=365 * oldest)
    return start + timedelta(days=rng.randrange(max(365 * (oldest - youngest), 1)))


def _places(kab: str, n_kec: int | None, rng: random.Random) -> pl.DataFrame:
    """Villages of ``n_kec`` kecamatan of ``kab`` drawn at random (all of them when None), with names."""
    kec = kecamatan().filter(pl.col("kode_kab") == kab).sort("kode")
    codes = kec["kode"].to_list()
    if n_kec is not None:
        codes = sorted(rng.sample(codes, n_kec))
    v = villages().filter(pl.col("kode_kec").is_in(codes)).sort("kode")
    return v.join(kec.select("kode", kec_nama="nama"), left_on="kode_kec", right_on="kode")


def _new_family(world: World, place: dict, street: str) -> Family:
    rng = world.rng
    return Family(
        fid=f"F{world.code}{len(world.families) + 1:05d}",
        kk=world.kk(place["kode_kec"]),
        desa=place["kode"],
        desa_name=place["nama"].upper(),
        kec_name=place["kec_nama"].upper(),
        kelurahan=bool(place["is_kelurahan"]),
        street=street,
        rt=rng.randint(1, 12),
        rw=rng.randint(1, 9),
    )


# (rng, sex, head of the family or None, role, birth order among the children, family culture draw)
NameFn = Callable[[random.Random, int, "Person | None", str, int, float], str]


def _sunda_name(rng: random.Random, sex: int, *_context: object) -> str:
    first = rng.choice(SUNDA_MALE if sex == 1 else SUNDA_FEMALE)
    if rng.random() < 0.25:  # many Sundanese carry one name only
        return first
    seconds = [s for s in SUNDA_SECOND if (s in FEMALE_SECOND) == (sex == 2)]
    return f"{first} {rng.choice(seconds)}"


def _build(world: World, places: pl.DataFrame, n_families: int, name: NameFn) -> None:
    """Families: head, usually a spouse, 0-4 children, sometimes a parent; each person on the KK."""
    rng = world.rng
    rows = places.to_dicts()
    for _ in range(n_families):
        place = rng.choice(rows)
        street = rng.choice(KAMPUNG) if world.code == "A" else rng.choice(JALAN)
        fam = _new_family(world, place, street)
        world.families.append(fam)
        kec = place["kode_kec"]
        culture = rng.random()
        head_sex = 1 if rng.random() < 0.88 else 2
        head_birth = _birth(rng, 72, 24)
        role = "KEPALA KELUARGA"
        head = world.person(fam, name(rng, head_sex, None, role, 0, culture), head_sex, head_birth, role, kec)
        if head_sex == 1 and rng.random() < 0.85:
            born = min(
                head_birth + timedelta(days=rng.randrange(-800, 3000)), OBSERVED - timedelta(days=365 * 19)
            )
            world.person(fam, name(rng, 2, head, "ISTRI", 0, culture), 2, born, "ISTRI", kec)
        age = head.age
        for k in range(rng.choice((0, 1, 1, 2, 2, 2, 3, 3, 4))):
            youngest = max(age - 45, 0)
            oldest = max(age - 20, youngest + 1)
            if oldest <= 0:
                break
            sex = rng.choice((1, 2))
            born = _birth(rng, oldest, youngest)
            world.person(fam, name(rng, sex, head, "ANAK", k, culture), sex, born, "ANAK", kec)
        if rng.random() < 0.06:
            sex = rng.choice((1, 2))
            old = _birth(rng, min(age + 40, 95), age + 18)
            world.person(fam, name(rng, sex, None, "ORANG TUA", 0, culture), sex, old, "ORANG TUA", kec)


# --- noise ----------------------------------------------------------------------------------------
def typo(rng: random.Random, text: str) -> str:
    """One keying error in a word of four letters or more (never the first letter)."""
    words = text.split()
    long = [i for i, w in enumerate(words) if len(w) >= 4]
    if not long:
        return text
    i = rng.choice(long)
    w = words[i]
    j = rng.randrange(1, len(w) - 1)
    op = rng.randrange(3)
    if op == 0:
        w = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    elif op == 1:
        w = w[:j] + w[j + 1 :]
    else:
        w = w[:j] + rng.choice("AEIOUNRS") + w[j + 1 :]
    words[i] = w
    return " ".join(words)


def wrong_digit(rng: random.Random, nik: str) -> str:
    i = rng.randrange(6, 16)
    return nik[:i] + rng.choice([d for d in "0123456789" if d != nik[i]]) + nik[i + 1 :]


def transposed(rng: random.Random, nik: str) -> str:
    for _ in range(10):
        i = rng.randrange(6, 15)
        if nik[i] != nik[i + 1]:
            return nik[:i] + nik[i + 1] + nik[i] + nik[i + 2 :]
    return nik


def segmented(nik: str, drop_zeros: bool, sep: str) -> str:
    """An ID written in segments PP.KK.CC.DDMMYY.SSSS; a spreadsheet may drop each segment's zeros."""
    parts = [nik[0:2], nik[2:4], nik[4:6], nik[6:12], nik[12:16]]
    return sep.join(str(int(p)) if drop_zeros else p for p in parts)


def spaced(name: str) -> str:
    """SUKAMAJU -> SUKA MAJU: village names written in two words."""
    for prefix in ("SUKA", "MEKAR", "SINDANG", "KARANG", "PASIR", "TANJUNG", "MARGA", "CI", "BOJONG"):
        if name.startswith(prefix) and len(name) > len(prefix) + 2 and " " not in name:
            return f"{prefix} {name[len(prefix) :]}"
    return name


def old_spelling(name: str) -> str:
    """The pre-1972 spelling: U -> OE, J -> DJ, C -> TJ."""
    return name.replace("U", "OE").replace("J", "DJ").replace("C", "TJ")


def fmt(d: date, pattern: str) -> str:
    return d.strftime(pattern)


class Writer:
    """One export: its rows, written with the delimiter, and the truth of every data line."""

    def __init__(self, name: str, header: list[str], delimiter: str) -> None:
        self.name, self.header, self.delimiter = name, header, delimiter
        self.rows: list[tuple[list[str], str]] = []

    def add(self, person: Person, values: dict[str, object]) -> None:
        self.rows.append(([("" if values[h] is None else str(values[h])) for h in self.header], person.pid))

    def write(self, out: Path, truth: list[tuple[str, int, str]]) -> None:
        with (out / self.name).open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, delimiter=self.delimiter, lineterminator="\n")
            w.writerow(self.header)
            for line, (values, pid) in enumerate(self.rows, start=2):
                w.writerow(values)
                truth.append((self.name, line, pid))


# --- set A: a new district ------------------------------------------------------------------------
def kabupaten_set(rng: random.Random, n_families: int) -> list[Writer]:
    world = World(rng, "A")
    places = _places("3205", 8, rng)
    _build(world, places, n_families, _sunda_name)
    # migrants not (yet) in this register: whole families with a NIK of another kabupaten (Bandung)
    for fam in rng.sample(world.families, n_families // 40):
        for p in fam.members:
            p.registered = False
            p.nik = world.nik("320401", p.birth, p.sex)
    # newborns and relatives not registered: no NIK at all
    for p in world.persons:
        if p.registered and (p.age < 1 or rng.random() < 0.01):
            p.registered, p.nik = False, None

    register = Writer(
        "penduduk_garut.csv",
        [
            "NO_NIK",
            "NO_KARTU_KELUARGA",
            "NAMA_PENDUDUK",
            "TEMPAT_LAHIR",
            "TANGGAL_LAHIR",
            "JENIS_KELAMIN",
            "HUBUNGAN",
            "ALAMAT",
            "RT",
            "RW",
            "KODE_PROP",
            "KODE_KAB",
            "KODE_KEC",
            "KODE_DESA",
        ],
        ",",
    )
    for p in world.persons:
        if not p.registered:
            continue
        f = p.family
        register.add(
            p,
            {
                "NO_NIK": p.nik,
                "NO_KARTU_KELUARGA": f.kk,
                "NAMA_PENDUDUK": p.name,
                "TEMPAT_LAHIR": "GARUT",
                "TANGGAL_LAHIR": fmt(p.birth, "%d-%m-%Y"),
                "JENIS_KELAMIN": "LAKI-LAKI" if p.sex == 1 else "PEREMPUAN",
                "HUBUNGAN": p.role,
                "ALAMAT": f"KP. {f.street}",
                "RT": f.rt,
                "RW": f.rw,
                "KODE_PROP": int(f.desa[0:2]),
                "KODE_KAB": int(f.desa[2:4]),
                "KODE_KEC": int(f.desa[4:6]),
                "KODE_DESA": int(f.desa[6:10]),
            },
        )

    bansos = Writer(
        "bansos_garut.csv",
        ["NO", "NIK_PENERIMA", "NAMA_PENERIMA", "TEMPAT_TGL_LAHIR", "ALAMAT", "DESA", "KECAMATAN", "PROGRAM"],
        ";",
    )
    for fam in world.families:
        if rng.random() >= 0.35:
            continue
        adults = [p for p in fam.members if p.role in ("KEPALA KELUARGA", "ISTRI")]
        p = adults[-1] if len(adults) > 1 and rng.random() < 0.4 else adults[0]
        name = p.name
        r = rng.random()
        if r < 0.30:
            title = "BPK." if p.sex == 1 else rng.choice(("IBU", "NY.", "IBU"))
            name = f"{title} {name}"
        elif r < 0.33:
            name = f"ALM. {name}"
        if rng.random() < 0.06:
            name = typo(rng, name)
        nik = p.nik
        r = rng.random()
        if nik is None or r < 0.07:
            nik = ""
        elif r < 0.12:
            nik = wrong_digit(rng, nik)
        desa = fam.desa_name
        r = rng.random()
        if r < 0.25:
            desa = spaced(desa)
        elif r < 0.33:
            desa = old_spelling(desa)
        prefix = ("KEL. " if fam.kelurahan else rng.choice(("DS. ", "DESA "))) if rng.random() < 0.6 else ""
        kec = rng.choice(("KEC. ", "KECAMATAN ", "", "")) + fam.kec_name
        bansos.add(
            p,
            {
                "NO": len(bansos.rows) + 1,
                "NIK_PENERIMA": nik,
                "NAMA_PENERIMA": name,
                "TEMPAT_TGL_LAHIR": f"GARUT, {fmt(p.birth, '%d-%m-%Y')}",
                "ALAMAT": f"KP. {fam.street} RT {fam.rt:03d}/{fam.rw:03d}",
                "DESA": prefix + desa,
                "KECAMATAN": kec,
                "PROGRAM": rng.choice(("PKH", "BPNT", "BLT DD")),
            },
        )

    survey = Writer(
        "survei_garut.csv",
        [
            "NO_BANGUNAN",
            "NO_KELUARGA",
            "NO_ART",
            "NAMA_ART",
            "JK",
            "TGL_LAHIR",
            "BLN_LAHIR",
            "THN_LAHIR",
            "NIK",
            "HUB_KRT",
            "KODE_DESA",
        ],
        "\t",
    )
    surveyed = sorted(rng.sample(sorted({f.desa for f in world.families}), 24))
    building = 0
    hub = {"KEPALA KELUARGA": 1, "ISTRI": 2, "SUAMI": 2, "ANAK": 3, "ORANG TUA": 6}
    for fam in world.families:
        if fam.desa not in surveyed or rng.random() < 0.15:
            continue
        building += rng.randint(1, 3)
        no_keluarga = 2 if rng.random() < 0.08 else 1  # a second family in the same building
        for art, p in enumerate(fam.members, start=1):
            day, month, year = p.birth.day, p.birth.month, p.birth.year
            r = rng.random()
            if r < 0.06:
                day = UNKNOWN
            elif r < 0.08:
                day = month = UNKNOWN
            elif r < 0.09:
                year = UNKNOWN
            name = typo(rng, p.name) if rng.random() < 0.06 else p.name
            survey.add(
                p,
                {
                    "NO_BANGUNAN": f"{building:04d}",
                    "NO_KELUARGA": no_keluarga,
                    "NO_ART": art,
                    "NAMA_ART": name,
                    "JK": p.sex,
                    "TGL_LAHIR": day,
                    "BLN_LAHIR": month,
                    "THN_LAHIR": year,
                    "NIK": p.nik if p.nik and rng.random() >= 0.30 else "",
                    "HUB_KRT": hub[p.role],
                    "KODE_DESA": fam.desa,
                },
            )

    pln = Writer("pln_garut.csv", ["IDPEL", "NAMA_PELANGGAN", "NIK", "ALAMAT", "TARIF", "DAYA"], ",")
    for fam in world.families:
        if rng.random() >= 0.45:
            continue
        adults = [p for p in fam.members if p.role in ("KEPALA KELUARGA", "ISTRI")]
        p = adults[-1] if len(adults) > 1 and rng.random() < 0.1 else adults[0]
        name = typo(rng, p.name) if rng.random() < 0.04 else p.name
        desa = spaced(fam.desa_name) if rng.random() < 0.15 else fam.desa_name
        rt = f"RT {fam.rt:03d}/{fam.rw:03d}"
        if rng.random() < 0.15:  # comma-separated trailing parts, no markers
            address = f"KP. {fam.street} {rt}, {desa}, {fam.kec_name}, GARUT"
        else:
            marker = "KEL." if fam.kelurahan else rng.choice(("DS.", "DESA"))
            kec = rng.choice(("KEC.", "KECAMATAN"))
            address = f"KP. {fam.street} {rt} {marker} {desa} {kec} {fam.kec_name} KAB. GARUT"
        tarif, daya = rng.choice((("R1", 450), ("R1", 900), ("R1", 1300), ("R1", 2200)))
        pln.add(
            p,
            {
                "IDPEL": f"13{rng.randrange(10**10):010d}",
                "NAMA_PELANGGAN": name,
                "NIK": p.nik if p.nik and rng.random() < 0.5 else "",
                "ALAMAT": address,
                "TARIF": tarif,
                "DAYA": daya,
            },
        )
    return [register, bansos, survey, pln]


# --- set B: a city --------------------------------------------------------------------------------
def _binjai_name(
    rng: random.Random, sex: int, head: Person | None, role: str, order: int, culture: float
) -> str:
    """Batak (marga; a woman is BR <her father's marga>), Balinese (I/NI + birth order), Malay/Javanese."""
    if culture < 0.40:
        own = head.name.split()[-1] if head is not None and head.sex == 1 else ""
        # a child carries the father's marga; a wife was born into another
        marga = own if role == "ANAK" and own in MARGA else rng.choice([m for m in MARGA if m != own])
        return f"{rng.choice(BATAK_MALE)} {marga}" if sex == 1 else f"{rng.choice(BATAK_FEMALE)} BR {marga}"
    if culture < 0.52:
        birth_order = BALI_ORDER[order % 4] if role == "ANAK" else rng.choice(BALI_ORDER)
        given = rng.choice(BALI_MALE if sex == 1 else BALI_FEMALE)
        return f"{'I' if sex == 1 else 'NI'} {birth_order} {given}"
    if sex == 1:
        first = rng.choice(MELAYU_MALE)
        name = f"MUHAMMAD {first}" if rng.random() < 0.35 else first
    else:
        first = rng.choice(MELAYU_FEMALE)
        name = f"SITI {first}" if rng.random() < 0.2 else first
    return f"{name} {rng.choice(MELAYU_SECOND)}" if rng.random() < 0.7 else name


def name_variant(rng: random.Random, name: str) -> str:
    """How another office writes the same person: boru spelt out or left off, I/NI or MUHAMMAD dropped."""
    words = name.split()
    if " BR " in f" {name} " and rng.random() < 0.5:
        return name.replace(" BR ", rng.choice((" BORU ", " BR. ", " ")))
    if words[0] in ("I", "NI") and rng.random() < 0.5:
        return " ".join(words[1:])
    if words[0] == "MUHAMMAD" and len(words) > 1 and rng.random() < 0.5:
        return " ".join(words[1:])
    if rng.random() < 0.05:
        return typo(rng, name)
    return name


def noisy_id(rng: random.Random, nik: str | None) -> str:
    """A NIK copied by hand or through a spreadsheet: separators, transposed digits, zeros dropped."""
    if nik is None:
        return ""
    r = rng.random()
    if r < 0.05:
        return ""
    if r < 0.10:
        return transposed(rng, nik)
    if r < 0.14:
        return segmented(nik, True, ".")
    if r < 0.30:
        return segmented(nik, False, rng.choice((".", " ", "-")))
    if r < 0.40:
        return f"{nik[:4]} {nik[4:8]} {nik[8:12]} {nik[12:]}"
    return nik


def kota_set(rng: random.Random, n_families: int) -> list[Writer]:
    world = World(rng, "B")
    places = _places("1275", None, rng)
    _build(world, places, n_families, _binjai_name)
    # children not on the family card yet; on the welfare forms some carry a parent's or sibling's NIK
    for fam in world.families:
        for p in fam.members:
            if p.role == "ANAK" and (p.age < 2 or rng.random() < 0.03):
                p.registered, p.nik = False, None
                others = [q for q in fam.members if q is not p and q.nik]
                if others and rng.random() < 0.5:
                    p.nik, p.borrowed_nik = rng.choice(others).nik, True

    register = Writer(
        "penduduk_binjai.csv",
        [
            "NIK",
            "NO_KK",
            "NAMA_LENGKAP",
            "TMP_LAHIR",
            "TGL_LAHIR",
            "JK",
            "STATUS_HUBUNGAN",
            "ALAMAT",
            "KODE_KELURAHAN",
        ],
        "|",
    )
    for p in world.persons:
        if not p.registered:
            continue
        f = p.family
        register.add(
            p,
            {
                "NIK": p.nik,
                "NO_KK": f.kk,
                "NAMA_LENGKAP": p.name,
                "TMP_LAHIR": "BINJAI",
                "TGL_LAHIR": fmt(p.birth, "%d/%m/%Y"),
                "JK": "L" if p.sex == 1 else "P",
                "STATUS_HUBUNGAN": p.role,
                "ALAMAT": f"JL. {f.street} NO. {f.rt}",
                "KODE_KELURAHAN": f"{f.desa[0:2]}.{f.desa[2:4]}.{f.desa[4:6]}.{f.desa[6:]}",
            },
        )

    welfare = Writer(
        "dinsos_binjai.csv",
        [
            "ID_ART",
            "ID_KELUARGA",
            "NO_IDENTITAS",
            "NO_KK",
            "NAMA",
            "TGL_LAHIR",
            "JNS_KELAMIN",
            "ALAMAT",
            "KODE_WILAYAH",
        ],
        ",",
    )
    for fam in world.families:
        if rng.random() >= 0.40:
            continue
        for p in fam.members:
            if rng.random() < 0.05:  # a member missing from the form
                continue
            welfare.add(
                p,
                {
                    "ID_ART": f"ART{len(welfare.rows) + 1:06d}",
                    "ID_KELUARGA": fam.fid,
                    "NO_IDENTITAS": noisy_id(rng, p.nik),
                    "NO_KK": fam.kk,
                    "NAMA": name_variant(rng, p.name),
                    "TGL_LAHIR": fmt(p.birth, "%Y-%m-%d"),
                    "JNS_KELAMIN": "LAKI-LAKI" if p.sex == 1 else "PEREMPUAN",
                    "ALAMAT": f"JL. {fam.street} NO. {fam.rt}",
                    "KODE_WILAYAH": fam.desa,
                },
            )

    service = Writer(
        "layanan_binjai.csv",
        [
            "NO_FORMULIR",
            "NAMA_PEMOHON",
            "UMUR",
            "NO_IDENTITAS",
            "NO_KK",
            "ALAMAT",
            "KELURAHAN",
            "KECAMATAN",
            "LAYANAN",
        ],
        ";",
    )
    form = 0
    for fam in world.families:
        if rng.random() >= 0.30:
            continue
        for p in fam.members:
            if rng.random() < 0.4:
                continue
            for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
                form += 1
                values: dict[str, object] = {
                    "NO_FORMULIR": f"F-{form:06d}",
                    "NAMA_PEMOHON": name_variant(rng, p.name),
                    "UMUR": p.age,
                    "NO_IDENTITAS": noisy_id(rng, p.nik),
                    "NO_KK": fam.kk if rng.random() < 0.8 else "",
                    "ALAMAT": f"JL. {fam.street} NO. {fam.rt}",
                    "KELURAHAN": fam.desa_name,
                    "KECAMATAN": fam.kec_name,
                    "LAYANAN": rng.choice(("KIS", "KIP", "SKTM", "POSYANDU")),
                }
                service.add(p, values)
                if rng.random() < 0.15:  # the same form entered twice: a fully identical row
                    service.add(p, values)
    return [register, welfare, service]


BUILDERS = {"kabupaten": kabupaten_set, "kota": kota_set}


def generate(
    out: Path, seed: int = SEED, families: int = 1100, sets: tuple[str, ...] = SETS
) -> dict[str, Path]:
    """Write each set's exports and ``truth.csv`` under ``out/<set>/``; returns the set directories."""
    written = {}
    for name in sets:
        rng = random.Random(f"{seed}-{name}")  # by name: a set alone draws what it draws among all
        writers = BUILDERS[name](rng, families)
        target = out / name
        target.mkdir(parents=True, exist_ok=True)
        truth: list[tuple[str, int, str]] = []
        for w in writers:
            w.write(target, truth)
        pl.DataFrame(truth, schema=["berkas", "baris", "person_id"], orient="row").write_csv(
            target / "truth.csv"
        )
        written[name] = target
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--families", type=int, default=1100)
    args = parser.parse_args()
    for name, path in generate(args.out, args.seed, args.families).items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
