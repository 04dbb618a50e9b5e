"""Official documents rendered as PDF (the musyawarah desa's berita acara, an access request's BAST).

One renderer and one print stylesheet (``templates/dokumen.css``), kept out of the templates because no
template may carry inline style (the pages' content security policy forbids it, and a test checks every
template). WeasyPrint renders offline; the documents print no time of rendering, so the same record
renders to the same bytes and a stored SHA-256 keeps meaning.
"""

from __future__ import annotations

import os
from typing import cast

STYLESHEET = "dokumen.css"


def render_pdf(html: str) -> bytes:
    # WeasyPrint instantiates variable fonts with fontTools, which stamps the font's head.modified with
    # the current second unless SOURCE_DATE_EPOCH fixes it: without this, the same record rendered a
    # second later gave other bytes (WeasyPrint 70 with Debian's variable fonts).
    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")
    import weasyprint

    from dtsen.web.templating import TEMPLATES_DIR

    css = weasyprint.CSS(filename=str(TEMPLATES_DIR / STYLESHEET))
    document = weasyprint.HTML(string=html, base_url=str(TEMPLATES_DIR))
    return cast(bytes, document.write_pdf(stylesheets=[css]))
