"""apikit.static beyond what the API docs' and GraphiQL's tests show (tests/unit/test_docs.py, test_graphiql.py)."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from apikit.static import GZIP_FROM, HTML, REVALIDATE, File, serve
from tests.conftest import load_event


def test_a_vary_of_the_callers_is_kept_beside_accept_encoding():
    """GraphiQL's page says Vary: Accept; once large enough to gzip, it must vary on both."""
    event = APIGatewayProxyEventV2(load_event("docs/page.json"))

    response = serve(event, File(b"x" * GZIP_FROM, HTML), REVALIDATE, {"Vary": "Accept"})

    assert response.headers["Vary"] == "Accept, Accept-Encoding"
    assert response.headers["Content-Encoding"] == "gzip"
