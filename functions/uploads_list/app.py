"""GET /api/uploads: the caller's files, newest first, each with a download link valid 15 minutes."""

from aws_lambda_powertools.event_handler import Response

from apikit.app import create_app, make_handler
from apikit.auth import Principal
from apikit.repositories.uploads import UploadPage, UploadsRepository
from apikit.responses import json_response
from apikit.routes import BEARER_AUTH, route
from apikit.validation import PageQuery

app = create_app()
uploads = UploadsRepository()


@route(
    app,
    "GET",
    "/api/uploads",
    summary="The caller's files",
    security=BEARER_AUTH,
    query=PageQuery,
    response=UploadPage,
)
def list_uploads(user: Principal, query: PageQuery) -> Response[str]:
    """Newest first. Files sent with a presigned POST appear here once this request has checked them."""
    return json_response(uploads.page(user.user_id, query.limit, query.cursor), headers={"Cache-Control": "no-store"})


lambda_handler = make_handler(app)
