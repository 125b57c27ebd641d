"""The OpenAPI description matches the routes, and a randomised run over it finds no 5xx.

The run mutates a valid record (keys removed, values replaced by other types, deep and huge
values, stray keys) and throws random JSON at every operation, with a fixed seed so a
failure replays; the property: never a 5xx, and every 4xx is a problem document.
"""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import aiohttp
import pytest
import yaml

from gateway.http.api.app import PREFIX, build_api
from tests.factories import ROOT

from .harness import Gateway, _key, _record


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the property is the API's; the store backends have their own tests


SPEC = yaml.safe_load((ROOT / "schemas" / "gateway-api.yaml").read_text())


def test_every_route_is_described_and_every_description_routed() -> None:
    described = {
        (method.upper(), path)
        for path, item in SPEC["paths"].items()
        for method in item
        if method != "parameters"
    }
    routed = set()
    for route in build_api(MagicMock()).router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        if route.method != "HEAD":
            routed.add((route.method, info.get("path") or info.get("formatter")))
    assert routed == described


def _token(rng: random.Random) -> str:
    return str(_junk(rng))[:40] or "x"


def _junk(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.randint(-(2**70), 2**70)
    if kind == 3:
        return rng.random() * 10 ** rng.randint(-5, 30)
    if kind == 4:
        alphabet = "aZ09 ./\\-_:<>&;\"'đĐươàáạ\u0000\u202e☃"
        return "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 5, 60, 300])))
    if kind in (5, 6):
        return [_junk(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {str(_junk(rng, 3)): _junk(rng, depth + 1) for _ in range(rng.randrange(4))}


def _mutated(rng: random.Random, record: dict[str, Any]) -> Any:
    body = copy.deepcopy(record)
    for _ in range(rng.randint(1, 4)):
        target: Any = body
        path = []
        while isinstance(target, dict | list) and target and rng.random() < 0.6:
            key = (
                rng.choice(list(target.keys()))
                if isinstance(target, dict)
                else rng.randrange(len(target))
            )
            path.append(key)
            if isinstance(target[key], dict | list):
                target = target[key]
            else:
                break
        if not isinstance(target, dict | list) or not target:
            continue
        key = (
            rng.choice(list(target.keys()))
            if isinstance(target, dict)
            else rng.randrange(len(target))
        )
        action = rng.randrange(3)
        if action == 0 and isinstance(target, dict):
            del target[key]
        elif action == 1:
            target[key] = _junk(rng)
        elif isinstance(target, dict):
            target[f"x{rng.randrange(100)}"] = _junk(rng)
    return body if rng.random() < 0.9 else _junk(rng)


async def test_a_randomised_run_finds_no_server_error(
    gateways: tuple[Gateway, Gateway], tmp_path: Path
) -> None:
    a, _ = gateways
    headers = await _key(a, ["*.H42"])
    rng = random.Random(20261125)
    record = _record()
    record["attachments"][0]["data_base64"] = "JVBERi0xLjQK"  # keep the bodies small
    statuses: dict[int, int] = {}
    async with aiohttp.ClientSession() as http:
        accepted_id = "nope"
        for round_ in range(150):
            operation = rng.choice(
                ["post", "post", "post", "get", "list", "recall", "status", "requeue", "inbox"]
            )
            if operation == "post":
                request = http.post(
                    f"{a.url}{PREFIX}/documents", json=_mutated(rng, record), headers=headers
                )
            elif operation == "get":
                request = http.get(
                    f"{a.url}{PREFIX}/documents/{rng.choice([accepted_id, _token(rng)])}",
                    headers=headers,
                )
            elif operation == "list":
                query = {rng.choice(["limit", "since", "state", "recipient"]): str(_junk(rng))[:50]}
                request = http.get(f"{a.url}{PREFIX}/documents", params=query, headers=headers)
            elif operation == "recall":
                request = http.post(
                    f"{a.url}{PREFIX}/documents/{accepted_id}/recall",
                    json=_junk(rng),
                    headers=headers,
                )
            elif operation == "status":
                request = http.post(
                    f"{a.url}{PREFIX}/inbox/{accepted_id}/status", json=_junk(rng), headers=headers
                )
            elif operation == "requeue":
                request = http.post(
                    f"{a.url}{PREFIX}/deliveries/{str(_junk(rng))[:30] or 'x'}/requeue",
                    headers=headers,
                )
            else:
                request = http.get(
                    f"{a.url}{PREFIX}/inbox",
                    params={"since": str(_junk(rng))[:40]},
                    headers=headers,
                )
            async with request as response:
                statuses[response.status] = statuses.get(response.status, 0) + 1
                assert response.status < 500, (round_, operation, await response.text())
                if response.status >= 400:
                    assert response.content_type == "application/problem+json", (
                        await response.text()
                    )
                elif operation == "post":
                    accepted_id = (await response.json())["id"]
    assert len(statuses) > 2  # the run reached more than one kind of answer
