"""GET /api/uploads: the caller's files, newest first, each with a download link valid 15 minutes."""

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, Field

from apikit.app import create_app, make_handler
from apikit.auth import Principal
from apikit.repositories.uploads import UploadPage, UploadsRepository
from apikit.responses import json_response
from apikit.routes import BEARER_AUTH, route

app = create_app()
uploads = UploadsRepository()


class UploadsQuery(BaseModel):
    limit: int = Field(default=20, ge=1, le=100, description="Files per page.")
    cursor: str | None = Field(
        default=None, min_length=1, max_length=2048, description="`next_cursor` from the previous page."
    )


@route(
    app,
    "GET",
    "/api/uploads",
    summary="The caller's files",
    security=BEARER_AUTH,
    query=UploadsQuery,
    response=UploadPage,
)
def list_uploads(user: Principal, query: UploadsQuery) -> Response[str]:
    """Newest first. Files sent with a presigned POST appear here once this request has checked them."""
    return json_response(uploads.page(user.user_id, query.limit, query.cursor), headers={"Cache-Control": "no-store"})


lambda_handler = make_handler(app)
