"""GraphiQL (placeholder until its pinned assets land)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from apikit.errors import NotFound


def enabled() -> bool:
    return False


def wants_ide(event: APIGatewayProxyEventV2) -> bool:
    return False


def page(event: APIGatewayProxyEventV2) -> Response[str]:
    raise NotFound()


def asset(name: str, event: APIGatewayProxyEventV2) -> Response[str]:
    raise NotFound()
