"""The project's AutoSchema: every operation also documents the errors it can answer.

DRF and our exception handler answer errors in two shapes, `{"detail": str}` and
`{field: [messages]}`; which codes an operation can give follows from what the operation
is, so they are derived here once rather than repeated on every view:

- 401 and 403 when the operation needs an authenticated user (its `security` has no
  anonymous alternative): no or an unknown token, then a missing permission;
- 404 when the path names an object, or the list is paginated (`?page=` past the end);
- 400 for writes (serializer validation and domain refusals, JSON nested too deep) and for
  reads with query parameters other than `page` (filters, windows, limits);
- 413 for writes whose body is over the API's size limit;
- 409 for the methods a view lists in `conflicts`, where a domain `IllegalTransition`
  can refuse a state change (e.g. acknowledging a resolved incident).

Errors are JSON; a view that renders another format (the post-mortem as Markdown) answers its
own errors in that format, while a URL that resolves to no view answers JSON (see
`incidents.api.common.errors.page_not_found`), so both are documented there.

An optional query parameter given empty is treated as absent (django-filter's and DRF's
paginator's rule, which our own parameters follow), so it is documented with
`allowEmptyValue`.

Responses an operation documents itself (`@extend_schema(responses=...)`) win: the
ingestion endpoints describe their own bodies, in the formats of the products they mimic.
"""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent, build_media_type_object
from rest_framework.relations import RelatedField

ERROR = ResolvedComponent(
    name="Error",
    type=ResolvedComponent.SCHEMA,
    object="Error",
    schema={
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
)

FIELD_ERRORS = {
    "oneOf": [
        {
            "type": "array",
            "description": "Messages; for a list of objects, each one's errors in turn.",
            "items": {"oneOf": [{"type": "string"}, {"type": "object"}, {"type": "array"}]},
        },
        {"type": "object", "description": "Errors of a nested object, by field or list index."},
    ]
}

VALIDATION_ERROR = ResolvedComponent(
    name="ValidationError",
    type=ResolvedComponent.SCHEMA,
    object="ValidationError",
    schema={
        "type": "object",
        "description": "`{field: [messages]}` naming the fields at fault "
        "(`non_field_errors` for the input as a whole), or `{detail}` for a refusal that "
        "concerns no one field.",
        "properties": {"detail": {"type": "string"}},
        "additionalProperties": FIELD_ERRORS,
    },
)

DESCRIPTIONS = {
    "400": "Invalid input, the fields at fault named; or a refusal stated in `detail`.",
    "401": "No API token, or an unknown one (`Authorization: Token <key>`).",
    "403": "The user lacks the permission this operation needs.",
    "404": "No such object (or no such page of the list).",
    "409": "The object's current state does not allow this change.",
    "413": "The body is larger than the API accepts (TOCSIN_API_MAX_BODY_BYTES, 1 MiB by default).",
}

JSON_MEDIA_TYPES = ("application/json", "application/problem+json")


class AutoSchema(SpectacularAutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True

        responses = operation["responses"]
        media_types = ["application/json"]
        media_types += [m for m in self.map_renderers("media_type") if m not in media_types]
        for code, component, description in self._error_answers(operation):
            if code in responses:
                continue  # documented by the view itself
            self.registry.register_on_missing(component)
            responses[code] = {
                "content": {
                    media_type: build_media_type_object(self._error_schema(media_type, component))
                    for media_type in media_types
                },
                "description": description,
            }
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        # DRF reads "" as null for a nullable relation (`owner: ""` clears the owner), so ""
        # is accepted there whatever the slug's own constraints.
        if (
            direction == "request"
            and isinstance(field, RelatedField)
            and field.allow_null
            and schema.get("type") == "string"
        ):
            outer = {"readOnly", "writeOnly", "nullable", "description", "title", "default"}
            inner = {key: schema.pop(key) for key in list(schema) if key not in outer}
            schema["oneOf"] = [inner, {"type": "string", "maxLength": 0}]
        return schema

    def _error_answers(self, operation):
        parameters = operation.get("parameters", [])
        in_path = any(p["in"] == "path" for p in parameters)
        page = getattr(self._get_paginator(), "page_query_param", None)
        paginated = any(p["in"] == "query" and p["name"] == page for p in parameters)
        filtered = any(p["in"] == "query" and p["name"] != page for p in parameters)
        security = operation.get("security", [])
        authenticated = bool(security) and {} not in security

        if self.method != "GET" or filtered:
            yield "400", VALIDATION_ERROR, DESCRIPTIONS["400"]
        if self.method in ("POST", "PUT", "PATCH"):
            yield "413", ERROR, DESCRIPTIONS["413"]
        if authenticated:
            yield "401", ERROR, DESCRIPTIONS["401"]
            yield "403", ERROR, DESCRIPTIONS["403"]
        if in_path or paginated:
            yield "404", ERROR, DESCRIPTIONS["404"]
        conflict = getattr(self.view, "conflicts", {}).get(self.method)
        if conflict:
            yield "409", ERROR, conflict

    @staticmethod
    def _error_schema(media_type: str, component: ResolvedComponent) -> dict:
        if media_type in JSON_MEDIA_TYPES:
            return component.ref
        return {"type": "string"}
