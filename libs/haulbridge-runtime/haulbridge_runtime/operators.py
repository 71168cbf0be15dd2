"""Operator authentication for a service's ``/admin/v1`` endpoints: ``Authorization: Bearer
<{PREFIX}OPERATOR_TOKEN>``. With no token set, those endpoints refuse everyone."""
from __future__ import annotations

import secrets

from fastapi import Request

from .problems import Unauthorized


def require_operator(request: Request) -> None:
    token = request.app.state.runtime.settings.operator_token
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if token is None or scheme.lower() != "bearer" or not given.strip() or not secrets.compare_digest(
            given.strip().encode(), token.get_secret_value().encode()):
        prefix = request.app.state.runtime.settings.model_config.get("env_prefix", "")
        raise Unauthorized(f"This needs 'Authorization: Bearer <{prefix}OPERATOR_TOKEN>'.")
