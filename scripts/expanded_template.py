"""Print template.yaml with each Fn::ForEach of its Resources written out in place, for checkov, which does not
expand loops: it skips the Fn::ForEach key (a warning, "Failed to create a new template with enriched resources")
and so never checks what the loop makes. Text in, text out: everything outside the loops stays as written, with
its comments, so the #checkov:skip comments beside a resource still apply.

    python scripts/expanded_template.py template.yaml > .template-expanded.yaml
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from devserver.template import FOREACH_PREFIX, expand_foreach, read_template

LOOP = re.compile(rf"^  ({re.escape(FOREACH_PREFIX)}\w+):\s*$")


def expanded_text(path: Path) -> str:
    raw = read_template(path)
    lines = path.read_text().splitlines(keepends=True)
    output: list[str] = []
    index = 0
    in_resources = False
    while index < len(lines):
        line = lines[index]
        if re.match(r"^\S", line):
            in_resources = line.startswith("Resources:")
        match = LOOP.match(line) if in_resources else None
        if match is None:
            output.append(line)
            index += 1
            continue
        end = index + 1  # the loop runs to the next line indented no deeper than its key
        while end < len(lines) and (not lines[end].strip() or re.match(r"^ {3,}", lines[end])):
            end += 1
        while end > index + 1 and not lines[end - 1].strip():
            end -= 1  # blank lines before the next resource stay
        loop = {"Parameters": raw.get("Parameters", {}), "Mappings": raw.get("Mappings", {})}
        loop["Resources"] = {match.group(1): raw["Resources"][match.group(1)]}
        made = expand_foreach(loop)["Resources"]
        output.append(f"  # {match.group(1)}, written out by scripts/expanded_template.py\n")
        dumped = yaml.safe_dump(made, sort_keys=False, default_flow_style=False, width=200)
        output += [f"  {text}\n" if text else "\n" for text in dumped.splitlines()]
        index = end
    return "".join(output)


if __name__ == "__main__":
    sys.stdout.write(expanded_text(Path(sys.argv[1] if len(sys.argv) > 1 else "template.yaml")))
