"""Print template.yaml with one parameter's Default changed, so `make validate` lints the other branch of its
conditions too (EnableCdn=true adds CloudFront, S3 and their policies). Text in, text out: tags and comments stay.

    python scripts/with_default.py template.yaml EnableCdn true > .template-cdn.yaml
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def with_default(text: str, parameter: str, value: str) -> str:
    block = re.compile(rf"(^  {re.escape(parameter)}:\n(?:    .*\n)*?    Default: ).*$", re.MULTILINE)
    changed, count = block.subn(rf'\g<1>"{value}"', text, count=1)
    if count != 1:
        raise SystemExit(f"no Default for parameter {parameter} in the template")
    return changed


if __name__ == "__main__":
    template, parameter, value = sys.argv[1:4]
    sys.stdout.write(with_default(Path(template).read_text(), parameter, value))
