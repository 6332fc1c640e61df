"""DELETE /api/uploads/{id}: the caller's own file; 204.

Another user's id is a 404, as an id that never existed is: files are private, and ids live under their owner's
prefix, so this answer tells nobody whether someone else has a file with that id.
"""

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response

from apikit.app import create_app, make_handler
from apikit.auth import Principal
from apikit.errors import MethodNotAllowed
from apikit.repositories.uploads import UploadPath, UploadsRepository
from apikit.responses import empty_response
from apikit.routes import BEARER_AUTH, route

app = create_app()
uploads = UploadsRepository()


# API Gateway sends DELETE /api/uploads/presign here: `{id}` matches any one segment, and a route with a parameter
# beats the catch-all. That path is the presign route's, so answer as the catch-all answers a method a path does not
# serve. A plain Powertools route, tried before `{id}` (static routes first), and no operation of the document.
@app.delete("/api/uploads/presign")
def presign_takes_post_only() -> Response[str]:
    raise MethodNotAllowed(["POST", "OPTIONS"])


@route(
    app,
    "DELETE",
    "/api/uploads/{id}",
    summary="Delete one of the caller's files",
    security=BEARER_AUTH,
    path_model=UploadPath,
    status=HTTPStatus.NO_CONTENT,
    errors=(HTTPStatus.NOT_FOUND,),
)
def delete_upload(user: Principal, path: UploadPath) -> Response[str]:
    uploads.delete(user.user_id, path.id)
    return empty_response()


lambda_handler = make_handler(app)
