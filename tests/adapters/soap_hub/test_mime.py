"""SwA framing: what we write, the standard library reads back; the length is known upfront."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from lxml import etree

import edxml
from adapters.soap_hub import SoapHubClient, SoapHubConfig
from adapters.soap_hub.envelope import q, report_element, soap_envelope
from adapters.soap_hub.mime import MimePart, SwaError, read_swa, swa_message
from tests.factories import document, organization


def test_a_message_with_parts_round_trips() -> None:
    envelope = '<?xml version="1.0"?><a>tiếng Việt</a>'.encode()
    data = os.urandom(1024 * 1024) + b"\r\n--not-a-boundary\r\n"
    parts = [
        MimePart("a1", data, "application/pdf", "cv.pdf"),
        MimePart("a2", b"x", "text/plain", "tờ trình.txt"),
    ]
    content_type, chunks = swa_message(envelope, parts)
    assert content_type.startswith('multipart/related; type="text/xml"; start="<soap-envelope>"')
    assert any(chunk is data for chunk in chunks)  # the file itself, not a copy
    message = read_swa(content_type, b"".join(chunks))
    assert message.envelope == envelope
    assert message.parts["a1"].data == data
    assert (message.parts["a2"].filename, message.parts["a2"].content_type) == (
        "tờ trình.txt",
        "text/plain",
    )


def test_without_parts_it_is_plain_xml() -> None:
    assert swa_message(b"<a/>", []) == ("text/xml; charset=utf-8", [b"<a/>"])
    assert read_swa("text/xml", b"<a/>").envelope == b"<a/>"


def test_a_multipart_without_its_root_is_refused() -> None:
    body = b"--b\r\nContent-ID: <x>\r\n\r\nhi\r\n--b--\r\n"
    with pytest.raises(SwaError, match="no root part"):
        read_swa('multipart/related; start="<root>"; boundary="b"', body)
    with pytest.raises(SwaError):
        read_swa("multipart/related", b"no boundary")


@pytest.fixture
async def recorded() -> AsyncIterator[tuple[list[web.BaseRequest], list[bytes], str]]:
    requests: list[web.BaseRequest] = []
    bodies: list[bytes] = []

    async def handle(request: web.Request) -> web.Response:
        requests.append(request)
        bodies.append(await request.read())
        return web.Response(body=soap_envelope([_send_response()]), content_type="text/xml")

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/soap", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield requests, bodies, f"http://{host}:{port}/soap"
    await runner.cleanup()


def _send_response() -> etree._Element:
    response = etree.Element(q("SendDocumentResponse"))
    response.append(report_element())
    etree.SubElement(response, q("DocumentId")).text = "hub-1"
    return response


async def test_send_document_posts_a_sized_swa_message(
    recorded: tuple[list[web.BaseRequest], list[bytes], str],
) -> None:
    requests, bodies, url = recorded
    config = SoapHubConfig(endpoint=url, organ_id="000.00.11.H53", token="t")
    async with SoapHubClient(config) as hub:
        assert await hub.send_document(document(sender=organization("000.00.11.H53"))) == "hub-1"
    (request,), (body,) = requests, bodies
    assert request.headers["SOAPAction"] == '"SendDocument"'
    assert request.headers["Content-Length"] == str(len(body))
    assert "Transfer-Encoding" not in request.headers
    message = read_swa(request.headers["Content-Type"], body)
    envelope = edxml.parse_untrusted_xml(message.envelope)
    assert envelope.find(f".//{q('Token')}").text == "t"  # type: ignore[union-attr]
    assert message.parts["a1"].data == document().attachments[0].data
