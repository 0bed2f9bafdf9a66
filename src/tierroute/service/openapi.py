"""The OpenAPI document as the gateway really behaves (issue 8, item 10).

The hot routes read their bodies by hand (service.parsing), so FastAPI cannot see them; this
module describes them: the chat, classify and feedback request bodies, the error statuses each
operation answers with in the OpenAI error shape, the bearer scheme where a key is checked, and
``/metrics`` as prometheus text. Model names and tiers are the configured ones, so a body that
the schema accepts is one the gateway accepts. ``tests/service/test_openapi.py`` runs
schemathesis with every check against a live gateway.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from tierroute.config import GatewayConfig
from tierroute.service.parsing import MAX_TOKENS
from tierroute.service.routes.classify import MAX_BATCH
from tierroute.service.routing import AUTO

BEARER = "bearer"

ERROR: dict[str, Any] = {
    "type": "object",
    "description": "The OpenAI error shape.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "integer", "null"]},
            },
        }
    },
}

_REASONS = {
    400: "Malformed request: not JSON, or a required field missing or empty.",
    401: "Missing or wrong gateway API key (`Authorization: Bearer <key>`).",
    403: "The key may not use this endpoint (admin endpoints, /metrics).",
    404: "Unknown model, request id or path.",
    413: "Request body over `server.max_body_bytes`.",
    422: "JSON of the wrong shape; `param` names the field.",
    429: "Every model of the chain is rate-limited; see Retry-After.",
    500: "The gateway failed unexpectedly (the error is logged).",
    502: "The provider answered with an error or broke the stream.",
    503: "No model could answer, or the service is starting or stopping.",
    504: "The provider did not answer in time.",
}

_MAX_TOKENS = {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_TOKENS}


def _chat_request(models: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": "An OpenAI chat completions request; fields not listed are passed to "
        "the provider as sent.",
        "required": ["model", "messages"],
        "properties": {
            "model": {
                "type": "string",
                "enum": models,
                "description": f"`{AUTO}` to route by the classifier, or a configured model.",
            },
            "messages": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["role"],
                    "properties": {
                        "role": {"type": "string"},
                        "content": {
                            "description": "A string or a list of content parts; passed on."
                        },
                    },
                },
            },
            "stream": {"type": ["boolean", "null"]},
            "user": {"type": ["string", "null"]},
            "max_tokens": _MAX_TOKENS,
            "max_completion_tokens": _MAX_TOKENS,
        },
    }


def _one_of_keys(alternatives: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Exactly one of the keys, each with its schema; other keys are ignored."""
    return {
        "oneOf": [
            {
                "type": "object",
                "required": [key],
                "properties": {
                    key: schema,
                    **{other: False for other in alternatives if other != key},
                },
            }
            for key, schema in alternatives.items()
        ]
    }


CLASSIFY_REQUEST = _one_of_keys(
    {
        "text": {"type": "string"},
        "messages": {"type": "array", "minItems": 1, "items": {"type": "object"}},
        "inputs": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_BATCH,
            "items": {"type": "string"},
        },
    }
)


def _feedback_request(tiers: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["request_id", "tier"],
        "properties": {
            "request_id": {"type": "string", "minLength": 1, "maxLength": 128},
            "tier": {"type": "string", "enum": tiers},
        },
    }


def _body(ref: str) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def _errors(*statuses: int) -> dict[str, Any]:
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {str(s): {"description": _REASONS[s], "content": error} for s in statuses}


# Error statuses per operation, beyond 500 and 503 (starting, stopping), which any may answer.
_OPERATION_ERRORS: dict[tuple[str, str], tuple[int, ...]] = {
    ("/v1/chat/completions", "post"): (400, 401, 404, 413, 422, 429, 502, 504),
    ("/v1/classify", "post"): (400, 401, 413, 422),
    ("/v1/feedback", "post"): (400, 401, 404, 413, 422),
    ("/v1/models", "get"): (401,),
    ("/v1/stats/cost", "get"): (401, 422),
    ("/admin/reload", "post"): (401, 403),
    ("/metrics", "get"): (401, 403, 404),
    ("/healthz", "get"): (),
    ("/readyz", "get"): (),
    ("/health/canary", "get"): (),
}
_KEYED = {"/v1/chat/completions", "/v1/classify", "/v1/feedback", "/v1/models", "/v1/stats/cost"}

_CHAT_OPERATION: dict[str, Any] = {
    "tags": ["chat"],
    "summary": "Chat completions (OpenAI-compatible), routed by tier when model is auto",
    "operationId": "chat_completions",
    "requestBody": _body("ChatCompletionRequest"),
    "responses": {
        "200": {
            "description": "The provider's answer as it sent it; a server-sent event stream "
            "when `stream` is true.",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/event-stream": {
                    "schema": {
                        "type": "object",
                        "description": "One server-sent event: a chat.completion.chunk as JSON "
                        "in `data`, `[DONE]` last, or an error object if the stream broke.",
                        "required": ["data"],
                        "properties": {"data": {"type": "string"}},
                    }
                },
            },
        }
    },
}


def build_openapi(app: FastAPI, config: GatewayConfig, tiers: list[str]) -> dict[str, Any]:
    """The document for ``app`` serving ``config`` with a classifier of ``tiers``."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    paths: dict[str, Any] = schema["paths"]
    paths["/v1/chat/completions"] = {"post": dict(_CHAT_OPERATION)}
    paths["/v1/classify"]["post"]["requestBody"] = _body("ClassifyRequest")
    paths["/v1/feedback"]["post"]["requestBody"] = _body("FeedbackRequest")
    paths["/metrics"]["get"]["responses"]["200"] = {
        "description": "Prometheus text exposition format.",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas.update(
        Error=ERROR,
        ChatCompletionRequest=_chat_request([AUTO, *config.model_names()]),
        ClassifyRequest=CLASSIFY_REQUEST,
        FeedbackRequest=_feedback_request(tiers),
    )
    components["securitySchemes"] = {
        BEARER: {"type": "http", "scheme": "bearer", "description": "A gateway API key."}
    }
    metrics_keyed = config.server.metrics == "admin" or (
        config.server.metrics == "auto" and bool(config.api_keys)
    )
    for (path, method), statuses in _OPERATION_ERRORS.items():
        operation = paths[path][method]
        operation["responses"].pop("422", None)  # FastAPI's shape; ours is the OpenAI one
        operation["responses"].update(_errors(*statuses, 500, 503))
        keyed = (path in _KEYED and config.api_keys) or path == "/admin/reload"
        if keyed or (path == "/metrics" and metrics_keyed):
            operation["security"] = [{BEARER: []}]
    return schema


def install_openapi(app: FastAPI, config: GatewayConfig) -> None:
    """Serve ``build_openapi``'s document at /openapi.json (built once, after start-up)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            state = getattr(app.state, "tierroute", None)
            tiers = list(state.router.model.tiers) if state else list(config.tiers)
            document = build_openapi(app, config, tiers)
            if state is None:
                return document  # not cached: the served model's tiers are not known yet
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
