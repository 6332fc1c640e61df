"""What a query may ask of the function: its size, depth and cost, introspection, and the persisted-query allow-list.

Each limit is checked before any resolver runs, so a refused query costs no DynamoDB call.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from ariadne.validation import cost_validator
from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)
from graphql.validation import NoSchemaIntrospectionCustomRule

PERSISTED_QUERIES_FILE = Path(__file__).with_name("persisted-queries.json")
MAX_TOKENS = 2_000  # graphql-core stops parsing past this many tokens: parsing costs CPU before any rule runs
# graphql-core's rule for fields of one name (OverlappingFieldsCanBeMerged) compares them pairwise: 1,000 fields
# took 70 ms and exhausted its recursion. No screen needs this many; checked first, before that rule runs.
MAX_FIELDS = 300
MAX_DEPTH = 8  # posts > edges > node > author > posts > edges > node > title, and no deeper
# Each field costs 1, and a list's fields cost once per item it may hold (`first`): a page of 100 posts with their
# authors is about 300; a page of posts each with a page of its author's posts, 20 x 20, about 1,300.
MAX_COST = 5_000
CONNECTION = {"complexity": 1, "multipliers": ["first"]}
COST_MAP = {
    "Query": {"posts": CONNECTION, "orders": CONNECTION},
    "Me": {"posts": CONNECTION},
    "User": {"posts": CONNECTION},
}


class Refused(Exception):
    """A request refused before it runs, with its GraphQL error code: answered `{"errors": [...]}` and no data."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def switch(name: str) -> bool:
    """An "on", "off" or "auto" setting (the template's AllowedValues); "auto", the default, is on only where
    AWS_SAM_LOCAL is "true", which the dev server and `sam local` set and Lambda never does."""
    value = os.environ.get(name) or "auto"
    if value not in ("on", "off", "auto"):
        raise ValueError(f'{name} is "{value}": set it to "on", "off" or "auto"')
    return value == "on" or (value == "auto" and os.environ.get("AWS_SAM_LOCAL") == "true")


class FieldLimit(ValidationRule):
    """Refuses a document of more than MAX_FIELDS fields in all, fragments counted once (before the standard rules)."""

    fields = 0

    def enter_field(self, *_: Any) -> None:
        self.fields += 1

    def leave_document(self, node: DocumentNode, *_: Any) -> None:
        if self.fields > MAX_FIELDS:
            self.report_error(
                GraphQLError(f"The document selects {self.fields} fields; at most {MAX_FIELDS} are allowed.")
            )


class DepthLimit(ValidationRule):
    """Refuses an operation nested deeper than MAX_DEPTH fields, fragments followed (introspection not counted)."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        depth = self._depth(node.selection_set, set())
        if depth > MAX_DEPTH:
            name = f"'{node.name.value}' " if node.name else ""
            self.report_error(
                GraphQLError(f"The operation {name}is {depth} fields deep; at most {MAX_DEPTH} are allowed.", node)
            )

    def _depth(self, selections: SelectionSetNode | None, fragments: set[str]) -> int:
        deepest = 0
        for selection in selections.selections if selections else ():
            if isinstance(selection, FieldNode):
                if selection.name.value.startswith("__"):
                    continue  # __typename, and introspection, which its own setting allows or refuses
                deepest = max(deepest, 1 + self._depth(selection.selection_set, fragments))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, self._depth(selection.selection_set, fragments))
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in fragments:
                # A fragment spread inside itself is refused by the standard rules; here it is only not followed.
                fragment = self.context.get_fragment(selection.name.value)
                if fragment is not None:
                    named = fragments | {selection.name.value}
                    deepest = max(deepest, self._depth(fragment.selection_set, named))
        return deepest


def rules(variables: dict[str, Any] | None) -> list[type[ASTValidationRule]]:
    """The rules run after graphql-core's standard ones. The cost depends on the variables (`first: $n`)."""
    chosen: list[type[ASTValidationRule]] = [
        DepthLimit,
        cost_validator(maximum_cost=MAX_COST, default_cost=1, variables=variables, cost_map=COST_MAP),
    ]
    if not switch("GRAPHQL_INTROSPECTION"):
        chosen.append(NoSchemaIntrospectionCustomRule)
    return chosen


@cache
def persisted_queries() -> dict[str, str]:
    """The allow-list: SHA-256 (hex) of each query's text, to that text (`make graphql-persisted` writes it)."""
    if not PERSISTED_QUERIES_FILE.exists():
        return {}
    listed: dict[str, str] = json.loads(PERSISTED_QUERIES_FILE.read_text())
    return listed


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def query_text(query: str | None, extensions: dict[str, Any] | None) -> str:
    """The query to run: as sent, or the allow-list's for the hash sent (Apollo's persisted-query extension).

    With GRAPHQL_PERSISTED_ONLY=on, only the allow-list's queries run, whether sent whole or by their hash.
    """
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is not None:
        if (
            not isinstance(persisted, dict)
            or persisted.get("version") != 1
            or not isinstance(persisted.get("sha256Hash"), str)
        ):
            raise Refused('persistedQuery must be {"version": 1, "sha256Hash": "<hex>"}.', "BAD_REQUEST")
        digest = persisted["sha256Hash"]
        if query is None:
            if digest not in persisted_queries():
                raise Refused("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
            return persisted_queries()[digest]
        if sha256(query) != digest:
            raise Refused("The query's SHA-256 is not the sha256Hash sent with it.", "BAD_REQUEST")
    if query is None:
        raise Refused("The request has no query.", "BAD_REQUEST")
    if os.environ.get("GRAPHQL_PERSISTED_ONLY", "off").lower() == "on" and sha256(query) not in persisted_queries():
        raise Refused("Only persisted queries are accepted here.", "PERSISTED_QUERY_NOT_ALLOWED")
    return query
