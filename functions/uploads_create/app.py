"""POST /api/uploads: one file as multipart/form-data (field `file`), up to 4 MiB, stored in S3; 201.

The body reaches Lambda base64-encoded inside a 6 MB invoke payload, so a direct upload can never be much over
4.4 MB: larger files go straight to S3 with a presigned POST (POST /api/uploads/presign). What a file is, is decided
by its first bytes (apikit.files), never by the client's Content-Type or file name.
"""

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from python_multipart.exceptions import FormParserError, MultipartParseError
from python_multipart.multipart import Field, File, FormParser, parse_options_header

from apikit.app import create_app, make_handler
from apikit.auth import Principal
from apikit.errors import BadRequest, PayloadTooLarge, UnprocessableContent, UnsupportedMediaType
from apikit.files import detect_type, matching_name, safe_filename
from apikit.repositories.uploads import Upload, UploadsRepository
from apikit.responses import json_response
from apikit.routes import BEARER_AUTH, route

app = create_app()
uploads = UploadsRepository()

MAX_FILE_BYTES = 4 * 1024 * 1024
# Boundaries, part headers and a few small fields around the file. The whole body, base64-encoded in the event,
# still fits Lambda's 6 MB payload, so a file just over the limit reaches us and gets this 413, not a 500.
MAX_FORM_OVERHEAD = 64 * 1024
PRESIGN_HINT = "Send files over 4 MiB (up to 100 MiB) straight to S3 with POST /api/uploads/presign."
TYPES_HINT = "PNG, JPEG, WebP, GIF, PDF or plain text (UTF-8)"
FIELD = b"file"

UPLOAD_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {
            "type": "string",
            "format": "binary",
            "contentMediaType": "application/octet-stream",
            "description": f"The file: {TYPES_HINT}, 1 byte to 4 MiB. Other fields are ignored.",
        }
    },
}


def _problem(message: str, kind: str) -> UnprocessableContent:
    return UnprocessableContent([{"loc": ["body", "file"], "msg": message, "type": kind}])


def read_file(body: bytes, content_type: str) -> tuple[str, bytes]:
    """(client's file name, bytes) of the one file in the form's `file` field."""
    if len(body) > MAX_FILE_BYTES + MAX_FORM_OVERHEAD:
        raise PayloadTooLarge(f"The file is larger than 4 MiB. {PRESIGN_HINT}")
    try:
        boundary = parse_options_header(content_type)[1].get(b"boundary")
    except UnicodeError as error:  # python-multipart reads the header as Latin-1
        raise BadRequest("The Content-Type header of this multipart/form-data body is not valid.") from error
    if not boundary:
        raise BadRequest("Content-Type multipart/form-data needs its boundary parameter.")
    parts: list[Field | File] = []
    complete = False

    def on_end() -> None:
        nonlocal complete
        complete = True

    try:
        parser = FormParser(
            "multipart/form-data",
            on_field=parts.append,
            on_file=parts.append,
            on_end=on_end,
            boundary=boundary,
            config={"MAX_MEMORY_FILE_SIZE": MAX_FILE_BYTES + MAX_FORM_OVERHEAD},  # never spill to /tmp
        )
        parser.write(body)
        parser.finalize()
    except (FormParserError, MultipartParseError, ValueError) as error:
        raise BadRequest("The multipart/form-data body is malformed.") from error
    if not complete:  # the parser accepts a body that stops early: only its closing boundary says it is whole
        raise BadRequest("The multipart/form-data body is truncated: its closing boundary is missing.")
    # A browser sends a form whose file input is left empty as a part with filename="" and no bytes: no file.
    files = [part for part in parts if isinstance(part, File) and (part.file_name or part.size)]
    if len(files) > 1:
        raise _problem("Send exactly one file, in the field `file`.", "too_many_files")
    if not files or files[0].field_name != FIELD:
        if any(isinstance(part, Field) and part.field_name == FIELD for part in parts):
            raise _problem("The field `file` must be a file (a part with a filename), not text.", "not_a_file")
        raise _problem("Field required: send the file in the field `file`.", "missing")
    (upload,) = files
    if upload.size > MAX_FILE_BYTES:
        raise PayloadTooLarge(f"The file is larger than 4 MiB. {PRESIGN_HINT}")
    if upload.size == 0:
        raise _problem("The file is empty.", "empty")
    upload.file_object.seek(0)
    return _form_name(upload.file_name or b""), upload.file_object.read()


def _form_name(raw: bytes) -> str:
    """The file name a browser meant: it sends UTF-8 with `"`, CR and LF escaped as %22, %0D and %0A (HTML's
    multipart/form-data encoding algorithm), and so does urllib3 under requests."""
    name = raw.decode("utf-8", errors="replace")
    for escaped, character in (("%22", '"'), ("%0D", "\r"), ("%0A", "\n")):
        name = name.replace(escaped, character)
    return name


@route(
    app,
    "POST",
    "/api/uploads",
    summary="Upload a file (multipart/form-data, up to 4 MiB)",
    security=BEARER_AUTH,
    body=UPLOAD_FORM,
    body_media_types=("multipart/form-data",),
    status=HTTPStatus.CREATED,
    response=Upload,
)
def create_upload(user: Principal, body: bytes) -> Response[str]:
    """One file in the form field `file`. It is stored as `uploads/<user id>/<id>/<name>` with the type its
    bytes show (PNG, JPEG, WebP, GIF, PDF or UTF-8 text: anything else is a 415, whatever its name or
    Content-Type), served as an attachment. Over 4 MiB is a 413: use POST /api/uploads/presign."""
    client_name, data = read_file(body, app.current_event.headers.get("content-type") or "")
    media_type = detect_type(data)
    if media_type is None:
        raise UnsupportedMediaType(
            f"The file is not {TYPES_HINT}: its content says so, whatever its name or Content-Type."
        )
    upload = uploads.store(user.user_id, matching_name(safe_filename(client_name), media_type), data, media_type)
    return json_response(upload, HTTPStatus.CREATED)


lambda_handler = make_handler(app)
