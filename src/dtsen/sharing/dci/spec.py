"""The vendored DCI specs (``spec/``, Apache-2.0, see ``spec/SOURCE.txt``) and validation of message
bodies against their schemas: the one place every DCI body is checked against the standard.

* :func:`validate_request` / :func:`validate_response` check a body against an operation's request or
  response schema; :func:`schema` gives a named component schema (e.g. ``SearchRequest``).
* The specs are OpenAPI 3.0 documents; their schemas are validated as JSON Schema draft 4 (3.0's base)
  with formats checked (``date-time``, ``uri``), by ``jsonschema_rs``.

Two repairs are applied when a document is loaded, each listed here and checked by the tests (a repair
that stops being needed fails them):

* **Pointers through references** (:data:`REF_REWRITES` after loading): the bundled YAMLs have ``$ref``
  JSON pointers that walk *through* another ``$ref`` (``.../message/oneOf/0/properties/...`` where
  ``oneOf/0`` is itself a ``$ref``), which JSON Pointer cannot follow. Each is rewritten to the pointer of
  the schema it means; nothing about the schemas changes.
* **Schema patches** (:data:`SCHEMA_PATCHES`): places where the schema as written rejects the spec's
  own documented examples. Each names the pointer, the change and why.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml

SPEC_DIR = Path(__file__).with_name("spec")
SPECS: dict[str, str] = {
    "social": "social_api_v1.0.0.yaml",  # Social Registry: search, on-search, txn/status (+ sync)
    "registry_core": "registry_core_api_v1.0.0.yaml",  # CRVS: subscribe, notify, unsubscribe, txn/status
    # The earlier Social Registry draft that still has subscribe/notify (agency subscriptions).
    "social_subscribe": "social_api_v1.0.0.feature-person-object-SR-IBR.yaml",
}
# (spec, pointer to a schema keyword) -> (replacement keyword, why). Applied after the $ref rewrites.
SCHEMA_PATCHES: dict[tuple[str, str], tuple[str, str]] = {
    (
        "social",
        "/components/schemas/SearchRequest/properties/search_request/items/properties/search_criteria"
        "/properties/query/oneOf",
    ): (
        "anyOf",
        "query's first two alternatives ({type, value: object} and {type, value: any}) overlap for every "
        "object value, so with oneOf no expression query (the spec's own example included) can be valid",
    ),
    **{
        (
            name,
            "/components/schemas/TxnStatusRequest/properties/txnstatus_request/properties/attribute_value"
            "/oneOf",
        ): (
            "anyOf",
            "attribute_value's transaction_id and correlation_id alternatives are both plain strings, so "
            "with oneOf no string (any transaction_id or correlation_id) can be valid",
        )
        for name in ("social", "registry_core", "social_subscribe")
    },
}


class SpecError(ValueError):
    """A body that does not conform; ``errors`` are ``"<instance path>: <message>"`` lines."""

    def __init__(self, where: str, errors: list[str]) -> None:
        super().__init__(f"{where}: " + "; ".join(errors[:5]))
        self.where = where
        self.errors = errors


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _tokens(pointer: str) -> list[str]:
    return [_unescape(token) for token in pointer.lstrip("/").split("/")] if pointer.strip("/") else []


def _walk(document: Any, pointer: str) -> Any:
    node = document
    for token in _tokens(pointer):
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def _canonical(document: Any, pointer: str, depth: int = 0) -> str:
    """The pointer of the schema ``pointer`` means, following any ``$ref`` met on the way."""
    if depth > 20:
        raise ValueError(f"$ref cycle at {pointer}")
    node, path = document, []
    for token in _tokens(pointer):
        while isinstance(node, dict) and token not in node and isinstance(node.get("$ref"), str):
            target = _canonical(document, node["$ref"].removeprefix("#"), depth + 1)
            path, node = [_escape(part) for part in _tokens(target)], _walk(document, target)
        node = node[int(token)] if isinstance(node, list) else node[token]
        path.append(_escape(token))
    return "/" + "/".join(path)


def _rewrite_refs(document: Any) -> dict[str, str]:
    rewrites: dict[str, str] = {}

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/"):
                target = "#" + _canonical(document, ref[1:])
                if target != ref:
                    rewrites[ref] = target
                    node["$ref"] = target
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(document)
    return rewrites


@cache
def raw_document(spec: str) -> dict[str, Any]:
    """The spec as published (YAML dates as strings, as JSON would have them)."""
    if spec not in SPECS:
        raise KeyError(f"unknown DCI spec {spec!r}; one of {', '.join(SPECS)}")
    loaded = yaml.safe_load((SPEC_DIR / SPECS[spec]).read_text(encoding="utf-8"))
    return json.loads(json.dumps(loaded, default=str))


REF_REWRITES: dict[str, dict[str, str]] = {}


@cache
def document(spec: str, *, patched: bool = True) -> dict[str, Any]:
    """The spec with its ``$ref`` pointers made resolvable and (unless ``patched=False``) its
    :data:`SCHEMA_PATCHES` applied."""
    loaded = copy.deepcopy(raw_document(spec))
    REF_REWRITES[spec] = _rewrite_refs(loaded)
    if patched:
        for (name, pointer), (keyword, _why) in SCHEMA_PATCHES.items():
            if name != spec:
                continue
            *parent_tokens, old = _tokens(pointer)
            parent_pointer = "/" + "/".join(_escape(t) for t in parent_tokens)
            parent = _walk(loaded, parent_pointer)
            parent[keyword] = parent.pop(old)
            _move_refs(loaded, f"#{pointer}/", f"#{parent_pointer}/{_escape(keyword)}/")
    return loaded


def _move_refs(node: Any, old_prefix: str, new_prefix: str) -> None:
    """Point references into a renamed keyword at its new name."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(old_prefix):
            node["$ref"] = new_prefix + ref[len(old_prefix) :]
        for value in node.values():
            _move_refs(value, old_prefix, new_prefix)
    elif isinstance(node, list):
        for value in node:
            _move_refs(value, old_prefix, new_prefix)


@cache
def _registry(spec: str, patched: bool) -> jsonschema_rs.Registry:
    return jsonschema_rs.Registry(
        [(f"urn:dci:{spec}", document(spec, patched=patched))], draft=jsonschema_rs.Draft4
    )


@cache
def _validator(spec: str, pointer: str, patched: bool = True) -> Any:
    _walk(document(spec, patched=patched), pointer)  # KeyError for a pointer that is not there
    return jsonschema_rs.Draft4Validator(
        {"$ref": f"urn:dci:{spec}#{pointer}"},
        registry=_registry(spec, patched),
        validate_formats=True,
    )


def _operation(path: str) -> str:
    return "/paths/" + _escape(path) + "/post"


def request_pointer(spec: str, path: str) -> str:
    """The pointer of the JSON request body schema of ``POST path``."""
    return _operation(path) + "/requestBody/content/application~1json/schema"


def response_pointer(spec: str, path: str, status: int = 200) -> str:
    """The pointer of the JSON response schema of ``POST path`` for ``status`` (its own entry, else
    ``default``; a ``$ref`` to a shared response followed)."""
    responses = _walk(document(spec), _operation(path) + "/responses")
    key = str(status) if str(status) in responses else "default"
    if key not in responses:
        raise KeyError(f"{spec} POST {path} declares no response for {status}")
    entry = responses[key]
    base = _operation(path) + "/responses/" + key
    if isinstance(entry.get("$ref"), str):
        base = entry["$ref"].removeprefix("#")
    return base + "/content/application~1json/schema"


def errors_at(spec: str, pointer: str, body: Any, *, patched: bool = True) -> list[str]:
    """Every violation of the schema at ``pointer`` by ``body``, as ``"<path>: <message>"``."""
    found = []
    for error in _validator(spec, pointer, patched).iter_errors(body):
        where = "/" + "/".join(str(part) for part in error.instance_path)
        found.append(f"{where}: {error.message[:300]}")
    return found


def validate_request(spec: str, path: str, body: Any) -> None:
    """:class:`SpecError` unless ``body`` is a valid request body of ``POST path``."""
    problems = errors_at(spec, request_pointer(spec, path), body)
    if problems:
        raise SpecError(f"{spec} POST {path} request", problems)


def validate_response(spec: str, path: str, body: Any, *, status: int = 200) -> None:
    """:class:`SpecError` unless ``body`` is a valid ``status`` response of ``POST path``."""
    problems = errors_at(spec, response_pointer(spec, path, status), body)
    if problems:
        raise SpecError(f"{spec} POST {path} response {status}", problems)


def schema(spec: str, name: str) -> dict[str, Any]:
    """The component schema ``name`` (e.g. ``SearchRequest``) as the document has it (refs unresolved)."""
    return dict(_walk(document(spec), "/components/schemas/" + _escape(name)))


def validate_schema(spec: str, name: str, value: Any) -> None:
    """:class:`SpecError` unless ``value`` is valid against the component schema ``name``."""
    problems = errors_at(spec, "/components/schemas/" + _escape(name), value)
    if problems:
        raise SpecError(f"{spec} {name}", problems)
