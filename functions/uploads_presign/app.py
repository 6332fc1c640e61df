"""POST /api/uploads/presign: a presigned POST for sending one file of up to 100 MiB straight to S3; 200.

The form is signed for one exact key under the caller's incoming/ prefix, the declared Content-Type and at most the
declared size, for 10 minutes. The caller's next GET /api/uploads checks the file's first bytes and moves it to
uploads/ (see apikit.repositories.uploads); a file nobody claims is deleted by the bucket's lifecycle after a day.
"""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from apikit.app import create_app, make_handler
from apikit.auth import Principal
from apikit.files import safe_filename
from apikit.repositories.uploads import MAX_PRESIGNED_BYTES, PresignedPost, UploadsRepository
from apikit.responses import json_response
from apikit.routes import BEARER_AUTH, route

app = create_app()
uploads = UploadsRepository()


class PresignRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [{"filename": "report.pdf", "content_type": "application/pdf", "size": 7340032}]
        },
    )
    filename: Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(safe_filename)] = Field(
        description="Stored without directories or control characters, at most 200 bytes."
    )
    content_type: Literal["image/png", "image/jpeg", "image/webp", "image/gif", "application/pdf", "text/plain"] = (
        Field(description="S3 refuses the upload unless the form's Content-Type is this one.")
    )
    size: int = Field(ge=1, le=MAX_PRESIGNED_BYTES, description="Bytes (100 MiB at most); S3 refuses a larger file.")


@route(
    app,
    "POST",
    "/api/uploads/presign",
    summary="Get a presigned POST for a large file (up to 100 MiB)",
    security=BEARER_AUTH,
    body=PresignRequest,
    response=PresignedPost,
)
def presign_upload(user: Principal, body: PresignRequest) -> Response[str]:
    """POST `fields`, then the file as `file`, to `url` as multipart/form-data within 10 minutes (`curl -F` or a
    browser form). S3 answers 204. Your next GET /api/uploads checks the file's first bytes and lists it (or
    deletes it, if it is no allowed type); DELETE /api/uploads/{id} removes it before or after that."""
    return json_response(
        uploads.presign(user.user_id, body.filename, body.content_type, body.size),
        headers={"Cache-Control": "no-store"},
    )


lambda_handler = make_handler(app)
