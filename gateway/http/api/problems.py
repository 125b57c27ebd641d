"""Errors of the REST API as RFC 9457 problem documents (``application/problem+json``).

Every refusal lists each problem with the field it concerns and the rule it breaks, so a
QLVB can show its clerk exactly what to fix; nothing is accepted half-way.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

__all__ = ["ApiProblem", "FieldProblem", "problem_middleware", "problem_response"]


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    rule: str
    message: str


class ApiProblem(Exception):
    def __init__(
        self,
        status: int,
        title: str,
        problems: Sequence[FieldProblem] = (),
        detail: str | None = None,
    ) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.problems = list(problems)
        self.detail = detail


def problem_response(
    status: int, title: str, problems: Sequence[FieldProblem] = (), detail: str | None = None
) -> web.Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if problems:
        body["problems"] = [
            {"field": p.field, "rule": p.rule, "message": p.message} for p in problems
        ]
    return web.Response(
        text=json.dumps(body, ensure_ascii=False),
        status=status,
        content_type="application/problem+json",
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiProblem as problem:
        return problem_response(problem.status, problem.title, problem.problems, problem.detail)
    except web.HTTPRequestEntityTooLarge as exc:
        return problem_response(
            413,
            "the request is too large",
            detail=f"{exc.text or 'over the limit'} (a file may be at most 50 MB, Điều 8.4)",
        )
    except web.HTTPException as exc:
        if exc.status >= 400:
            return problem_response(exc.status, exc.reason or "error")
        raise
