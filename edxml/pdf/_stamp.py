"""The visible stamp of Phụ lục I: its text, its font, its place on the page as displayed."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fontTools.ttLib import TTFont
from fontTools.ttLib.scaleUpem import scale_upem
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.writer import BasePdfFileWriter

from edxml import (
    VIETNAM,
    PdfSignatureError,
)

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf"),
    Path("/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"),
)
_STAMP_WIDTH, _STAMP_HEIGHT, _MARGIN = 210, 30, 28  # points; 28 pt ~ 1 cm from the edges


@dataclass(frozen=True)
class InMemoryFont(GlyphAccumulatorFactory):
    """pyhanko's factory opens the font file and never closes it; hand it a copy in memory."""

    def create_font_engine(
        self, writer: BasePdfFileWriter, obj_stream: object = None
    ) -> GlyphAccumulator:
        handle = io.BytesIO(Path(self.font_file).read_bytes())
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()  # type: ignore[no-untyped-call]
        return GlyphAccumulator(
            writer=writer,
            font_handle=handle,
            font_size=self.font_size,
            ot_script_tag=self.ot_script_tag,
            ot_language_tag=self.ot_language_tag,
            writing_direction=self.writing_direction,
            bcp47_lang_code=self.bcp47_lang_code,
            obj_stream=obj_stream,
        )


def font_for(text: str, candidates: Sequence[Path]) -> Path:
    for path in candidates:
        if not path.exists():
            continue
        with TTFont(str(path), lazy=True) as font:
            cmap = font.getBestCmap()
        if all(ord(char) in cmap for char in text if not char.isspace()):
            return _with_1000_unit_em(path)
    raise PdfSignatureError(
        "no font with all the glyphs of the stamp; install fonts-liberation2 or fonts-dejavu-core"
    )


@functools.cache
def _with_1000_unit_em(path: Path) -> Path:
    """The font rescaled to a 1000-unit em, as pyhanko's text layout assumes.

    pyhanko (0.38) writes glyph widths (/W) and TJ adjustments in font units, which PDF
    reads as thousandths of an em: TrueType fonts with 2048 units per em (Liberation,
    DejaVu) come out with every glyph twice as wide. Rescaling the font is exact (fontTools
    scales outlines, metrics and kerning together) and leaves pyhanko untouched.
    """
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    target = (
        Path(tempfile.gettempdir()) / "edxml-gateway-fonts" / f"{path.stem}-{digest}-em1000.ttf"
    )
    with TTFont(str(path)) as font:
        if font["head"].unitsPerEm == 1000:
            return path
        if not target.exists():
            scale_upem(font, 1000)
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(f".{os.getpid()}.partial")
            font.save(str(partial))
            os.replace(partial, target)  # atomic: concurrent workers never read half a font
    return target


def stamp_text(number_notation: str, signing_time: dt.datetime) -> str:
    """The visible text: số/ký hiệu, then the signing time in ISO 8601, Vietnam time."""
    return (
        f"{number_notation}\n{signing_time.astimezone(VIETNAM).replace(microsecond=0).isoformat()}"
    )


def _inherited(page: Any, name: str) -> Any:
    """A page attribute, looked up the page tree as PDF inheritance wants (MediaBox, CropBox
    and Rotate may sit on a parent /Pages node)."""
    node = page
    for _ in range(64):  # a page tree is shallow; a cycle must not hang us
        if node is None:
            return None
        if name in node:
            return node[name]
        node = node.get("/Parent")
        node = node.get_object() if node is not None else None
    return None


def stamp_box(page: Any) -> tuple[int, int, int, int]:
    """Where the stamp goes so that it shows at the top-right of page 1 as displayed:
    inside the visible area (CropBox, else MediaBox, both inherited) and turned with the
    page's /Rotate (the widget is drawn unrotated, NoRotate, its top-left corner fixed)."""
    visible = _inherited(page, "/CropBox") or _inherited(page, "/MediaBox")
    if visible is None:
        raise PdfSignatureError("page 1 has no MediaBox")
    x0, y0, x1, y1 = (float(v) for v in visible)
    rotation = int(_inherited(page, "/Rotate") or 0) % 360
    width, height, margin = _STAMP_WIDTH, _STAMP_HEIGHT, _MARGIN
    # A NoRotate widget is drawn upright from its rectangle's upper-left corner, which stays
    # where it is on the page: that corner goes where the stamp's top-left corner shows.
    if rotation == 90:  # shown turned clockwise: the user space's left edge is the top
        left, top = x0 + margin, y1 - margin - width
    elif rotation == 180:
        left, top = x0 + margin + width, y0 + margin
    elif rotation == 270:
        left, top = x1 - margin, y0 + margin + width
    else:
        left, top = x1 - margin - width, y1 - margin
    return int(left), int(top - height), int(left + width), int(top)
