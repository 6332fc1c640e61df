"""What an uploaded file is, decided by its first bytes, and a name for it that is safe to store and to send back.

The client's Content-Type and file name say what the client claims; the bytes say what the file is. Only the types
in ALLOWED are kept, and each is stored with the type detected here, never the one the client sent.
"""

from __future__ import annotations

import codecs
import unicodedata
from urllib.parse import quote

PNG, JPEG, WEBP, GIF, PDF, TEXT = "image/png", "image/jpeg", "image/webp", "image/gif", "application/pdf", "text/plain"
ALLOWED = (PNG, JPEG, WEBP, GIF, PDF, TEXT)
SNIFF_BYTES = 8192  # what a file sent to S3 directly is judged by (its first bytes, read with one ranged GET)

# Signatures from each format's specification: PNG (ISO 15948), JPEG SOI + marker, RIFF/WEBP, GIF87a/89a, %PDF-.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
    (b"%PDF-", PDF),
)
# Plain text: UTF-8 (a BOM allowed) with no control character but tab, line feed, form feed and carriage return.
_TEXT_CONTROLS = frozenset(range(32)) - {0x09, 0x0A, 0x0C, 0x0D} | {0x7F}

NAME_MAX_BYTES = 200  # UTF-8 bytes: well inside S3's 1,024-byte keys and the 255 bytes most file systems allow
_EXTENSION_MAX = 16
_WINDOWS_RESERVED = str.maketrans({character: "_" for character in '<>:"|?*'})
# Invisible characters that change how a name reads (a right-to-left override turns "gnp.exe" into "exe.png").
_KEEP_FORMAT = frozenset({"\u200c", "\u200d"})  # zero-width (non-)joiners: part of emoji and several scripts


def detect_type(data: bytes, *, whole: bool = True) -> str | None:
    """The allowed media type these bytes are, or None. `whole=False`: `data` is only the file's beginning."""
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    return TEXT if _is_text(data, whole) else None


def _is_text(data: bytes, whole: bool) -> bool:
    if not data or any(byte in _TEXT_CONTROLS for byte in data):
        return False
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        # A beginning may end inside a character: only a whole file must end on a character boundary.
        decoder.decode(data, final=whole)
    except UnicodeDecodeError:
        return False
    return True


def safe_filename(name: str) -> str:
    """A file name without directories, control or bidirectional characters, at most NAME_MAX_BYTES of UTF-8.

    Letters of any script are kept. Only the last path component counts (`../../etc/passwd` is `passwd`,
    `C:\\Users\\a\\b.png` is `b.png`); characters Windows refuses become `_`; leading dots and spaces go, so
    no name is hidden, `.` or `..`. An empty result is `file`.
    """
    name = unicodedata.normalize("NFC", name)
    name = "".join(
        character
        for character in name
        if unicodedata.category(character) not in {"Cc", "Cs", "Co"}
        and (unicodedata.category(character) != "Cf" or character in _KEEP_FORMAT)
    )
    name = name.replace("\\", "/").rsplit("/", 1)[-1].translate(_WINDOWS_RESERVED)
    name = " ".join(name.split()).lstrip(". ").rstrip(" ")
    if len(name.encode()) > NAME_MAX_BYTES:
        stem, dot, extension = name.rpartition(".")
        if not dot or len(extension) > _EXTENSION_MAX:  # (a stem is never empty: no name starts with a dot)
            stem, extension = name, ""
        suffix = f".{extension}" if extension else ""
        stem = stem.encode()[: NAME_MAX_BYTES - len(suffix.encode())].decode(errors="ignore").rstrip(". ")
        name = stem + suffix
    # Composed again at the end: dropping a character can leave a letter beside its combining mark.
    return unicodedata.normalize("NFC", name) or "file"


# Extensions that agree with each detected type. Any other is followed by the type's own, so that a file saved
# from a download opens as what it is: "page.html" that is plain text becomes "page.html.txt", never a web page.
_EXTENSIONS = {
    PNG: ("png",),
    JPEG: ("jpg", "jpeg"),
    WEBP: ("webp",),
    GIF: ("gif",),
    PDF: ("pdf",),
    TEXT: ("txt", "text", "md", "csv", "tsv", "log", "json"),
}


def matching_name(name: str, media_type: str) -> str:
    """`name` if its extension agrees with `media_type`, else `name` plus the type's own extension."""
    extensions = _EXTENSIONS[media_type]
    if name.rpartition(".")[2].lower() in extensions and "." in name:
        return name
    suffix = f".{extensions[0]}"
    stem = name.encode()[: NAME_MAX_BYTES - len(suffix)].decode(errors="ignore")
    return stem + suffix


def attachment(name: str) -> str:
    """Content-Disposition that makes a browser download the file under its name (RFC 6266, RFC 8187)."""
    fallback = "".join(
        character if 32 <= ord(character) < 127 and character not in '"\\%' else "_" for character in name
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
