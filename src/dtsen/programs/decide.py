"""Eligibility: every family x program decided with its reasons, beneficiary lists and budget totals.

Reads the golden persons and families (``docs/batch-plane.md``) and the welfare scores, evaluates every
program definition as Ibis expressions (so the same decision runs on DuckDB and on Spark), and writes
``eligibility.parquet``, ``beneficiaries/<program>.parquet`` and ``budget.parquet`` into ``out_dir``
through a staging directory swapped into place at the end: a failed run leaves the last good outputs.

Every family gets a row per program, eligible or not, and ``alasan`` lists the reasons both ways
(``desil_masuk``, ``komponen_sd``, ``pertahankan_penyakit_katastropik`` for; ``desil_di_luar``,
``tanpa_komponen``, ``kecuali_pemilik_mobil``, ``di_luar_kuota``, ``tanpa_anggota_hidup`` against;
``tinjau_*`` for exclusions that send a family to review instead of dropping it). Dead persons never
count: a registered death takes the person out of every program at the next decision.
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from dtsen.atomic import atomic_dir, sha256_file
from dtsen.conditions import compile_condition
from dtsen.engine import Engine, get_engine
from dtsen.logs import get_logger
from dtsen.programs.definition import (
    DESIL_COLUMNS,
    SCORE_COLUMNS,
    Exclusion,
    Program,
    definitions_dir,
    load_programs,
)
from dtsen.programs.flags import FlagList, load_flag_list
from dtsen.welfare.rankable import RANKED

log = get_logger(__name__)

ELIGIBILITY_COLUMNS = (
    "program",
    "id_keluarga_dtsen",
    "layak",
    "alasan",
    "jumlah_penerima",
    "nilai_tahunan",
    "kode_prov",
    "kode_kab",
)
PERSON_REQUIRED = ("id_dtsen", "id_keluarga_dtsen", "nik", "status_hidup", "tanggal_meninggal")
FAMILY_REQUIRED = ("id_keluarga_dtsen", "no_kk", "id_kepala", "kode_prov", "kode_kab")
SCORE_REQUIRED = ("id_keluarga_dtsen", "peringkat", *DESIL_COLUMNS)
SCORE_OPTIONAL = ("status_peringkat",)  # scores written before ranking status existed lack it
Programs = Mapping[str, tuple[Program, list[Exclusion]]]


class DecideError(ValueError):
    """Inputs that cannot be decided on (a missing column, an unknown quota program); nothing was written."""


@dataclass
class DecideResult:
    out_dir: Path
    families: int
    eligible: dict[str, int]  # program -> eligible families
    beneficiaries: dict[str, int]  # program -> rows in its list
    budget: dict[str, int]  # program -> rupiah a year
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def load_quotas(path: Path) -> dict[str, dict[str, int]]:
    """A quota file (CSV: ``program,kode_wilayah,kuota``) as program -> region code -> families."""
    out: dict[str, dict[str, int]] = {}
    with Path(path).open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"program", "kode_wilayah", "kuota"} - set(reader.fieldnames or [])
        if missing:
            raise DecideError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            try:
                value = int(row["kuota"])
            except (TypeError, ValueError):
                raise DecideError(f"{path}: line {line}, kuota: {row['kuota']!r} is not a number") from None
            if value < 0:
                raise DecideError(f"{path}: line {line}, kuota: must be >= 0")
            out.setdefault(row["program"].strip(), {})[row["kode_wilayah"].strip()] = value
    return out


def _table(eng: Engine, source: Path | str | ir.Table) -> ir.Table:
    return source if isinstance(source, ir.Table) else eng.read_parquet(source)


def _require(table: ir.Table, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DecideError(f"{what} lacks column(s) {', '.join(missing)} (see docs/batch-plane.md)")


class _Evaluator:
    """The expressions of one decision run: inputs, flag lists and quotas bound to one engine."""

    def __init__(
        self,
        eng: Engine,
        persons: ir.Table,
        families: ir.Table,
        scores: ir.Table,
        flag_lists: Mapping[str, FlagList],
        quotas: Mapping[str, Mapping[str, int]],
    ) -> None:
        self.eng, self.flag_lists, self.quotas = eng, flag_lists, quotas
        self.persons = persons.mutate(
            _hidup=persons.status_hidup.fill_null(True) & persons.tanggal_meninggal.isnull()
        )
        carried = [*SCORE_REQUIRED[1:], *(c for c in SCORE_OPTIONAL if c in scores.columns)]
        s = scores.select(_sid=scores.id_keluarga_dtsen, **{c: scores[c] for c in carried})
        self.families = families.left_join(s, families.id_keluarga_dtsen == s._sid).drop("_sid")
        self.family_rows, self.score_columns = families, carried  # for lists that carry no score
        self.notes: list[str] = []
        self._member_columns: dict[str, str] = {}  # a member-level test -> its column in family_base

    def _member_column(self, ex: Exclusion) -> str | None:
        """The family_base column of ``ex``'s test on the living members (None: not a member test);
        programs sharing an exclusion share the column."""
        if ex.level == "anggota" and ex.when is not None:
            key = f"when:{ex.when.model_dump_json()}"
        elif ex.list is not None and ex.list in self.flag_lists:
            key = f"list:{ex.list}"
        else:
            return None
        return self._member_columns.setdefault(key, f"_x{len(self._member_columns)}")

    def family_base(self, exclusion_sets: Iterable[Sequence[Exclusion]]) -> ir.Table:
        """Families with their scores, living members (``_n_hidup``) and member-level exclusion tests:
        what every program's family table starts from, so it can be computed once for all of them."""
        p = self.persons
        living = p.filter(p._hidup)
        agg: dict[str, Any] = {"_n_hidup": living.count()}
        for ex in (ex for exclusions in exclusion_sets for ex in exclusions):
            column = self._member_column(ex)
            if column is None or column in agg:
                continue
            if ex.list is not None:
                niks = self.eng.memtable(self.flag_lists[ex.list].tables()[0])
                agg[column] = living.nik.isin(niks.nik).fill_null(False).any()
            else:
                assert ex.when is not None  # _member_column: a member test has a condition
                agg[column] = compile_condition(ex.when, living).any()
        per_family = living.group_by(_pid=living.id_keluarga_dtsen).aggregate(**agg)
        f = self.families
        return f.left_join(per_family, f.id_keluarga_dtsen == per_family._pid).drop("_pid")

    def base_columns(self, loaded: Programs, base: ir.Table) -> list[str]:
        """The columns of ``family_base`` that family_table reads for the programs of ``loaded``."""
        wanted = {
            *FAMILY_REQUIRED,
            *SCORE_REQUIRED,
            *SCORE_OPTIONAL,
            "_n_hidup",
            *self._member_columns.values(),
        }
        for program, exclusions in loaded.values():
            wanted |= {c for e in exclusions if e.level == "keluarga" and e.when for c in e.when.columns()}
            if program.quota is not None:
                wanted.add(program.quota.level)
        return [c for c in base.columns if c in wanted]

    # -- per person ---------------------------------------------------------------------------------
    def component_persons(self, program: Program) -> ir.Table:
        """Living persons matching a component (the highest amount wins), ranked in their family;
        ``_dihitung`` marks the ones counted under ``max_persons``."""
        p = self.persons
        ordered = sorted(program.components, key=lambda c: -c.amount)  # stable: file order breaks ties
        tests = [(p._hidup & compile_condition(c.when, p), c) for c in ordered]
        p = p.mutate(
            komponen=ibis.cases(*[(t, c.code) for t, c in tests], else_=ibis.null("string")),
            nilai=ibis.cases(*[(t, ibis.literal(c.amount, "int64")) for t, c in tests], else_=0),
        )
        p = p.filter(p.komponen.notnull())
        cap = program.max_persons
        if cap is None:  # everyone counts: no ranking (a window over every matching person) needed
            return p.mutate(_dihitung=ibis.literal(True))
        order = [ibis.desc(p.nilai), p.id_dtsen]
        p = p.mutate(_urut=ibis.row_number().over(group_by=p.id_keluarga_dtsen, order_by=order))
        return p.mutate(_dihitung=p._urut < cap)

    def member_persons(self, program: Program) -> ir.Table:
        """Living persons with the keep rule they match (``_tetap``); the family's desil (``_desil``) only
        when a keep rule caps it."""
        p = self.persons.filter(self.persons._hidup)
        if any(k.max_desil is not None for k in program.keep):  # a join over every person: only if asked
            f = self.families.select(
                _fid=self.families.id_keluarga_dtsen, _desil=self.families[program.target.desil]
            )
            p = p.left_join(f, p.id_keluarga_dtsen == f._fid).drop("_fid")
        branches = []
        for k in program.keep:
            test = compile_condition(k.when, p)
            if k.max_desil is not None:
                test = test & (p._desil <= k.max_desil).fill_null(False)
            branches.append((test, k.code))
        keep = ibis.cases(*branches, else_=ibis.null("string")) if branches else ibis.null("string")
        return p.mutate(_tetap=keep)

    # -- per family ---------------------------------------------------------------------------------
    def family_table(self, program: Program, exclusions: Sequence[Exclusion], base: ir.Table) -> ir.Table:
        """One row per family: the decision, its reasons and amounts, plus working columns (``_*``).
        ``base``: :meth:`family_base`, computed once for every program's exclusions."""
        f = base

        if program.benefit == "components":
            cp = self.component_persons(program)
            code_any = {
                f"_k_{c.code}": ((cp.komponen == c.code) & cp._dihitung).any() for c in program.components
            }
            stats = cp.group_by(_cid=cp.id_keluarga_dtsen).aggregate(
                _n_cocok=cp.count(),
                _n_hitung=cp._dihitung.sum(),
                _nilai=ibis.ifelse(cp._dihitung, cp.nilai, 0).sum(),
                **code_any,
            )
            f = f.left_join(stats, f.id_keluarga_dtsen == stats._cid).drop("_cid")
        elif program.benefit == "members" and program.keep:
            mp = self.member_persons(program)
            keep_any = {f"_t_{k.code}": (mp._tetap == k.code).fill_null(False).any() for k in program.keep}
            stats = mp.group_by(_cid=mp.id_keluarga_dtsen).aggregate(
                _n_tetap=mp._tetap.notnull().sum(), **keep_any
            )
            f = f.left_join(stats, f.id_keluarga_dtsen == stats._cid).drop("_cid")

        n_hidup = f._n_hidup.fill_null(0)
        desil = f[program.target.desil]
        # a family the welfare model could not rank is never made eligible automatically, not even by a
        # keep rule: it goes to data collection or a ground check first (dtsen.welfare.rankable)
        not_ranked = (
            (f.status_peringkat != RANKED).fill_null(False)
            if "status_peringkat" in f.columns
            else ibis.literal(False)
        )
        in_target = (desil <= program.target.max).fill_null(False) & ~not_ranked
        kept = ibis.literal(False)
        if program.benefit == "components":
            n_persons = f._n_hitung.fill_null(0)
            amount = f._nilai.fill_null(0) + ibis.ifelse(n_persons > 0, program.family_amount, 0)
            has_benefit = n_persons > 0
        elif program.benefit == "members":
            n_kept = f._n_tetap.fill_null(0) if program.keep else ibis.literal(0)
            kept = ~in_target & ~not_ranked & (n_kept > 0)
            n_persons = ibis.ifelse(in_target, n_hidup, ibis.ifelse(kept, n_kept, 0))
            amount = n_persons * program.member_amount
            has_benefit = n_persons > 0
        else:
            n_persons = n_hidup
            amount = ibis.ifelse(n_hidup > 0, program.family_amount, 0)
            has_benefit = n_hidup > 0

        flags: dict[str, ir.BooleanValue] = {}
        for ex in exclusions:
            if ex.level == "keluarga" and ex.when is not None:
                flags[ex.code] = compile_condition(ex.when, f)
            elif ex.list is not None:
                if ex.list not in self.flag_lists:
                    note = f"{program.code}: flag list {ex.list!r} was not supplied; nobody flagged by it"
                    if note not in self.notes:
                        self.notes.append(note)
                    flags[ex.code] = ibis.literal(False)
                    continue
                kks = self.eng.memtable(self.flag_lists[ex.list].tables()[1])
                member = f[self._member_column(ex)].fill_null(False)
                flags[ex.code] = member | f.no_kk.isin(kks.no_kk).fill_null(False)
            else:
                flags[ex.code] = f[self._member_column(ex)].fill_null(False)
        excluded = ibis.literal(False)
        for ex in exclusions:
            if ex.action == "exclude":
                excluded = excluded | flags[ex.code]
        f = f.mutate(
            _in_target=in_target,
            _kept=kept,
            _n_persons=n_persons.cast("int64"),
            _amount=amount.cast("int64"),
            _pre=(in_target | kept) & has_benefit & ~excluded,
            **{f"_f_{code}": flag for code, flag in flags.items()},
        )
        f, over_quota = self._quota(program, f)

        layak = f._pre & ~over_quota
        reasons: list[ir.StringValue] = [
            ibis.ifelse(
                not_ranked,
                "tidak_diperingkat",
                ibis.ifelse(
                    desil.isnull(), "tanpa_desil", ibis.ifelse(in_target, "desil_masuk", "desil_di_luar")
                ),
            ),
            ibis.ifelse(n_hidup == 0, "tanpa_anggota_hidup", ibis.null("string")),
        ]
        for k in program.keep:
            reasons.append(
                ibis.ifelse(
                    f._kept & f[f"_t_{k.code}"].fill_null(False), f"pertahankan_{k.code}", ibis.null("string")
                )
            )
        if program.benefit == "components":
            for c in program.components:
                reasons.append(
                    ibis.ifelse(f[f"_k_{c.code}"].fill_null(False), f"komponen_{c.code}", ibis.null("string"))
                )
            reasons.append(
                ibis.ifelse((n_hidup > 0) & (f._n_persons == 0), "tanpa_komponen", ibis.null("string"))
            )
            if program.max_persons is not None:
                reasons.append(
                    ibis.ifelse(
                        f._n_cocok.fill_null(0) > program.max_persons,
                        f"batas_{program.max_persons}_orang",
                        ibis.null("string"),
                    )
                )
        for ex in exclusions:
            reasons.append(ibis.ifelse(f[f"_f_{ex.code}"], ex.reason, ibis.null("string")))
        reasons.append(ibis.ifelse(over_quota, "di_luar_kuota", ibis.null("string")))
        alasan = ibis.literal(",").join(reasons).split(",")
        return f.mutate(
            program=ibis.literal(program.code),
            layak=layak,
            alasan=alasan,
            jumlah_penerima=ibis.ifelse(layak, f._n_persons, 0).cast("int64"),
            nilai_tahunan=ibis.ifelse(layak, f._amount, 0).cast("int64"),
        )

    def _quota(self, program: Program, f: ir.Table) -> tuple[ir.Table, ir.BooleanValue]:
        """Families beyond a region's quota (the poorest by national rank keep their place)."""
        if program.quota is None:
            return f, ibis.literal(False)
        values = {**program.quota.values, **self.quotas.get(program.code, {})}
        if not values:
            self.notes.append(f"{program.code}: quota by {program.quota.level} declared, no values given")
            return f, ibis.literal(False)
        level = program.quota.level
        table = self.eng.memtable(
            pa.table({"_qregion": list(values), "_kuota": pa.array(list(values.values()), pa.int64())})
        )
        order = [f.peringkat.asc(nulls_first=False), f.id_keluarga_dtsen]
        f = f.mutate(_urut_kuota=ibis.row_number().over(group_by=[f[level], f._pre], order_by=order))
        f = f.left_join(table, f[level] == table._qregion).drop("_qregion")
        return f, f._pre & f._kuota.notnull() & (f._urut_kuota >= f._kuota)


def _program_digest(directory: Path | None, code: str) -> str | None:
    path = (directory or definitions_dir()) / f"{code}.yaml"
    return sha256_file(path) if path.is_file() else None


def decide(
    persons: Path | str | ir.Table,
    families: Path | str | ir.Table,
    scores: Path | str | ir.Table,
    out_dir: Path,
    *,
    programs: Path | Programs | None = None,
    flag_lists: Sequence[FlagList | Path] = (),
    quotas: Path | Mapping[str, Mapping[str, int]] | None = None,
    engine: str | Engine | None = None,
) -> DecideResult:
    """Decide every program for every family and write the outputs into ``out_dir`` (replaced whole).

    ``programs`` is a directory of YAML definitions (default: the shipped ones) or already loaded ones;
    ``flag_lists`` are :class:`FlagList` objects or files (``ppatk.csv`` becomes list ``ppatk``);
    ``quotas`` is a quota CSV or ``{program: {region code: families}}``.
    """
    start = time.perf_counter()
    eng = engine if isinstance(engine, Engine) else get_engine(engine)
    program_dir = programs if isinstance(programs, Path) else None
    loaded: Programs = (
        load_programs(program_dir) if programs is None or isinstance(programs, Path) else programs
    )
    lists = {fl.name: fl for fl in (x if isinstance(x, FlagList) else load_flag_list(x) for x in flag_lists)}
    quota_values = load_quotas(quotas) if isinstance(quotas, Path | str) else dict(quotas or {})
    unknown = sorted(set(quota_values) - set(loaded))
    if unknown:
        raise DecideError(f"quotas name unknown program(s) {', '.join(unknown)}")
    for code in quota_values:
        if loaded[code][0].quota is None:
            raise DecideError(f"quotas given for {code}, whose definition declares no quota level")

    p, f, s = _table(eng, persons), _table(eng, families), _table(eng, scores)
    _require(p, PERSON_REQUIRED, "persons")
    _require(f, FAMILY_REQUIRED, "families")
    _require(s, SCORE_REQUIRED, "scores")
    for code, (program, exclusions) in loaded.items():
        person_cols = {c for comp in program.components for c in comp.when.columns()}
        person_cols |= {c for k in program.keep for c in k.when.columns()}
        person_cols |= {c for e in exclusions if e.level == "anggota" and e.when for c in e.when.columns()}
        family_cols = {c for e in exclusions if e.level == "keluarga" and e.when for c in e.when.columns()}
        _require(p, sorted(person_cols), f"persons (program {code})")
        _require(f, sorted(c for c in family_cols if c not in SCORE_COLUMNS), f"families (program {code})")

    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as staging:
        (staging / "beneficiaries").mkdir()
        work = staging / "_work"
        work.mkdir()
        ev = _Evaluator(eng, p, f, s, lists, quota_values)
        result = _run(eng, ev, loaded, staging, work)
        shutil.rmtree(work)
        result.notes = ev.notes
        manifest = {
            "programs": {
                code: {
                    "name": program.name,
                    "definition_sha256": _program_digest(program_dir, code),
                    "eligible": result.eligible[code],
                    "beneficiaries": result.beneficiaries[code],
                    "budget": result.budget[code],
                }
                for code, (program, _) in loaded.items()
            },
            "flag_lists": {
                n: {"nik": len(fl.nik), "no_kk": len(fl.no_kk)} for n, fl in sorted(lists.items())
            },
            "quotas": quota_values,
            "families": result.families,
            "notes": ev.notes,
            "engine": eng.name,
        }
        (staging / "programs.json").write_text(
            json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8"
        )
    result.out_dir, result.seconds = out_dir, round(time.perf_counter() - start, 3)
    for note in ev.notes:
        log.warning(note)
    log.info("programs decided", programs=len(loaded), families=result.families, seconds=result.seconds)
    return result


def _work_columns(program: Program) -> list[str]:
    """The columns of a program's family table that the outputs read back (the rest are its workings)."""
    flags = [f"_k_{c.code}" for c in program.components] if _komponen_from_flags(program) else []
    return [*ELIGIBILITY_COLUMNS, "_in_target", "_kept", *flags]


def _komponen_from_flags(program: Program) -> bool:
    return (
        program.unit == "keluarga" and program.benefit == "components" and "komponen" in program.list_fields
    )


def _run(eng: Engine, ev: _Evaluator, loaded: Programs, staging: Path, work: Path) -> DecideResult:
    # the families' side every program shares (scores, living members, member exclusions), once
    base = ev.family_base(exclusions for _, exclusions in loaded.values())
    shared = work / "shared"  # a folder: no clash with a program's file; Spark skips files named _*
    shared.mkdir()
    eng.write_parquet(base.select(*ev.base_columns(loaded, base)), shared / "families.parquet")
    base = eng.read_parquet(shared / "families.parquet")
    family_files: dict[str, Path] = {}
    for code, (program, exclusions) in loaded.items():
        path = work / f"{code}.parquet"
        table = ev.family_table(program, exclusions, base)
        eng.write_parquet(table.select(*_work_columns(program)), path)  # its schema: sums are int64
        family_files[code] = path
    parts = [eng.read_parquet(path).select(*ELIGIBILITY_COLUMNS) for path in family_files.values()]
    eligibility = ibis.union(*parts) if len(parts) > 1 else parts[0]
    eng.write_parquet(eligibility.order_by(["program", "id_keluarga_dtsen"]), staging / "eligibility.parquet")

    beneficiaries: dict[str, int] = {}
    for code, (program, _) in loaded.items():
        decided = eng.read_parquet(family_files[code])
        expr = _beneficiaries(ev, program, decided.filter(decided.layak))
        beneficiaries[code] = eng.write_parquet(expr, staging / "beneficiaries" / f"{code}.parquet")

    elig = eng.read_parquet(staging / "eligibility.parquet")
    eng.write_parquet(_budget(elig), staging / "budget.parquet")
    totals = eng.to_pyarrow(
        elig.group_by("program").aggregate(
            keluarga=elig.count(), layak=elig.layak.sum(), nilai=elig.nilai_tahunan.sum()
        )
    ).to_pylist()
    by_program = {row["program"]: row for row in totals}
    return DecideResult(
        out_dir=staging,
        families=int(next(iter(by_program.values()))["keluarga"]) if by_program else 0,
        eligible={c: int(by_program.get(c, {}).get("layak") or 0) for c in loaded},
        beneficiaries=beneficiaries,
        budget={c: int(by_program.get(c, {}).get("nilai") or 0) for c in loaded},
    )


def _beneficiaries(ev: _Evaluator, program: Program, decided: ir.Table) -> ir.Table:
    """The program's beneficiary list: one row per eligible family or covered person, only its fields."""
    per_tahap = program.payments_per_year
    # the families with their scores when the list carries a score (one row per family either way)
    fam = ev.families if set(program.list_fields) & set(ev.score_columns) else ev.family_rows
    family_cols = [c for c in fam.columns if not c.startswith("_")]
    d = decided.select(
        _did=decided.id_keluarga_dtsen,
        _in_target=decided._in_target,
        _kept=decided._kept,
        jumlah_penerima=decided.jumlah_penerima,
        _nilai_keluarga=decided.nilai_tahunan,
        alasan=decided.alasan,
        **{c: decided[c] for c in decided.columns if c.startswith("_k_")},
    )
    if program.unit == "keluarga":
        t = fam.select(*family_cols).inner_join(d, fam.id_keluarga_dtsen == d._did)
        head = ev.persons.select(
            _hid=ev.persons.id_dtsen, nik_kepala=ev.persons.nik, nama_kepala=ev.persons.nama
        )
        t = t.left_join(head, t.id_kepala == head._hid)
        if _komponen_from_flags(program):
            # the sorted distinct codes of the counted persons: the codes whose _k_ flag is set (null
            # when nobody is counted, as a collect over no rows)
            listed = ibis.array(
                [
                    ibis.ifelse(t[f"_k_{code}"].fill_null(False), code, ibis.null("string"))
                    for code in sorted(c.code for c in program.components)
                ]
            ).filter(lambda code: code.notnull())
            t = t.mutate(komponen=ibis.ifelse(t.jumlah_penerima > 0, listed, ibis.null("array<string>")))
        t = t.mutate(
            nilai_tahunan=t._nilai_keluarga, nilai_per_tahap=(t._nilai_keluarga // per_tahap).cast("int64")
        )
        return t.select(*program.list_fields).order_by("id_keluarga_dtsen")

    if program.benefit == "components":
        persons = ev.component_persons(program)
        persons = persons.filter(persons._dihitung)
        persons = persons.mutate(_nilai_orang=persons.nilai)
    else:
        persons = ev.member_persons(program)
        persons = persons.mutate(
            komponen=ibis.coalesce(persons._tetap, "anggota"),
            _nilai_orang=ibis.literal(program.member_amount, "int64"),
        )
    # a listed field comes from the person when persons carry it, else from the family; the family
    # fields are joined to the decided families (one row per family) before the join with the persons
    person_cols = set(persons.columns) | set(d.columns)
    wanted = [c for c in family_cols if c not in person_cols and c in program.list_fields]
    fam_only = fam.select(_fid=fam.id_keluarga_dtsen, no_kk_keluarga=fam.no_kk, **{c: fam[c] for c in wanted})
    d = d.left_join(fam_only, d._did == fam_only._fid).drop("_fid")
    t = persons.inner_join(d, persons.id_keluarga_dtsen == d._did)
    if program.benefit == "members":
        t = t.filter(t._in_target | (t._kept & t._tetap.notnull()))  # kept families: only the patients
    t = t.mutate(nilai_tahunan=t._nilai_orang, nilai_per_tahap=(t._nilai_orang // per_tahap).cast("int64"))
    return t.select(*program.list_fields).order_by("id_dtsen")


def _budget(elig: ir.Table) -> ir.Table:
    """Totals of eligible families, persons and rupiah by program at kab/kota, province and national level."""
    e = elig.filter(elig.layak)
    measures = {
        "keluarga": e.count(),
        "penerima": e.jumlah_penerima.sum().cast("int64"),
        "nilai_tahunan": e.nilai_tahunan.sum().cast("int64"),
    }
    kab = e.group_by(["program", "kode_prov", "kode_kab"]).aggregate(**measures)
    kab = kab.mutate(tingkat=ibis.literal("kabkota"))
    prov = e.group_by(["program", "kode_prov"]).aggregate(**measures)
    prov = prov.mutate(kode_kab=ibis.null("string"), tingkat=ibis.literal("provinsi"))
    nat = e.group_by("program").aggregate(**measures)
    nat = nat.mutate(
        kode_prov=ibis.null("string"), kode_kab=ibis.null("string"), tingkat=ibis.literal("nasional")
    )
    columns = ["program", "tingkat", "kode_prov", "kode_kab", "keluarga", "penerima", "nilai_tahunan"]
    out = ibis.union(nat.select(*columns), prov.select(*columns), kab.select(*columns))
    return out.order_by(["program", "tingkat", "kode_prov", "kode_kab"])
