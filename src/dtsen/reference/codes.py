"""Regsosek 2022 (REGSOSEK22-K) and Dukcapil/SIAK code lists as typed enums with Indonesian labels.

The one place code lists live: the synthetic generator draws from them, ingestion maps source codes to
them, the data-model doc is rendered from them. Labels follow the public questionnaire template and
validator (not an official BPS document); the SIAK lists follow Dukcapil's export conventions.
Every enum member has ``.label`` (Bahasa Indonesia) and ``.label_en``.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Self


class CodeList(IntEnum):
    """An integer code with Indonesian and English labels: ``Lantai.TANAH.label == 'Tanah'``."""

    label: str
    label_en: str

    def __new__(cls, value: int, label: str, label_en: str = "") -> Self:
        member = int.__new__(cls, value)
        member._value_ = value
        member.label = label
        member.label_en = label_en or label
        return member

    @classmethod
    def codes(cls) -> list[int]:
        return [int(m) for m in cls]

    @classmethod
    def from_label(cls, text: str) -> Self | None:
        """Case- and space-insensitive lookup by Indonesian or English label, for sources sending text."""
        key = " ".join(str(text).upper().replace("_", " ").split())  # also the member name itself
        for member in cls:
            if key in (member.label.upper(), member.label_en.upper(), member.name.replace("_", " ")):
                return member
        return None


# --- Blok I: location and family ---------------------------------------------------------------


class StatusKK(CodeList):
    """Kode KK: how the family unit relates to its Kartu Keluarga."""

    SESUAI_KARTU = 0, "Sesuai kartu keluarga", "As on the family card"
    KELUARGA_INDUK = 1, "Keluarga induk", "Parent family"
    KELUARGA_PECAHAN = 2, "Keluarga pecahan", "Split family"


# --- Blok III: housing ------------------------------------------------------------------------


class StatusBangunan(CodeList):
    """301a: tenure of the dwelling."""

    MILIK_SENDIRI = 1, "Milik sendiri", "Owned"
    KONTRAK_SEWA = 2, "Kontrak/sewa", "Rented"
    BEBAS_SEWA = 3, "Bebas sewa", "Rent-free"
    DINAS = 4, "Dinas", "Official housing"
    LAINNYA = 5, "Lainnya", "Other"


class BuktiKepemilikan(CodeList):
    """301b: proof of ownership (only when 301a = owned)."""

    SHM_ATAS_NAMA_ART = 1, "SHM atas nama anggota keluarga", "Freehold title in a member's name"
    SHM_BUKAN_ART = 2, "SHM bukan atas nama anggota keluarga", "Freehold title in another name"
    SURAT_LAIN = 3, "Surat bukti lainnya (girik, letter C, dll.)", "Other proof (girik, letter C)"
    TIDAK_PUNYA = 4, "Tidak punya", "None"


class Lantai(CodeList):
    """303: main floor material."""

    MARMER_GRANIT = 1, "Marmer/granit", "Marble/granite"
    KERAMIK = 2, "Keramik", "Ceramic"
    PARKET_VINIL = 3, "Parket/vinil/karpet", "Parquet/vinyl/carpet"
    UBIN_TEGEL = 4, "Ubin/tegel/teraso", "Tile/terrazzo"
    KAYU_PAPAN = 5, "Kayu/papan", "Wood/board"
    SEMEN_BATA = 6, "Semen/bata merah", "Cement/red brick"
    BAMBU = 7, "Bambu", "Bamboo"
    TANAH = 8, "Tanah", "Earth"
    LAINNYA = 9, "Lainnya", "Other"


class Dinding(CodeList):
    """304: main wall material."""

    TEMBOK = 1, "Tembok", "Masonry"
    PLESTERAN_ANYAMAN = 2, "Plesteran anyaman bambu/kawat", "Plastered bamboo/wire"
    KAYU_PAPAN = 3, "Kayu/papan/gipsum/GRC/kalsiboard", "Wood/board/gypsum"
    ANYAMAN_BAMBU = 4, "Anyaman bambu", "Woven bamboo"
    BATANG_KAYU = 5, "Batang kayu", "Logs"
    BAMBU = 6, "Bambu", "Bamboo"
    LAINNYA = 7, "Lainnya", "Other"


class Atap(CodeList):
    """305: main roof material."""

    BETON = 1, "Beton", "Concrete"
    GENTENG = 2, "Genteng", "Clay tile"
    SENG = 3, "Seng", "Zinc"
    ASBES = 4, "Asbes", "Asbestos"
    BAMBU = 5, "Bambu", "Bamboo"
    KAYU_SIRAP = 6, "Kayu/sirap", "Wood/shingle"
    JERAMI_IJUK = 7, "Jerami/ijuk/daun-daunan/rumbia", "Straw/palm leaf"
    LAINNYA = 8, "Lainnya", "Other"


class SumberAirMinum(CodeList):
    """306a: main source of drinking water."""

    AIR_KEMASAN = 1, "Air kemasan bermerk", "Bottled water"
    AIR_ISI_ULANG = 2, "Air isi ulang", "Refilled water"
    LEDENG = 3, "Leding", "Piped water"
    SUMUR_BOR = 4, "Sumur bor/pompa", "Bore well/pump"
    SUMUR_TERLINDUNG = 5, "Sumur terlindung", "Protected well"
    SUMUR_TAK_TERLINDUNG = 6, "Sumur tak terlindung", "Unprotected well"
    MATA_AIR_TERLINDUNG = 7, "Mata air terlindung", "Protected spring"
    MATA_AIR_TAK_TERLINDUNG = 8, "Mata air tak terlindung", "Unprotected spring"
    AIR_PERMUKAAN = 9, "Air permukaan (sungai/danau/waduk/kolam/irigasi)", "Surface water"
    AIR_HUJAN = 10, "Air hujan", "Rain water"
    LAINNYA = 11, "Lainnya", "Other"


class SumberPenerangan(CodeList):
    """307a: main source of lighting."""

    PLN_METERAN = 1, "Listrik PLN dengan meteran", "PLN electricity with meter"
    PLN_TANPA_METERAN = 2, "Listrik PLN tanpa meteran", "PLN electricity without meter"
    LISTRIK_NON_PLN = 3, "Listrik non-PLN", "Non-PLN electricity"
    BUKAN_LISTRIK = 4, "Bukan listrik", "No electricity"


class DayaListrik(CodeList):
    """307b: installed power of the PLN meter (only when 307a = PLN with meter)."""

    VA_450 = 1, "450 watt", "450 W"
    VA_900 = 2, "900 watt", "900 W"
    VA_1300 = 3, "1.300 watt", "1,300 W"
    VA_2200 = 4, "2.200 watt", "2,200 W"
    VA_LEBIH_2200 = 5, "> 2.200 watt", "> 2,200 W"

    @classmethod
    def from_va(cls, va: int) -> DayaListrik:
        for limit, member in ((450, cls.VA_450), (900, cls.VA_900), (1300, cls.VA_1300), (2200, cls.VA_2200)):
            if va <= limit:
                return member
        return cls.VA_LEBIH_2200


class BahanBakarMasak(CodeList):
    """308: main cooking fuel."""

    TIDAK_MEMASAK = 0, "Tidak memasak di rumah", "Does not cook"
    LISTRIK = 1, "Listrik", "Electricity"
    ELPIJI_5_5KG = 2, "Elpiji 5,5 kg/blue gaz", "LPG 5.5 kg"
    ELPIJI_12KG = 3, "Elpiji 12 kg", "LPG 12 kg"
    ELPIJI_3KG = 4, "Elpiji 3 kg", "LPG 3 kg"
    GAS_KOTA = 5, "Gas kota/meteran PGN", "City gas"
    BIOGAS = 6, "Biogas", "Biogas"
    MINYAK_TANAH = 7, "Minyak tanah", "Kerosene"
    BRIKET = 8, "Briket", "Briquette"
    ARANG = 9, "Arang", "Charcoal"
    KAYU_BAKAR = 10, "Kayu bakar", "Firewood"
    LAINNYA = 11, "Lainnya", "Other"


class FasilitasBAB(CodeList):
    """309a: use of a toilet."""

    SENDIRI = 1, "Ada, digunakan hanya anggota keluarga sendiri", "Own"
    BERSAMA = 2, "Ada, digunakan bersama anggota keluarga dari keluarga tertentu", "Shared"
    MCK_KOMUNAL = 3, "Ada, di MCK komunal", "Communal"
    MCK_UMUM = 4, "Ada, di MCK umum/siapapun menggunakan", "Public"
    TIDAK_DIGUNAKAN = 5, "Ada, anggota keluarga tidak menggunakan", "Present but unused"
    TIDAK_ADA = 6, "Tidak ada fasilitas", "None"


class JenisKloset(CodeList):
    """309b: type of closet."""

    LEHER_ANGSA = 1, "Leher angsa", "Pour-flush"
    PLENGSENGAN_TUTUP = 2, "Plengsengan dengan tutup", "Slab with lid"
    PLENGSENGAN_TANPA_TUTUP = 3, "Plengsengan tanpa tutup", "Slab without lid"
    CEMPLUNG = 4, "Cemplung/cubluk", "Pit"


class PembuanganTinja(CodeList):
    """310: final disposal of faeces."""

    TANGKI_SEPTIK = 1, "Tangki septik", "Septic tank"
    IPAL = 2, "IPAL", "Sewage treatment"
    KOLAM_SUNGAI = 3, "Kolam/sawah/sungai/danau/laut", "Pond/river/sea"
    LUBANG_TANAH = 4, "Lubang tanah", "Hole in the ground"
    TANAH_LAPANG = 5, "Pantai/tanah lapang/kebun", "Open field"
    LAINNYA = 6, "Lainnya", "Other"


# --- Blok V: assets ---------------------------------------------------------------------------


class Aset(CodeList):
    """502a-n: durable assets the family owns (a yes/no field each; the letter is the questionnaire's)."""

    TABUNG_GAS = 1, "Tabung gas 5,5 kg atau lebih", "Gas tank >= 5.5 kg"
    LEMARI_ES = 2, "Lemari es/kulkas", "Refrigerator"
    AC = 3, "Air conditioner (AC)", "Air conditioner"
    PEMANAS_AIR = 4, "Pemanas air (water heater)", "Water heater"
    TELEPON_RUMAH = 5, "Telepon rumah (PSTN)", "Landline"
    TV_LAYAR_DATAR = 6, "Televisi layar datar minimal 30 inci", "Flat TV >= 30 inch"
    EMAS_PERHIASAN = 7, "Emas/perhiasan minimal 10 gram", "Gold/jewellery >= 10 g"
    KOMPUTER = 8, "Komputer/laptop/tablet", "Computer/laptop/tablet"
    SEPEDA_MOTOR = 9, "Sepeda motor", "Motorcycle"
    SEPEDA = 10, "Sepeda", "Bicycle"
    MOBIL = 11, "Mobil", "Car"
    PERAHU = 12, "Perahu", "Boat"
    PERAHU_MOTOR = 13, "Perahu motor", "Motor boat"
    SMARTPHONE = 14, "Smartphone", "Smartphone"

    @property
    def letter(self) -> str:
        return "abcdefghijklmn"[int(self) - 1]

    @property
    def field(self) -> str:
        return f"aset_{self.name.lower()}"

    @property
    def needs_electricity(self) -> bool:
        return self in _ELECTRICAL_ASSETS


_ELECTRICAL_ASSETS = frozenset(
    {Aset.LEMARI_ES, Aset.AC, Aset.PEMANAS_AIR, Aset.TV_LAYAR_DATAR, Aset.KOMPUTER}
)


class Ternak(CodeList):
    """504: livestock counted per family."""

    SAPI = 1, "Sapi", "Cattle"
    KERBAU = 2, "Kerbau", "Buffalo"
    KUDA = 3, "Kuda", "Horse"
    BABI = 4, "Babi", "Pig"
    KAMBING_DOMBA = 5, "Kambing/domba", "Goat/sheep"

    @property
    def field(self) -> str:
        return f"ternak_{self.name.lower()}"


class ProgramBansos(CodeList):
    """501: social programs received in the last year (a yes/no field each)."""

    PKH = 1, "Program Keluarga Harapan (PKH)", "Family Hope Program (PKH)"
    SEMBAKO = 2, "Program Sembako/BPNT", "Food assistance (BPNT/Sembako)"
    BLT_DESA = 3, "BLT Dana Desa", "Village fund cash transfer"
    SUBSIDI_LISTRIK = 4, "Subsidi listrik", "Electricity subsidy"
    BANTUAN_PEMDA = 5, "Bantuan pemerintah daerah", "Local government aid"
    SUBSIDI_PUPUK = 6, "Subsidi pupuk", "Fertiliser subsidy"
    SUBSIDI_LPG = 7, "Subsidi LPG", "LPG subsidy"

    @property
    def field(self) -> str:
        return f"terima_{self.name.lower()}"


# --- Blok IV: members -------------------------------------------------------------------------


class Keberadaan(CodeList):
    """402: the member's presence at the time of the visit."""

    TINGGAL_BERSAMA = 1, "Tinggal bersama keluarga", "Lives here"
    MENINGGAL = 2, "Meninggal", "Died"
    PINDAH_DALAM_NEGERI = 3, "Pindah ke dalam negeri", "Moved within Indonesia"
    PINDAH_LUAR_NEGERI = 4, "Pindah ke luar negeri", "Moved abroad"
    ANGGOTA_BARU = 5, "Anggota keluarga baru", "New member"
    TIDAK_DITEMUKAN = 6, "Tidak ditemukan", "Not found"


class JenisKelamin(CodeList):
    LAKI_LAKI = 1, "Laki-laki", "Male"
    PEREMPUAN = 2, "Perempuan", "Female"


class StatusKawin(CodeList):
    BELUM_KAWIN = 1, "Belum kawin", "Never married"
    KAWIN = 2, "Kawin/nikah", "Married"
    CERAI_HIDUP = 3, "Cerai hidup", "Divorced"
    CERAI_MATI = 4, "Cerai mati", "Widowed"


class HubunganKeluarga(CodeList):
    """Relationship to the head of family in Regsosek (8 codes)."""

    KEPALA_KELUARGA = 1, "Kepala keluarga", "Head"
    ISTRI_SUAMI = 2, "Istri/suami", "Spouse"
    ANAK = 3, "Anak", "Child"
    MENANTU = 4, "Menantu", "Child-in-law"
    CUCU = 5, "Cucu", "Grandchild"
    ORANG_TUA_MERTUA = 6, "Orang tua/mertua", "Parent/parent-in-law"
    PEMBANTU_SOPIR = 7, "Pembantu/sopir", "Domestic worker/driver"
    LAINNYA = 8, "Lainnya", "Other"


class PartisipasiSekolah(CodeList):
    TIDAK_PERNAH = 0, "Tidak/belum pernah sekolah", "Never attended"
    MASIH_SEKOLAH = 1, "Masih sekolah", "In school"
    TIDAK_SEKOLAH_LAGI = 2, "Tidak bersekolah lagi", "No longer in school"


class JenjangPendidikan(CodeList):
    """Level of the school attended now or last (23 codes, Paket A to S3)."""

    PAKET_A = 1, "Paket A", "Equivalency A"
    SDLB = 2, "SDLB", "Special primary"
    SD = 3, "SD", "Primary"
    MI = 4, "MI", "Islamic primary"
    SPM_ULA = 5, "SPM/PDF Ula", "Pesantren primary"
    PAKET_B = 6, "Paket B", "Equivalency B"
    SMPLB = 7, "SMPLB", "Special junior secondary"
    SMP = 8, "SMP", "Junior secondary"
    MTS = 9, "MTs", "Islamic junior secondary"
    SPM_WUSTHA = 10, "SPM/PDF Wustha", "Pesantren junior secondary"
    PAKET_C = 11, "Paket C", "Equivalency C"
    SMLB = 12, "SMLB", "Special senior secondary"
    SMA = 13, "SMA", "Senior secondary"
    MA = 14, "MA", "Islamic senior secondary"
    SMK = 15, "SMK", "Vocational secondary"
    MAK = 16, "MAK", "Islamic vocational secondary"
    SPM_ULYA = 17, "SPM/PDF Ulya", "Pesantren senior secondary"
    D1_D2 = 18, "D1/D2", "Diploma 1-2"
    D3 = 19, "D3", "Diploma 3"
    D4_S1 = 20, "D4/S1", "Bachelor"
    PROFESI = 21, "Profesi", "Professional"
    S2 = 22, "S2", "Master"
    S3 = 23, "S3", "Doctorate"

    @property
    def stage(self) -> str:
        """``SD``, ``SMP``, ``SMA`` or ``PT``: the stage PKH and PIP pay by."""
        if self <= JenjangPendidikan.SPM_ULA:
            return "SD"
        if self <= JenjangPendidikan.SPM_WUSTHA:
            return "SMP"
        if self <= JenjangPendidikan.SPM_ULYA:
            return "SMA"
        return "PT"


class IjazahTertinggi(CodeList):
    TIDAK_PUNYA = 0, "Tidak punya ijazah", "None"
    SD = 1, "SD/sederajat", "Primary"
    SMP = 2, "SMP/sederajat", "Junior secondary"
    SMA = 3, "SMA/sederajat", "Senior secondary"
    D1_D3 = 4, "D1/D2/D3", "Diploma"
    D4_S1 = 5, "D4/S1", "Bachelor"
    S2_S3 = 6, "S2/S3", "Postgraduate"


class LapanganUsaha(CodeList):
    """Main sector of work (26 codes)."""

    PADI_PALAWIJA = 1, "Pertanian tanaman padi dan palawija", "Rice and secondary crops"
    HORTIKULTURA = 2, "Hortikultura", "Horticulture"
    PERKEBUNAN = 3, "Perkebunan", "Estate crops"
    PERIKANAN_TANGKAP = 4, "Perikanan tangkap", "Capture fisheries"
    PERIKANAN_BUDIDAYA = 5, "Perikanan budidaya", "Aquaculture"
    PETERNAKAN = 6, "Peternakan", "Livestock"
    KEHUTANAN = 7, "Kehutanan dan pertanian lainnya", "Forestry and other agriculture"
    PERTAMBANGAN = 8, "Pertambangan dan penggalian", "Mining and quarrying"
    INDUSTRI = 9, "Industri pengolahan", "Manufacturing"
    LISTRIK_GAS = 10, "Pengadaan listrik dan gas", "Electricity and gas"
    AIR_LIMBAH = 11, "Pengadaan air, pengelolaan sampah dan limbah", "Water and waste"
    KONSTRUKSI = 12, "Konstruksi", "Construction"
    PERDAGANGAN = 13, "Perdagangan besar dan eceran, reparasi kendaraan", "Trade"
    ANGKUTAN = 14, "Pengangkutan dan pergudangan", "Transport and storage"
    AKOMODASI_MAKAN = 15, "Penyediaan akomodasi dan makan minum", "Accommodation and food"
    INFORMASI_KOMUNIKASI = 16, "Informasi dan komunikasi", "Information and communication"
    KEUANGAN = 17, "Jasa keuangan dan asuransi", "Finance and insurance"
    REAL_ESTAT = 18, "Real estat", "Real estate"
    JASA_PERUSAHAAN = 19, "Jasa perusahaan", "Business services"
    ADMINISTRASI_PEMERINTAHAN = (
        20,
        "Administrasi pemerintahan, pertahanan, jaminan sosial wajib",
        "Public administration",
    )
    PENDIDIKAN = 21, "Jasa pendidikan", "Education"
    KESEHATAN = 22, "Jasa kesehatan dan kegiatan sosial", "Health and social work"
    JASA_KEMASYARAKATAN = 23, "Jasa kemasyarakatan, sosial budaya, hiburan", "Community and personal services"
    JASA_RUMAH_TANGGA = 24, "Jasa perorangan yang melayani rumah tangga", "Domestic services"
    BADAN_INTERNASIONAL = 25, "Kegiatan badan internasional", "International organisations"
    LAINNYA = 26, "Lainnya", "Other"

    @property
    def is_agriculture(self) -> bool:
        return self <= LapanganUsaha.KEHUTANAN


class StatusPekerjaan(CodeList):
    """Job status in the main work (8 codes; 5 marks the state employees programs exclude)."""

    BERUSAHA_SENDIRI = 1, "Berusaha sendiri", "Own-account"
    BERUSAHA_DIBANTU_TIDAK_TETAP = (
        2,
        "Berusaha dibantu buruh tidak tetap/tidak dibayar",
        "Employer with temporary/unpaid help",
    )
    BERUSAHA_DIBANTU_TETAP = 3, "Berusaha dibantu buruh tetap/dibayar", "Employer with permanent paid workers"
    BURUH_KARYAWAN = 4, "Buruh/karyawan/pegawai swasta", "Private employee"
    PNS_TNI_POLRI = (
        5,
        "PNS/TNI/Polri/BUMN/BUMD/anggota legislatif/pejabat",
        "Civil servant/military/police/SOE/official",
    )
    PEKERJA_BEBAS_PERTANIAN = 6, "Pekerja bebas pertanian", "Casual agricultural worker"
    PEKERJA_BEBAS_NONPERTANIAN = 7, "Pekerja bebas nonpertanian", "Casual non-agricultural worker"
    PEKERJA_KELUARGA = 8, "Pekerja keluarga/tidak dibayar", "Unpaid family worker"


class OmzetUsaha(CodeList):
    """Monthly turnover band of the member's business."""

    KURANG_5_JUTA = 1, "< Rp 5 juta", "< IDR 5 million"
    LIMA_15_JUTA = 2, "Rp 5 juta - < Rp 15 juta", "IDR 5-15 million"
    LIMA_BELAS_25_JUTA = 3, "Rp 15 juta - < Rp 25 juta", "IDR 15-25 million"
    DUA_PULUH_LIMA_LEBIH = 4, ">= Rp 25 juta", ">= IDR 25 million"


class FungsiTubuh(CodeList):
    """Washington Group functional domains asked for each member."""

    MELIHAT = 1, "Melihat", "Seeing"
    MENDENGAR = 2, "Mendengar", "Hearing"
    BERJALAN = 3, "Berjalan/naik tangga", "Walking/climbing"
    MOTORIK_HALUS = 4, "Menggunakan/menggerakkan jari tangan", "Fine motor"
    BELAJAR = 5, "Mengingat/berkonsentrasi/belajar", "Learning"
    PERILAKU = 6, "Mengendalikan perilaku", "Behaviour"
    KOMUNIKASI = 7, "Berbicara/berkomunikasi", "Communicating"
    MENGURUS_DIRI = 8, "Mengurus diri sendiri", "Self-care"
    MENGINGAT = 9, "Mengingat", "Remembering"

    @property
    def field(self) -> str:
        return f"sulit_{self.name.lower()}"


class TingkatKesulitan(CodeList):
    TIDAK = 1, "Tidak mengalami kesulitan", "No difficulty"
    SEDIKIT = 2, "Sedikit kesulitan", "Some difficulty"
    BANYAK = 3, "Banyak kesulitan", "A lot of difficulty"
    TIDAK_BISA = 4, "Tidak bisa sama sekali", "Cannot do at all"


class PenyakitKronis(CodeList):
    """Main chronic disease (17 codes; 0 = none)."""

    TIDAK_ADA = 0, "Tidak ada", "None"
    HIPERTENSI = 1, "Hipertensi (tekanan darah tinggi)", "Hypertension"
    REMATIK = 2, "Rematik", "Rheumatism"
    ASMA = 3, "Asma", "Asthma"
    JANTUNG = 4, "Masalah jantung", "Heart disease"
    DIABETES = 5, "Diabetes (kencing manis)", "Diabetes"
    TBC = 6, "Tuberkulosis (TBC)", "Tuberculosis"
    STROKE = 7, "Stroke", "Stroke"
    KANKER = 8, "Kanker atau tumor ganas", "Cancer"
    GAGAL_GINJAL = 9, "Gagal ginjal", "Kidney failure"
    HAEMOFILIA = 10, "Haemofilia", "Haemophilia"
    HIV_AIDS = 11, "HIV/AIDS", "HIV/AIDS"
    KOLESTEROL = 12, "Kolesterol", "Cholesterol"
    SIROSIS_HATI = 13, "Sirosis hati", "Liver cirrhosis"
    THALASEMIA = 14, "Thalasemia", "Thalassaemia"
    LEUKEMIA = 15, "Leukemia", "Leukaemia"
    ALZHEIMER = 16, "Alzheimer", "Alzheimer's"
    LAINNYA = 17, "Lainnya", "Other"

    @property
    def is_catastrophic(self) -> bool:
        """Diseases JKN treats as catastrophic (PBI-JK reactivation path)."""
        return self in _CATASTROPHIC


_CATASTROPHIC = frozenset(
    {
        PenyakitKronis.JANTUNG,
        PenyakitKronis.KANKER,
        PenyakitKronis.GAGAL_GINJAL,
        PenyakitKronis.STROKE,
        PenyakitKronis.THALASEMIA,
        PenyakitKronis.LEUKEMIA,
        PenyakitKronis.HAEMOFILIA,
        PenyakitKronis.SIROSIS_HATI,
    }
)


class JaminanKesehatan(CodeList):
    """Health insurance as self-reported in Regsosek."""

    BPJS_PBI = 1, "BPJS Kesehatan PBI", "JKN subsidised (PBI)"
    BPJS_MANDIRI = 2, "BPJS Kesehatan mandiri", "JKN self-paying"
    BPJS_PEMBERI_KERJA = 3, "BPJS Kesehatan pemberi kerja", "JKN employer"
    ASURANSI_LAIN = 4, "Asuransi kesehatan lainnya", "Other insurance"
    TIDAK_PUNYA = 5, "Tidak punya", "None"


class SegmenBPJS(CodeList):
    """JKN membership segment in BPJS Kesehatan's own data."""

    PBI_APBN = 1, "PBI APBN", "Subsidised (central budget)"
    PBI_APBD = 2, "PBI APBD", "Subsidised (local budget)"
    PPU = 3, "Pekerja Penerima Upah (PPU)", "Wage earner"
    PBPU = 4, "Pekerja Bukan Penerima Upah (PBPU/mandiri)", "Self-paying"
    BP = 5, "Bukan Pekerja (BP)", "Non-worker (pensioner, investor)"


# --- Dukcapil / SIAK lists --------------------------------------------------------------------


class Agama(CodeList):
    ISLAM = 1, "Islam", "Islam"
    KRISTEN = 2, "Kristen", "Protestant"
    KATOLIK = 3, "Katolik", "Catholic"
    HINDU = 4, "Hindu", "Hindu"
    BUDDHA = 5, "Buddha", "Buddhist"
    KHONGHUCU = 6, "Khonghucu", "Confucian"
    KEPERCAYAAN = 7, "Kepercayaan terhadap Tuhan YME", "Indigenous belief"


class PendidikanSIAK(CodeList):
    """PDDK_AKH: highest education on the family card."""

    TIDAK_SEKOLAH = 1, "Tidak/belum sekolah", "No schooling"
    BELUM_TAMAT_SD = 2, "Belum tamat SD/sederajat", "Primary not completed"
    TAMAT_SD = 3, "Tamat SD/sederajat", "Primary"
    SLTP = 4, "SLTP/sederajat", "Junior secondary"
    SLTA = 5, "SLTA/sederajat", "Senior secondary"
    DIPLOMA_I_II = 6, "Diploma I/II", "Diploma I/II"
    DIPLOMA_III = 7, "Akademi/Diploma III/Sarjana muda", "Diploma III"
    DIPLOMA_IV_S1 = 8, "Diploma IV/Strata I", "Bachelor"
    STRATA_II = 9, "Strata II", "Master"
    STRATA_III = 10, "Strata III", "Doctorate"


class HubunganSIAK(CodeList):
    """SHDK: relationship to the head on the family card (Dukcapil's 11 codes)."""

    KEPALA_KELUARGA = 1, "Kepala keluarga", "Head"
    SUAMI = 2, "Suami", "Husband"
    ISTRI = 3, "Istri", "Wife"
    ANAK = 4, "Anak", "Child"
    MENANTU = 5, "Menantu", "Child-in-law"
    CUCU = 6, "Cucu", "Grandchild"
    ORANG_TUA = 7, "Orang tua", "Parent"
    MERTUA = 8, "Mertua", "Parent-in-law"
    FAMILI_LAIN = 9, "Famili lain", "Other relative"
    PEMBANTU = 10, "Pembantu", "Domestic worker"
    LAINNYA = 11, "Lainnya", "Other"


class PekerjaanSIAK(CodeList):
    """JENIS_PKRJN: occupation on the family card (the Dukcapil codes the generator uses; 89 = other)."""

    BELUM_TIDAK_BEKERJA = 1, "Belum/tidak bekerja", "Not working"
    MENGURUS_RUMAH_TANGGA = 2, "Mengurus rumah tangga", "Homemaker"
    PELAJAR_MAHASISWA = 3, "Pelajar/mahasiswa", "Student"
    PENSIUNAN = 4, "Pensiunan", "Retired"
    PNS = 5, "Pegawai negeri sipil", "Civil servant"
    TNI = 6, "Tentara Nasional Indonesia", "Military"
    POLRI = 7, "Kepolisian RI", "Police"
    PERDAGANGAN = 8, "Perdagangan", "Trade"
    PETANI_PEKEBUN = 9, "Petani/pekebun", "Farmer"
    PETERNAK = 10, "Peternak", "Livestock farmer"
    NELAYAN = 11, "Nelayan/perikanan", "Fisher"
    INDUSTRI = 12, "Industri", "Industry"
    KONSTRUKSI = 13, "Konstruksi", "Construction"
    TRANSPORTASI = 14, "Transportasi", "Transport"
    KARYAWAN_SWASTA = 15, "Karyawan swasta", "Private employee"
    KARYAWAN_BUMN = 16, "Karyawan BUMN", "State-owned enterprise employee"
    KARYAWAN_BUMD = 17, "Karyawan BUMD", "Regional enterprise employee"
    KARYAWAN_HONORER = 18, "Karyawan honorer", "Contract government worker"
    BURUH_HARIAN_LEPAS = 19, "Buruh harian lepas", "Day labourer"
    BURUH_TANI = 20, "Buruh tani/perkebunan", "Farm labourer"
    BURUH_NELAYAN = 21, "Buruh nelayan/perikanan", "Fishery labourer"
    BURUH_PETERNAKAN = 22, "Buruh peternakan", "Livestock labourer"
    PEMBANTU_RUMAH_TANGGA = 23, "Pembantu rumah tangga", "Domestic worker"
    GURU = 84, "Guru", "Teacher"
    WIRASWASTA = 88, "Wiraswasta", "Self-employed"
    LAINNYA = 89, "Lainnya", "Other"


CODE_LISTS: dict[str, type[CodeList]] = {
    cls.__name__: cls
    for cls in (
        StatusKK,
        StatusBangunan,
        BuktiKepemilikan,
        Lantai,
        Dinding,
        Atap,
        SumberAirMinum,
        SumberPenerangan,
        DayaListrik,
        BahanBakarMasak,
        FasilitasBAB,
        JenisKloset,
        PembuanganTinja,
        Aset,
        Ternak,
        ProgramBansos,
        Keberadaan,
        JenisKelamin,
        StatusKawin,
        HubunganKeluarga,
        PartisipasiSekolah,
        JenjangPendidikan,
        IjazahTertinggi,
        LapanganUsaha,
        StatusPekerjaan,
        OmzetUsaha,
        FungsiTubuh,
        TingkatKesulitan,
        PenyakitKronis,
        JaminanKesehatan,
        SegmenBPJS,
        Agama,
        PendidikanSIAK,
        HubunganSIAK,
        PekerjaanSIAK,
    )
}
