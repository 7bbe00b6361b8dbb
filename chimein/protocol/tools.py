"""Function calling on the wire: setup ``tools``, ``toolResponse``, and their OpenAI equivalents.

The Live API declares functions in ``setup.tools[].functionDeclarations`` (an OpenAPI-style
``Schema`` with upper-case types, or a plain JSON Schema in ``parametersJsonSchema``); chimein's
answer engine speaks the OpenAI chat format, whose ``tools`` take JSON Schema. This module turns
one into the other and decodes the client's ``toolResponse``. Pure functions, no I/O: a
declaration chimein cannot honour raises :class:`ProtocolError` (1007) with a reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from chimein.protocol.messages import CLOSE_INVALID_DATA, ProtocolError, get

Scheduling = Literal["SILENT", "WHEN_IDLE", "INTERRUPT"]

# Tool kinds other than function declarations need Google's services (search, maps, code
# execution, retrieval...): an offline server cannot run them, so they are refused by name.
_HOSTED_TOOLS = (
    "google_search", "google_search_retrieval", "google_maps", "code_execution", "retrieval", "computer_use",
    "file_search", "enterprise_web_search", "url_context", "mcp_servers", "parallel_ai_search", "exa_ai_search",
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")
_SCHEMA_KEYS = {  # Gemini Schema field -> JSON Schema keyword
    "type": "type", "format": "format", "description": "description", "nullable": "nullable", "enum": "enum",
    "items": "items", "properties": "properties", "required": "required", "min_items": "minItems",
    "max_items": "maxItems", "minimum": "minimum", "maximum": "maximum", "min_length": "minLength",
    "max_length": "maxLength", "pattern": "pattern", "any_of": "anyOf", "default": "default", "title": "title",
    "property_ordering": None, "example": None, "min_properties": "minProperties", "max_properties": "maxProperties",
}


@dataclass(frozen=True)
class FunctionSpec:
    """One declared function: what the answer engine may call."""

    name: str
    description: str
    parameters: dict[str, Any]  # JSON Schema of the arguments object
    blocking: bool = True  # NON_BLOCKING: the conversation goes on while the client runs it

    def to_openai(self) -> dict[str, Any]:
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                  "parameters": self.parameters}}


@dataclass(frozen=True)
class FunctionResult:
    """One ``toolResponse.functionResponses[]`` item."""

    id: str
    name: str
    response: dict[str, Any]
    scheduling: Scheduling | None = None
    will_continue: bool = False

    def content(self) -> str:
        """The result as the text a chat model reads (compact JSON)."""
        return json.dumps(self.response, separators=(",", ":"), ensure_ascii=False, default=str)


def json_schema(schema: Any, where: str) -> dict[str, Any]:
    """A Gemini ``Schema`` (``{"type": "OBJECT", "properties": {...}}``) as JSON Schema."""
    if not isinstance(schema, dict):
        raise ProtocolError(CLOSE_INVALID_DATA, f"{where} must be an object schema")
    out: dict[str, Any] = {}
    for key, value in schema.items():
        snake = re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()
        if snake not in _SCHEMA_KEYS:
            raise ProtocolError(CLOSE_INVALID_DATA, f"{where}: schema field {key!r} is not supported")
        target = _SCHEMA_KEYS[snake]
        if target is None or value is None:
            continue
        if snake == "type":
            value = str(value).lower()
            if value == "type_unspecified":
                continue
        elif snake == "items":
            value = json_schema(value, f"{where}.items")
        elif snake == "properties":
            if not isinstance(value, dict):
                raise ProtocolError(CLOSE_INVALID_DATA, f"{where}.properties must be an object")
            value = {name: json_schema(sub, f"{where}.{name}") for name, sub in value.items()}
        elif snake == "any_of":
            value = [json_schema(sub, f"{where}.anyOf") for sub in value]
        elif snake in ("min_items", "max_items", "min_length", "max_length", "min_properties", "max_properties"):
            value = int(value)  # int64 fields arrive as strings
        out[target] = value
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def _function(decl: Any, index: int) -> FunctionSpec:
    where = f"tools.functionDeclarations[{index}]"
    if not isinstance(decl, dict):
        raise ProtocolError(CLOSE_INVALID_DATA, f"{where} must be an object")
    name = get(decl, "name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ProtocolError(CLOSE_INVALID_DATA, f"{where}.name must be letters, digits, _ . : - (max 64)")
    description = get(decl, "description") or ""
    if get(decl, "parameters") is not None and get(decl, "parameters_json_schema") is not None:
        raise ProtocolError(CLOSE_INVALID_DATA, f"{name}: give parameters or parametersJsonSchema, not both")
    if get(decl, "parameters_json_schema") is not None:
        parameters = get(decl, "parameters_json_schema")
        if not isinstance(parameters, dict):
            raise ProtocolError(CLOSE_INVALID_DATA, f"{name}.parametersJsonSchema must be a JSON object")
    elif get(decl, "parameters") is not None:
        parameters = json_schema(get(decl, "parameters"), f"{name}.parameters")
    else:
        parameters = {"type": "object", "properties": {}}
    # response / responseJsonSchema describe what the client returns: nothing to enforce, kept out.
    behavior = str(get(decl, "behavior") or "BLOCKING").upper()
    if behavior not in ("BLOCKING", "NON_BLOCKING", "UNSPECIFIED"):
        raise ProtocolError(CLOSE_INVALID_DATA, f"{name}.behavior must be BLOCKING or NON_BLOCKING")
    return FunctionSpec(name, str(description), parameters, blocking=behavior != "NON_BLOCKING")


def parse_tools(value: Any) -> tuple[FunctionSpec, ...]:
    """``setup.tools``: function declarations only; hosted tools are refused with the reason."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ProtocolError(CLOSE_INVALID_DATA, "setup.tools must be a list of {functionDeclarations: [...]}")
    specs: list[FunctionSpec] = []
    for tool in value:
        if not isinstance(tool, dict):
            raise ProtocolError(CLOSE_INVALID_DATA, "setup.tools[] must be objects")
        for hosted in _HOSTED_TOOLS:
            if get(tool, hosted) is not None:
                raise ProtocolError(
                    CLOSE_INVALID_DATA,
                    f"tool {hosted} needs Google's services; chimein is offline and runs only functionDeclarations",
                )
        declarations = get(tool, "function_declarations") or []
        if not isinstance(declarations, list):
            raise ProtocolError(CLOSE_INVALID_DATA, "tools[].functionDeclarations must be a list")
        unknown = [k for k in tool if k not in ("function_declarations", "functionDeclarations")]
        if unknown:
            raise ProtocolError(CLOSE_INVALID_DATA, f"unsupported tool {unknown[0]!r}: chimein runs functionDeclarations")
        specs.extend(_function(d, len(specs)) for d in declarations)
    names = [s.name for s in specs]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise ProtocolError(CLOSE_INVALID_DATA, f"function {duplicate!r} is declared twice")
    return tuple(specs)


def parse_function_responses(body: Any) -> tuple[FunctionResult, ...]:
    """``toolResponse.functionResponses``: each needs the id of the call it answers."""
    if not isinstance(body, dict):
        raise ProtocolError(CLOSE_INVALID_DATA, "toolResponse must be a JSON object")
    raw = get(body, "function_responses") or []
    if not isinstance(raw, list):
        raise ProtocolError(CLOSE_INVALID_DATA, "toolResponse.functionResponses must be a list")
    results = []
    for item in raw:
        if not isinstance(item, dict):
            raise ProtocolError(CLOSE_INVALID_DATA, "toolResponse.functionResponses[] must be objects")
        call_id, name = get(item, "id"), get(item, "name")
        if not (isinstance(call_id, str) and call_id) and not (isinstance(name, str) and name):
            raise ProtocolError(CLOSE_INVALID_DATA, "functionResponses[] needs the toolCall's id (or at least its name)")
        response = get(item, "response")
        if response is None:
            response = {}
        if not isinstance(response, dict):
            raise ProtocolError(CLOSE_INVALID_DATA, "functionResponses[].response must be a JSON object")
        if get(item, "parts"):
            raise ProtocolError(CLOSE_INVALID_DATA, "functionResponses[].parts (media results) are not supported")
        scheduling = get(item, "scheduling")
        if scheduling in (None, "SCHEDULING_UNSPECIFIED"):
            scheduling = None
        elif scheduling not in ("SILENT", "WHEN_IDLE", "INTERRUPT"):
            raise ProtocolError(CLOSE_INVALID_DATA, f"unknown scheduling {scheduling!r}: SILENT, WHEN_IDLE or INTERRUPT")
        results.append(FunctionResult(call_id if isinstance(call_id, str) else "", str(name or ""), response, scheduling, bool(get(item, "will_continue"))))
    return tuple(results)
