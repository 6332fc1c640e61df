"""apikit.encoding.base64url: the one spelling of bytes as text that cursors, refresh tokens and key ids share."""

from __future__ import annotations

import pytest

from apikit.encoding import base64url


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        pytest.param(b"", "", id="empty"),
        pytest.param(b"\x00\x00\x17", "AAAX", id="no-padding-ends-in-X"),
        pytest.param(b"\x00\x17", "ABc", id="one-padding-character"),
        pytest.param(b"\x5d", "XQ", id="two-padding-characters"),
        pytest.param(b"\xfb\xff", "-_8", id="url-safe-alphabet"),
        pytest.param(b"\x00\x05\xd7", "AAXX", id="ends-in-two-X"),
    ],
)
def test_base64url_is_rfc_4648_section_5_without_padding(raw, text):
    assert base64url(raw) == text
