"""GET /api/hello: the "edge runtime" example. Nothing but the standard library's json, so it starts in a few
milliseconds; with EnableCdn, CloudFront keeps its answer at the edge for five minutes.

It imports no layer module at all, so its route is declared as data (`make openapi` reads ROUTE).
"""

import json

ROUTE = {
    "methods": "GET",
    "path": "/api/hello",
    "summary": "Hello, from as close to you as the cache allows",
    "operation_id": "hello",
    "response": {
        "type": "object",
        "properties": {"message": {"const": "Hello"}},
        "required": ["message"],
    },
    "response_headers": {"Cache-Control": "public: a minute in browsers, five minutes in CloudFront."},
}
BODY = json.dumps({"message": "Hello"})
HEADERS = {
    "Content-Type": "application/json",
    # Browsers keep it a minute; CloudFront (s-maxage) five, serving a stale copy while it refetches.
    "Cache-Control": "public, max-age=60, s-maxage=300, stale-while-revalidate=60",
    # What apikit.app.SECURITY_HEADERS adds to every other function's answers (a test keeps the two equal).
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
}


def lambda_handler(event: dict[str, object], context: object) -> dict[str, object]:
    request = event.get("requestContext")
    request_id = request.get("requestId", "") if isinstance(request, dict) else ""
    return {"statusCode": 200, "headers": {**HEADERS, "X-Request-Id": request_id}, "body": BODY}
