"""The Phụ lục I stamp on an attached file, measured as displayed: rendered by poppler
(pdftoppm), its ink found on page 1 — 10 pt, top-right, upright, inside the visible area.

Before: the text was shrunk to 7.5 pt, a page whose MediaBox is inherited from the page tree
crashed, /Rotate put the stamp sideways, and the CropBox was ignored."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from devtools.devca import DevPki
from edxml import SigningIdentity
from edxml.pdf import sign_pdf

DPI = 288  # 4 pixels a point
#: The ink of the two lines (number/notation, then the time) at 10 pt, in points; at the
#: old 7.5 pt it was 12.3.
TEN_POINT_HEIGHT = (15.5, 18.0)


def blank_pdf(
    mediabox: tuple[int, int, int, int] = (0, 0, 595, 842),
    *,
    inherit: bool = False,
    rotate: int = 0,
    cropbox: tuple[int, int, int, int] | None = None,
) -> bytes:
    """A one-page PDF with nothing on the page (its boxes and rotation as asked)."""
    box = "[{}]".format(" ".join(str(v) for v in mediabox))
    crop = f" /CropBox [{' '.join(str(v) for v in cropbox)}]" if cropbox else ""
    rotation = f" /Rotate {rotate}" if rotate else ""
    on_pages = f" /MediaBox {box}{rotation}" if inherit else ""
    on_page = "" if inherit else f" /MediaBox {box}{rotation}"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [3 0 R] /Count 1{on_pages} >>",
        f"<< /Type /Page /Parent 2 0 R{on_page}{crop} /Contents 4 0 R /Resources << >> >>",
        "<< /Length 0 >>\nstream\n\nendstream",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out


def _ink(pdf: Path, *, cropbox: bool = False) -> tuple[float, float, float, float, float, float]:
    """(page width, height, right margin, top margin, ink width, ink height) in points, as
    page 1 is displayed (its /Rotate applied; with ``cropbox``, its visible area only)."""
    args = ["pdftoppm", "-gray", "-r", str(DPI), "-f", "1", "-l", "1"]
    rendered = subprocess.run(
        [*args, *(["-cropbox"] if cropbox else []), str(pdf)], capture_output=True, check=True
    ).stdout
    magic, size, _, pixels = rendered.split(b"\n", 3)
    assert magic == b"P5"
    width, height = map(int, size.split())
    dark = [
        (x, y)
        for y in range(height)
        for x, value in enumerate(pixels[y * width : (y + 1) * width])
        if value < 128
    ]
    assert dark, "nothing is drawn on the page"
    xs, ys = [x for x, _ in dark], [y for _, y in dark]
    scale = DPI / 72
    return (
        width / scale,
        height / scale,
        (width - max(xs)) / scale,
        min(ys) / scale,
        (max(xs) - min(xs)) / scale,
        (max(ys) - min(ys)) / scale,
    )


@pytest.fixture
def agency(pki: DevPki) -> SigningIdentity:
    issued = pki.agencies["000.00.01.H42"]
    return SigningIdentity(issued.key, tuple(pki.chain(issued)))


@pytest.mark.parametrize(
    ("name", "page"),
    [
        ("plain A4", {}),
        ("MediaBox inherited from the page tree", {"inherit": True}),
        ("turned 90", {"rotate": 90}),
        ("turned 180", {"rotate": 180}),
        ("turned 270, inherited", {"rotate": 270, "inherit": True}),
        ("landscape", {"mediabox": (0, 0, 842, 595)}),
    ],
)
async def test_the_stamp_is_10_pt_at_the_top_right_and_upright(
    agency: SigningIdentity, tmp_path: Path, name: str, page: dict[str, object]
) -> None:
    signed = await sign_pdf(blank_pdf(**page), agency, number_notation="05/UBND-VP")  # type: ignore[arg-type]
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    _, _, right, top, width, height = _ink(path)
    assert TEN_POINT_HEIGHT[0] <= height <= TEN_POINT_HEIGHT[1], (name, height)
    assert 28 <= right <= 50, (name, right)  # about a centimetre and a half from the edges
    assert 28 <= top <= 50, (name, top)
    assert width > 4 * height, (name, width, height)  # reading across: upright, not sideways


async def test_the_stamp_stays_inside_the_crop_box(agency: SigningIdentity, tmp_path: Path) -> None:
    signed = await sign_pdf(
        blank_pdf(cropbox=(40, 60, 440, 660)), agency, number_notation="05/UBND-VP"
    )
    path = tmp_path / "cropped.pdf"
    path.write_bytes(signed)
    page_width, page_height, right, top, _, height = _ink(path, cropbox=True)
    assert (page_width, page_height) == (400, 600)  # what a reader shows
    assert 28 <= right <= 50
    assert 28 <= top <= 50
    assert TEN_POINT_HEIGHT[0] <= height <= TEN_POINT_HEIGHT[1]
