"""SDL → executable schema: AppSync scalars and directives, `@model` expansion, resolvers."""

from server.schema.build import SchemaBundle, build_schema
from server.schema.expand import Expansion, ModelOperations, expand, pluralize
from server.schema.formatting import format_error
from server.schema.resolvers import (
    DataSourceError,
    DataSourceTimeout,
    FunctionResolver,
    HttpResolver,
    LambdaEvent,
    ResolverBinding,
    load_resolvers,
)
from server.schema.scalars import AWS_SCALAR_NAMES, AWS_SCALARS

__all__ = [
    "AWS_SCALARS",
    "AWS_SCALAR_NAMES",
    "DataSourceError",
    "DataSourceTimeout",
    "Expansion",
    "FunctionResolver",
    "HttpResolver",
    "LambdaEvent",
    "ModelOperations",
    "ResolverBinding",
    "SchemaBundle",
    "build_schema",
    "expand",
    "format_error",
    "load_resolvers",
    "pluralize",
]
