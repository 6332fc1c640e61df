"""Content negotiation: how much a request's Accept header wants a media type (RFC 9110 section 12.5.1)."""

from __future__ import annotations


def quality(accept: str, media_type: str) -> float:
    """The weight `accept` gives `media_type`: that of its most specific matching range (`type/subtype` over
    `type/*` over `*/*`), 0 when none matches. An empty Accept is not handled here: it means anything."""
    kind = media_type.split("/")[0]
    specificity, weight = -1, 0.0
    for item in accept.lower().split(","):
        media_range, *parameters = (part.strip() for part in item.split(";"))
        rank = {media_type: 2, f"{kind}/*": 1, "*/*": 0}.get(media_range)
        if rank is None or rank <= specificity:
            continue
        weights = [value for name, _, value in (p.partition("=") for p in parameters) if name.strip() == "q"]
        try:
            weight = float(weights[0]) if weights else 1.0
        except ValueError:
            weight = 0.0
        specificity = rank
    return weight
