"""What a citizen or officer is told when an upload is refused, one sentence per
:class:`dtsen.api.uploads.UploadRejectedError` reason (the public forms, musyawarah desa and access
requests share them; field visits have their own photo-only wording)."""

from __future__ import annotations

from dtsen.web.i18n import N_

UPLOAD_MESSAGES: dict[str, str] = {
    "too_large": N_("Berkas terlalu besar: paling besar 5 MB per berkas."),
    "empty": N_("Berkas kosong."),
    "type": N_("Jenis berkas tidak diterima: kirim foto JPEG atau PNG, atau PDF."),
    "type_mismatch": N_(
        "Isi berkas tidak sesuai dengan namanya (misalnya PDF yang dinamai .jpg). Kirim berkas aslinya."
    ),
    "damaged": N_("Berkas rusak atau tidak dapat dibuka."),
    "too_many_pixels": N_("Gambar terlalu besar ukurannya (piksel). Kirim foto biasa dari kamera ponsel."),
}
