"""Supporting documents of citizen requests: size-limited reading, type by content, metadata stripped,
content-addressed storage under ``data_dir/uploads``.

* **Size.** The whole multipart body is capped while it streams in (:func:`limited_request`), so a huge
  upload is refused after ``MAX_BODY_BYTES`` without being read further; each file is then checked
  against ``MAX_FILE_BYTES``. Starlette spools file parts above 1 MB to disk, so memory stays small.
* **Type by content, not by name.** The first bytes must be a JPEG, PNG or PDF signature; images must
  then open and verify in Pillow (with a pixel cap against decompression bombs). An executable renamed
  ``.jpg`` is refused, and so is a ``.jpg`` that is really a PDF (the name and the content disagree).
* **Metadata stripped.** Images are decoded and re-encoded by Pillow with no EXIF, GPS, XMP, ICC or text
  chunks (the orientation tag is applied to the pixels first, so the photo stays upright). PDFs are kept
  as sent (a PDF's metadata cannot be removed safely without a PDF library; none is a dependency).
* **Content-addressed.** The stored bytes are named by their SHA-256
  (``uploads/ab/cd/abcd...``), written to a temporary file and renamed into place: the same document
  sent twice is stored once, and a crash never leaves a half-written file under a real name.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import unicodedata
import warnings
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from fastapi import Request
from PIL import Image, ImageOps, UnidentifiedImageError
from starlette.datastructures import UploadFile

from dtsen.atomic import atomic_file

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_FILES = 3
# Three full files plus the text fields and the multipart framing.
MAX_BODY_BYTES = MAX_FILES * MAX_FILE_BYTES + 256 * 1024
# A phone photo is 12-50 megapixels; anything far beyond is a decompression bomb, not a KTP.
MAX_PIXELS = 60_000_000
JPEG_QUALITY = 88

SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf"}
# What a file's name claims; a name claiming another accepted type than the content is refused (a photo
# that is "really" a PDF is a mistake or a trick either way). Other or no extensions defer to the content.
CLAIMED = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".jfif": "image/jpeg",
    ".png": "image/png",
    ".pdf": "application/pdf",
}


class UploadRejectedError(Exception):
    """A document that cannot be accepted; ``reason`` is a machine code, ``status`` the HTTP status."""

    def __init__(self, reason: str, status: int = 400, name: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.name = name


class BodyTooLargeError(Exception):
    """The request body passed ``MAX_BODY_BYTES`` while streaming in."""


def limited_request(request: Request, max_bytes: int = MAX_BODY_BYTES) -> Request:
    """A copy of ``request`` whose body stream raises :class:`BodyTooLargeError` past ``max_bytes``.

    A declared ``Content-Length`` over the limit is refused before any byte is read; a body without one
    (chunked) is counted as it arrives.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLargeError
    receive = request.receive
    received = 0

    async def counting_receive() -> MutableMapping[str, Any]:
        nonlocal received
        message = await receive()
        if message.get("type") == "http.request":
            received += len(message.get("body", b""))
            if received > max_bytes:
                raise BodyTooLargeError
        return message

    return Request(request.scope, counting_receive)


def sniff(head: bytes) -> str | None:
    """The MIME type the first bytes announce, among the accepted ones."""
    for signature, mime in SIGNATURES:
        if head.startswith(signature):
            return mime
    return None


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def sanitise_name(name: str | None, mime: str) -> str:
    """A display name safe anywhere: ASCII letters, digits, dot, dash, space; no path; the right ext."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    stem = _UNSAFE_NAME.sub("_", base.rsplit(".", 1)[0] if "." in base else base).strip(" ._-")
    return (stem[:80] or "dokumen") + EXTENSIONS[mime]


def _reencode(data: bytes, mime: str) -> bytes:
    """The image decoded and written again without any metadata; raises UploadRejectedError if it is
    not one."""
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                expected = {"image/jpeg": "JPEG", "image/png": "PNG"}[mime]
                if probe.format != expected:
                    raise UploadRejectedError("type_mismatch")
                probe.verify()  # structure and checksums, without decoding the pixels
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                upright = ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UploadRejectedError("too_many_pixels") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UploadRejectedError("damaged") from exc
    # A fresh image with only the pixels: nothing of the original's info (EXIF, GPS, XMP, ICC, text).
    mode = upright.mode
    if mime == "image/jpeg" and mode not in {"RGB", "L", "CMYK"}:
        upright = upright.convert("RGB")
    elif mime == "image/png" and mode not in {"RGB", "RGBA", "L", "LA", "P", "1", "I;16"}:
        upright = upright.convert("RGBA")
    clean = Image.new(upright.mode, upright.size)
    clean.paste(upright)
    if upright.mode == "P":
        palette = upright.getpalette()
        if palette is not None:
            clean.putpalette(palette)
    out = io.BytesIO()
    if mime == "image/jpeg":
        clean.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        clean.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _check_pdf(data: bytes) -> None:
    # A real PDF ends with %%EOF (possibly followed by whitespace or an incremental-update trailer).
    if b"%%EOF" not in data[-2048:]:
        raise UploadRejectedError("damaged")


def read_checked(upload: UploadFile, kind: str) -> tuple[bytes, str, str]:
    """The accepted bytes of one uploaded file, its MIME type and sanitised name (not yet stored)."""
    size = upload.size
    if size is not None and size > MAX_FILE_BYTES:
        raise UploadRejectedError("too_large", 413, upload.filename)
    upload.file.seek(0)
    data = upload.file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise UploadRejectedError("too_large", 413, upload.filename)
    if not data:
        raise UploadRejectedError("empty", 400, upload.filename)
    mime = sniff(data[:16])
    if mime is None:
        raise UploadRejectedError("type", 415, upload.filename)
    suffix = Path((upload.filename or "").replace("\\", "/")).suffix.lower()
    if CLAIMED.get(suffix, mime) != mime:
        raise UploadRejectedError("type_mismatch", 415, upload.filename)
    try:
        if mime == "application/pdf":
            _check_pdf(data)
        else:
            data = _reencode(data, mime)
    except UploadRejectedError as exc:
        raise UploadRejectedError(
            exc.reason, 415 if exc.reason == "type_mismatch" else 400, upload.filename
        ) from exc
    return data, mime, sanitise_name(upload.filename, mime)


def store_bytes(data: bytes, root: Path) -> str:
    """Write ``data`` under ``root`` by its SHA-256 (atomic rename; a second copy is not written)."""
    digest = hashlib.sha256(data).hexdigest()
    target = root / digest[:2] / digest[2:4] / digest
    if target.exists():
        return digest
    with atomic_file(target) as temporary:
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o640)
    return digest


def upload_root(data_dir: Path) -> Path:
    return data_dir / "uploads"


def path_of(root: Path, sha256: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError("not a sha256 hex digest")
    return root / sha256[:2] / sha256[2:4] / sha256
