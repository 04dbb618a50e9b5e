"""The workflows as data: each one's states, and the transitions between them with who may take them and
what they must record.

One definition per workflow, readable without the code that runs it (:mod:`dtsen.workflows.moves`):

* **usulan** (a family proposed by a citizen or the desa): received -> confirmed by the desa -> a home
  visit assigned to a pendamping -> visited -> decided by the musyawarah desa -> verified by the dinsos of
  the kab/kota -> approved changes go into the next cycle -> done when the snapshot is published.
* **sanggahan** (an objection, typed): received -> confirmed -> triaged by the dinsos: to a ground check, or
  decided on the documents -> approved or rejected with a reason -> done when published.
* **verval** (a ground check the dinsos assigns, borderline families first): assigned -> visited (or not
  found) -> approved or rejected by the dinsos -> done when published.

A transition names the roles that may take it; the region rule is separate and the same for all (the case's
village must lie inside the actor's regions, :meth:`dtsen.auth.scope.Principal.may_see_region`), and a
pendamping may report only visits assigned to them. ``requires`` lists the fields the step must record
(non-empty); ``documents`` the document kinds it must carry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dtsen.auth.scope import Role
from dtsen.web.i18n import N_

# The cycle itself (recording outcomes after publish) acts as this role.
SYSTEM_ROLES = frozenset({Role.ADMIN_BPS})
DESA = frozenset({Role.OPERATOR_DESA})
DINSOS = frozenset({Role.DINSOS})
DESA_OR_DINSOS = DESA | DINSOS
PENDAMPING = frozenset({Role.PENDAMPING})


@dataclass(frozen=True)
class State:
    name: str
    label: str  # msgid
    terminal: bool = False
    public_label: str | None = None  # what the citizen's Lacak page says (msgid); None: as label


@dataclass(frozen=True)
class Transition:
    action: str
    label: str  # msgid, the button
    sources: tuple[str, ...]
    target: str
    roles: frozenset[Role]
    requires: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()
    assigned_only: bool = False  # only the pendamping the case is assigned to
    approves: bool = False  # the case's recorded changes become approved changes for the next cycle
    acknowledges: bool = True  # counts as the acknowledgement the PDP law's 3x24-hour clock waits for


@dataclass(frozen=True)
class Workflow:
    name: str
    label: str
    initial: str
    states: tuple[State, ...]
    transitions: tuple[Transition, ...] = field(default=())

    def state(self, name: str) -> State:
        for state in self.states:
            if state.name == name:
                return state
        raise KeyError(f"{self.name}: no state {name!r}")

    def transition(self, action: str) -> Transition:
        for transition in self.transitions:
            if transition.action == action:
                return transition
        raise KeyError(f"{self.name}: no action {action!r}")

    def available(self, state: str) -> tuple[Transition, ...]:
        return tuple(t for t in self.transitions if state in t.sources)

    def check(self) -> None:
        """Every transition joins known states; every non-terminal state has a way out."""
        names = {state.name for state in self.states}
        if self.initial not in names:
            raise ValueError(f"{self.name}: initial state {self.initial!r} is not a state")
        for transition in self.transitions:
            unknown = {*transition.sources, transition.target} - names
            if unknown:
                raise ValueError(f"{self.name}.{transition.action}: unknown states {sorted(unknown)}")
        for state in self.states:
            if not state.terminal and not self.available(state.name):
                raise ValueError(f"{self.name}: state {state.name!r} has no way out")


# The states the three workflows share (names and words).
DITERIMA = State("diterima", N_("Diterima"), public_label=N_("Diterima, menunggu ditanggapi desa/kelurahan"))
DIKONFIRMASI = State(
    "dikonfirmasi", N_("Dikonfirmasi desa"), public_label=N_("Dikonfirmasi oleh desa/kelurahan")
)
KUNJUNGAN = State(
    "kunjungan",
    N_("Menunggu kunjungan pendamping"),
    public_label=N_("Sedang diverifikasi: kunjungan rumah dijadwalkan"),
)
DIKUNJUNGI = State("dikunjungi", N_("Sudah dikunjungi"), public_label=N_("Sedang diverifikasi"))
MUSDES = State("musdes", N_("Menunggu musyawarah desa"), public_label=N_("Sedang diverifikasi"))
VERIFIKASI = State(
    "verifikasi", N_("Menunggu verifikasi dinas sosial"), public_label=N_("Sedang diverifikasi")
)
DISETUJUI = State(
    "disetujui",
    N_("Disetujui, masuk pemutakhiran berikutnya"),
    public_label=N_("Disetujui; perubahan masuk pemutakhiran data triwulan berikutnya"),
)
DITOLAK = State("ditolak", N_("Ditolak"), terminal=True, public_label=N_("Ditolak"))
DIGABUNG = State(
    "digabung",
    N_("Digabung dengan usulan lain"),
    terminal=True,
    public_label=N_("Digabung dengan usulan lain untuk keluarga yang sama"),
)
SELESAI = State(
    "selesai",
    N_("Selesai: hasil sudah terbit"),
    terminal=True,
    public_label=N_("Selesai: hasilnya sudah terbit"),
)
DITUGASKAN = State("ditugaskan", N_("Ditugaskan ke pendamping"))
TIDAK_DITEMUI = State("tidak_ditemui", N_("Keluarga tidak ditemui"), terminal=True)


def report_visit(source: str) -> Transition:
    """The assigned pendamping sends the visit's result (the offline field form)."""
    return Transition(
        "laporkan_kunjungan",
        N_("Kirim hasil kunjungan"),
        (source,),
        "dikunjungi",
        PENDAMPING,
        requires=("hasil",),
        assigned_only=True,
    )


RECORD_OUTCOME = Transition(
    "catat_hasil",
    N_("Catat hasil pemutakhiran"),
    ("disetujui",),
    "selesai",
    SYSTEM_ROLES,
    requires=("snapshot",),
)
CONFIRM = Transition("konfirmasi", N_("Konfirmasi diterima"), ("diterima",), "dikonfirmasi", DESA_OR_DINSOS)
ASSIGN_VISIT = Transition(
    "tugaskan_kunjungan",
    N_("Tugaskan kunjungan rumah"),
    ("dikonfirmasi",),
    "kunjungan",
    DESA_OR_DINSOS,
    requires=("pendamping",),
)
JOIN = Transition(
    "gabungkan",
    N_("Gabungkan dengan usulan lain"),
    ("diterima", "dikonfirmasi"),
    "digabung",
    DESA_OR_DINSOS,
    requires=("kasus_induk",),
)

USULAN = Workflow(
    "usulan",
    N_("Usulan keluarga"),
    "diterima",
    (DITERIMA, DIKONFIRMASI, KUNJUNGAN, DIKUNJUNGI, VERIFIKASI, DISETUJUI, DITOLAK, DIGABUNG, SELESAI),
    (
        CONFIRM,
        ASSIGN_VISIT,
        JOIN,
        report_visit("kunjungan"),
        # The musyawarah desa decides each visited proposal (recorded through its session).
        Transition(
            "setujui_musdes",
            N_("Disetujui musyawarah desa"),
            ("dikunjungi",),
            "verifikasi",
            DESA,
            requires=("musdes",),
        ),
        Transition(
            "tolak_musdes",
            N_("Ditolak musyawarah desa"),
            ("dikunjungi",),
            "ditolak",
            DESA,
            requires=("musdes", "alasan"),
        ),
        Transition(
            "setujui",
            N_("Setujui (verifikasi dinas sosial)"),
            ("verifikasi",),
            "disetujui",
            DINSOS,
            requires=("nomor_keputusan",),
            approves=True,
        ),
        Transition(
            "tolak",
            N_("Tolak"),
            ("dikonfirmasi", "kunjungan", "dikunjungi", "verifikasi"),
            "ditolak",
            DINSOS,
            requires=("alasan",),
        ),
        RECORD_OUTCOME,
    ),
)

SANGGAHAN = Workflow(
    "sanggahan",
    N_("Sanggahan"),
    "diterima",
    (DITERIMA, DIKONFIRMASI, KUNJUNGAN, DIKUNJUNGI, DISETUJUI, DITOLAK, DIGABUNG, SELESAI),
    (
        CONFIRM,
        JOIN,
        Transition(
            "periksa_lapangan",
            N_("Periksa di lapangan"),
            ("dikonfirmasi",),
            "kunjungan",
            DINSOS,
            requires=("pendamping",),
        ),
        report_visit("kunjungan"),
        # Decided on the documents (from dikonfirmasi) or after the ground check (from dikunjungi).
        Transition(
            "setujui",
            N_("Terima sanggahan"),
            ("dikonfirmasi", "dikunjungi"),
            "disetujui",
            DINSOS,
            requires=("nomor_keputusan", "alasan"),
            approves=True,
        ),
        Transition(
            "tolak",
            N_("Tolak sanggahan"),
            ("dikonfirmasi", "kunjungan", "dikunjungi"),
            "ditolak",
            DINSOS,
            requires=("alasan",),
        ),
        RECORD_OUTCOME,
    ),
)

VERVAL = Workflow(
    "verval",
    N_("Verifikasi dan validasi lapangan"),
    "ditugaskan",
    (DITUGASKAN, DIKUNJUNGI, TIDAK_DITEMUI, DISETUJUI, DITOLAK, SELESAI),
    (
        report_visit("ditugaskan"),
        Transition(
            "tidak_ditemui",
            N_("Keluarga tidak ditemui"),
            ("ditugaskan",),
            "tidak_ditemui",
            PENDAMPING,
            requires=("alasan",),
            assigned_only=True,
        ),
        Transition(
            "setujui",
            N_("Setujui hasil lapangan"),
            ("dikunjungi",),
            "disetujui",
            DINSOS,
            requires=("nomor_keputusan",),
            approves=True,
        ),
        Transition(
            "tolak", N_("Tolak hasil lapangan"), ("dikunjungi",), "ditolak", DINSOS, requires=("alasan",)
        ),
        RECORD_OUTCOME,
    ),
)

WORKFLOWS: dict[str, Workflow] = {workflow.name: workflow for workflow in (USULAN, SANGGAHAN, VERVAL)}
for _workflow in WORKFLOWS.values():
    _workflow.check()


def describe(workflow: Workflow) -> str:
    """The workflow as a Markdown table (``docs/workflows.md`` holds these; a test keeps them in step)."""
    lines = [
        f"### `{workflow.name}`: {workflow.label}",
        "",
        f"Starts in `{workflow.initial}`. Terminal: "
        + ", ".join(f"`{state.name}`" for state in workflow.states if state.terminal)
        + ".",
        "",
        "| action | from | to | who | records | notes |",
        "|---|---|---|---|---|---|",
    ]
    for t in workflow.transitions:
        notes = [
            *(["only the assigned pendamping"] if t.assigned_only else []),
            *(["recorded changes become approved changes"] if t.approves else []),
        ]
        sources = ", ".join(f"`{source}`" for source in t.sources)
        roles = ", ".join(sorted(role.value for role in t.roles))
        records = ", ".join(f"`{name}`" for name in (*t.requires, *t.documents)) or "–"
        lines.append(
            f"| `{t.action}` ({t.label}) | {sources} | `{t.target}` | {roles} | {records} | "
            f"{'; '.join(notes)} |"
        )
    return "\n".join(lines)
