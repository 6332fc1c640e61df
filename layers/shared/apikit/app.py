"""One Powertools resolver per function, with every error mapped to problem+json in this one place."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from apikit import aws, ratelimit
from apikit.errors import ApiError
from apikit.logging import logger
from apikit.metrics import MetricUnit, metrics, unhandled_error
from apikit.responses import problem_response

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]

# On every response unless the function set its own. HSTS: browsers must never try this API over plain HTTP.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
}
# Nothing is cached unless its route says so: public GETs opt in (posts, weather, hello), everything else,
# errors and answers to authenticated callers included, is kept by no browser, proxy or CDN.
DEFAULT_CACHE_CONTROL = "no-store"


def create_app() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver()

    def instance() -> str:
        return app.current_event.raw_path

    def handle_api_error(error: ApiError) -> Response[str]:
        return problem_response(error.status, error.detail, instance(), error.extra(), error.headers)

    @app.not_found
    def handle_not_found(_: NotFoundError) -> Response[str]:
        return problem_response(HTTPStatus.NOT_FOUND, "No route matches this path.", instance())

    def handle_unexpected(error: Exception) -> Response[str]:
        refusal = aws.unavailable(error)
        if refusal is not None:  # a throttle, an AWS fault or timeout: "not now", for the client to retry
            logger.warning("AWS unavailable", exc_info=error)
            return handle_api_error(refusal)
        # The stack trace goes to the logs, never to the client.
        logger.exception("unhandled error")
        # The invocation itself succeeds (it answers 500), so Lambda's Errors metric never sees this one.
        unhandled_error(app.lambda_context.function_name, type(error).__name__)
        return problem_response(HTTPStatus.INTERNAL_SERVER_ERROR, "An unexpected error occurred.", instance())

    # Registered by call, not decorator: Powertools leaves exception_handler untyped.
    app.exception_handler(ApiError)(handle_api_error)
    app.exception_handler(Exception)(handle_unexpected)
    return app


def make_handler(
    app: APIGatewayHttpResolver, *, on_context: Sequence[Callable[[LambdaContext], object]] = ()
) -> LambdaHandler:
    """The Lambda entry point: resolve, then add what every response carries, and publish the metrics.

    `on_context` receives each invocation's context first, for Powertools utilities that need it, e.g.
    `IdempotencyConfig.register_lambda_context` (so a record never outlives the invocation's remaining time).
    """

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        ratelimit.decisions.clear()
        aws.calls.clear()
        for register in on_context:
            register(context)
        aws.set_deadline(context.get_remaining_time_in_millis())
        try:
            response = app.resolve(event, context)
        finally:
            aws.set_deadline(None)  # between invocations (init, tests), no deadline applies
        http = event.get("requestContext", {}).get("http", {})
        request_id = event.get("requestContext", {}).get("requestId", "")
        headers = response.setdefault("headers", {})
        headers["X-Request-Id"] = request_id
        defaults = {**SECURITY_HEADERS, "Cache-Control": DEFAULT_CACHE_CONTROL}
        cache_control = next((value for name, value in headers.items() if name.lower() == "cache-control"), "")
        if "public" not in cache_control:
            # One client's counts: never in an answer a shared cache may hand to other clients.
            defaults |= ratelimit.response_headers()
        present = {name.lower() for name in headers}
        headers.update({name: value for name, value in defaults.items() if name.lower() not in present})
        if response["statusCode"] == HTTPStatus.UNAUTHORIZED:
            metrics.add_metric(name="AuthFailures", unit=MetricUnit.Count, value=1)
        logger.info(
            "request",
            extra={
                "method": http.get("method"),
                "path": event.get("rawPath"),
                "status": response["statusCode"],
                "aws_calls": dict(aws.calls),
            },
        )
        return response

    published: LambdaHandler = metrics.log_metrics(lambda_handler, capture_cold_start_metric=True)
    return published
