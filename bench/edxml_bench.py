"""Benchmarks of the edxml library (issue 2).

1. A package with a 1 MB PDF: build, then check (validate + parse back, one pass). The floor,
   measured in the same run and interleaved with it, is what no implementation can avoid:
   ZIP + base64 + SHA-256 of the same bytes. Target: ratio <= 1.5. The three separate calls
   (build, validate, parse) are reported too.
2. A 50 MB attachment: build and parse times and peak RSS, each in a fresh process so a peak
   is its own. ``peak_rss_ratio`` is the whole process (interpreter and libraries included)
   over the attachment size; ``above_baseline_ratio`` leaves out the interpreter's own RSS.
   Target: <= 2.5. The streaming forms (``iter_build`` to a file, ``parse``/``check`` of a
   file object) are what the gateway uses; the bytes-in-memory forms hold the whole package
   besides the file, by definition.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import random
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from measure import MIB, in_fresh_process, interleaved_medians, memory_figures, peak_rss  # noqa: E402

import edxml  # noqa: E402

REPEATS = 25


def pdf_pieces(size: int, seed: int = 2) -> Iterator[bytes]:
    """A PDF-shaped file in pieces: mostly compressed streams (random bytes), some page text."""
    rng = random.Random(seed)
    text = (
        b"BT /F1 12 Tf 72 720 Td (UBND TINH NINH BINH - So 05/UBND-VP ve lien thong) Tj ET\n" * 40
    )
    piece = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    written, number = 0, 1
    while written + len(piece) < size:
        yield piece
        written += len(piece)
        body = rng.randbytes(60_000) if number % 4 else text
        piece = b"%d 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n" % (number, len(body))
        piece += body + b"\nendstream\nendobj\n"
        number += 1
    yield piece[: size - written]


def pdf_like(size: int) -> bytes:
    return b"".join(pdf_pieces(size))


def package_with(data: bytes) -> edxml.DocumentPackage:
    from tests.factories import document

    return document(
        attachments=(edxml.Attachment(content_id="a1", name="05_UBND-VP.pdf", data=data),)
    )


def _floor(data: bytes) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:  # level 6, as ours
        zf.writestr("x.pdf", data)
    base64.b64encode(archive.getvalue())
    hashlib.sha256(data).digest()


def one_megabyte() -> list[tuple[str, float, str]]:
    data = pdf_like(MIB)
    package = package_with(data)
    wire = edxml.build(package)

    def pipeline() -> None:
        result = edxml.check(edxml.build(package))
        assert result.valid
        assert result.package == package

    def separate() -> None:
        built = edxml.build(package)
        assert edxml.validate(built) == []
        assert edxml.parse(built) == package

    for task in (pipeline, separate):
        task()  # warm up (schemas compiled, caches filled)
    medians = interleaved_medians(
        {
            "floor": lambda: _floor(data),
            "pipeline": pipeline,
            "separate": separate,
            "build": lambda: edxml.build(package),
            "check": lambda: edxml.check(wire),
            "parse": lambda: edxml.parse(wire),
        },
        REPEATS,
    )
    floor = medians["floor"]
    return [
        ("edxml_1mb_packages_per_second", round(1 / medians["pipeline"], 1), "packages/s"),
        ("edxml_1mb_floor_per_second", round(1 / floor, 1), "runs/s"),
        ("edxml_1mb_ratio_to_floor", round(medians["pipeline"] / floor, 2), "ratio"),
        ("edxml_1mb_separate_calls_ratio_to_floor", round(medians["separate"] / floor, 2), "ratio"),
        ("edxml_1mb_build_ms", round(medians["build"] * 1000, 2), "ms"),
        ("edxml_1mb_check_ms", round(medians["check"] * 1000, 2), "ms"),
        ("edxml_1mb_parse_ms", round(medians["parse"] * 1000, 2), "ms"),
        ("edxml_1mb_floor_ms", round(floor * 1000, 2), "ms"),
    ]


# -- 50 MB, one fresh process per measurement --------------------------------------------


def _child(step: str, path: str, size: int) -> dict[str, float]:
    baseline = peak_rss()
    if step.startswith("build"):
        # One copy of the file in memory, as the model holds it.
        package = package_with(Path(path).with_suffix(".pdf").read_bytes())
        start = time.perf_counter()
        if step == "build-stream":
            with open(path, "wb") as out:
                for chunk in edxml.iter_build(package):
                    out.write(chunk)
        else:
            Path(path).write_bytes(edxml.build(package))
    else:
        start = time.perf_counter()
        if step == "parse-stream":
            with open(path, "rb") as source:
                package = edxml.parse(source)
        elif step == "check-stream":
            with open(path, "rb") as source:
                result = edxml.check(source)
            assert result.valid, result.problems
            package = result.package
        else:
            package = edxml.parse(Path(path).read_bytes())
        assert isinstance(package, edxml.DocumentPackage)
        data = package.attachments[0].data
        assert data is not None
        assert len(data) == size
    return {"seconds": time.perf_counter() - start, "peak": peak_rss(), "baseline": baseline}


def fifty_megabytes() -> list[tuple[str, float, str]]:
    size = 50 * MIB
    figures: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "big.edxml")
        with open(Path(path).with_suffix(".pdf"), "wb") as out:
            out.writelines(pdf_pieces(size))
        for step in ("build-stream", "build-bytes", "parse-stream", "check-stream", "parse-bytes"):
            result = in_fresh_process(__file__, step, path, str(size))
            name = f"edxml_50mb_{step.replace('-', '_')}"
            above = result["peak"] - result["baseline"]
            figures += memory_figures(name, result, size)
            figures.append((f"{name}_above_baseline_ratio", round(above / size, 2), "x attachment"))
        figures.append(
            ("edxml_50mb_process_baseline_rss_mb", round(result["baseline"] / MIB, 1), "MiB")
        )
        figures.append(("edxml_50mb_package_mb", round(os.path.getsize(path) / MIB, 1), "MiB"))
    return figures


def run() -> list[tuple[str, float, str]]:
    return one_megabyte() + fifty_megabytes()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
    else:
        for figure in run():
            print("bench", *figure)
