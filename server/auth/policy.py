"""Authorization rules, evaluated in one place. Pure functions: no I/O, no clock.

Two rule systems, both as AppSync / Amplify define them:

1. AppSync auth directives on types and fields (`@aws_api_key @aws_oidc @aws_iam @aws_lambda
   @aws_cognito_user_pools(cognito_groups: [...])`, and the older `@aws_auth`). A field's
   directives replace its type's; with none on either, only the API's default mode may read
   it. Once a type or field names modes, the default mode is *not* implied: it must be listed
   too. AWS_LAMBDA identities are further refused the fields their authorizer listed in
   `deniedFields`.

2. Amplify `@auth(rules: [...])` on `@model` types (Gen 1, transformer v2):

   - `{allow: owner, ownerField: "owner", identityClaim: "sub::username", operations}`;
     the owner field may be a list (`owners: [String]`, multi-owner). The stored value is
     `"<sub>::<username>"`; like Amplify's resolvers we also accept rows whose owner is the
     bare `sub` or bare username (data written before the identity-claim change).
   - `{allow: groups, groups: [...], groupClaim: "cognito:groups"}` (static) or
     `{allow: groups, groupsField: "editors"}` (dynamic, the row lists its groups).
   - `{allow: public, provider: apiKey|iam}`, `{allow: private, provider: userPools|oidc|iam}`,
     `{allow: custom}` (the Lambda authorizer).
   - `operations` from create, read, update, delete, and the fine-grained get, list, sync,
     listen, search (`read` = all five). Default: all.
   - Providers match auth modes: userPools → AMAZON_COGNITO_USER_POOLS, oidc → OPENID_CONNECT,
     apiKey → API_KEY, iam → AWS_IAM (public and private alike: our IAM principals are
     configured access keys, there is no unauthenticated role), function → AWS_LAMBDA.
   - A model without rules is open to every mode the directives let in. SYSTEM passes all.
   - Field-level rules (`field_rules`) replace the model's rules for that field: a field the
     caller may not read is hidden (None), one it may not write refuses the mutation.

`ModelPolicy` compiles a model's rules once; the functions `can`, `authorize`, `row_filter`,
`owner_value_for_create`, `redact` are shortcuts that compile (and cache) on the fly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Literal, Mapping, Sequence

from server.auth.identity import AuthMode, Identity
from server.errors import ConfigError, Unauthorized
from server.models import Item, ModelSpec

__all__ = [
    "ALL_OPERATIONS",
    "AuthDirective",
    "AuthRule",
    "DEFAULT_GROUP_CLAIM",
    "DEFAULT_IDENTITY_CLAIM",
    "DIRECTIVE_MODES",
    "ModelPolicy",
    "Operation",
    "READ_OPERATIONS",
    "authorize",
    "can",
    "check_field_access",
    "combine_filters",
    "directive_allows",
    "lambda_denies",
    "owner_value_for_create",
    "owner_values",
    "parse_directives",
    "parse_rules",
    "policy_for",
    "row_filter",
]

# ---------------------------------------------------------------------------------------
# 1. AppSync directives
# ---------------------------------------------------------------------------------------

DIRECTIVE_MODES: dict[str, AuthMode] = {
    "aws_api_key": "API_KEY",
    "aws_iam": "AWS_IAM",
    "aws_oidc": "OPENID_CONNECT",
    "aws_lambda": "AWS_LAMBDA",
    "aws_cognito_user_pools": "AMAZON_COGNITO_USER_POOLS",
    "aws_auth": "AMAZON_COGNITO_USER_POOLS",
}
"""Directive name (without `@`) → the mode it admits."""


@dataclass(frozen=True, kw_only=True)
class AuthDirective:
    """One auth directive; `cognito_groups` None = any signed-in Cognito user."""

    mode: AuthMode
    cognito_groups: tuple[str, ...] | None = None

    def admits(self, identity: Identity) -> bool:
        if identity.auth_mode != self.mode:
            return False
        if self.cognito_groups is None:
            return True
        return any(g in self.cognito_groups for g in identity.groups)


def parse_directives(directives: Iterable[tuple[str, Mapping[str, Any]]]) -> tuple[AuthDirective, ...]:
    """Auth directives from `(name, arguments)` pairs; other directives are skipped.

    Raises:
        ConfigError: `cognito_groups` is not a list of strings.
    """
    out = []
    for name, args in directives:
        mode = DIRECTIVE_MODES.get(name.lstrip("@"))
        if mode is None:
            continue
        groups = args.get("cognito_groups") if mode == "AMAZON_COGNITO_USER_POOLS" else None
        if groups is not None and (not isinstance(groups, (list, tuple)) or not all(isinstance(g, str) for g in groups)):
            raise ConfigError(f"@{name.lstrip('@')}(cognito_groups: ...) must be a list of strings")
        out.append(AuthDirective(mode=mode, cognito_groups=tuple(groups) if groups is not None else None))
    return tuple(out)


def directive_allows(
    identity: Identity,
    *,
    default_mode: AuthMode,
    type_directives: Sequence[AuthDirective] = (),
    field_directives: Sequence[AuthDirective] = (),
) -> bool:
    """May `identity` touch a field, by AppSync's directive rules alone (see module doc)."""
    if identity.is_system:
        return True
    effective = field_directives or type_directives
    if not effective:
        return identity.auth_mode == default_mode
    return any(d.admits(identity) for d in effective)


def lambda_denies(identity: Identity, type_name: str, field_name: str) -> bool:
    """Did the Lambda authorizer list `Type.field` in `deniedFields`?

    AppSync accepts the short form `Type.field` and the ARN form
    `arn:aws:appsync:<region>:<account>:apis/<apiId>/types/<Type>/fields/<field>`.
    """
    if not identity.denied_fields:
        return False
    short = f"{type_name}.{field_name}"
    arn_tail = f"/types/{type_name}/fields/{field_name}"
    return any(d == short or d.endswith(arn_tail) for d in identity.denied_fields)


def check_field_access(
    identity: Identity,
    *,
    default_mode: AuthMode,
    type_name: str,
    field_name: str,
    type_directives: Sequence[AuthDirective] = (),
    field_directives: Sequence[AuthDirective] = (),
) -> None:
    """Raise Unauthorized unless the directives (and Lambda deniedFields) admit the identity.

    The message is AppSync's: "Not Authorized to access <field> on type <Type>".
    """
    if not directive_allows(
        identity, default_mode=default_mode, type_directives=type_directives, field_directives=field_directives
    ) or lambda_denies(identity, type_name, field_name):
        raise Unauthorized(f"Not Authorized to access {field_name} on type {type_name}")


# ---------------------------------------------------------------------------------------
# 2. Amplify @auth rules
# ---------------------------------------------------------------------------------------

Operation = Literal["create", "update", "delete", "get", "list", "sync", "listen", "search", "read"]
READ_OPERATIONS = frozenset({"get", "list", "sync", "listen", "search"})
ALL_OPERATIONS = frozenset({"create", "update", "delete"}) | READ_OPERATIONS
_RULE_KEYS = frozenset(
    {"allow", "provider", "ownerField", "identityClaim", "groups", "groupsField", "groupClaim", "operations", "queries", "mutations"}
)
_PROVIDERS: dict[str, tuple[str, ...]] = {
    "owner": ("userPools", "oidc"),
    "groups": ("userPools", "oidc"),
    "public": ("apiKey", "iam"),
    "private": ("userPools", "oidc", "iam"),
    "custom": ("function",),
}
_PROVIDER_MODE: dict[str, AuthMode] = {
    "userPools": "AMAZON_COGNITO_USER_POOLS",
    "oidc": "OPENID_CONNECT",
    "apiKey": "API_KEY",
    "iam": "AWS_IAM",
    "function": "AWS_LAMBDA",
}
DEFAULT_IDENTITY_CLAIM = "sub::username"
DEFAULT_GROUP_CLAIM = "cognito:groups"


@dataclass(frozen=True, kw_only=True)
class AuthRule:
    """One parsed `@auth` rule."""

    allow: Literal["owner", "groups", "public", "private", "custom"]
    provider: str
    operations: frozenset[str] = ALL_OPERATIONS
    owner_field: str = "owner"
    identity_claim: str = DEFAULT_IDENTITY_CLAIM
    groups: tuple[str, ...] = ()
    groups_field: str | None = None
    group_claim: str = DEFAULT_GROUP_CLAIM

    @property
    def mode(self) -> AuthMode:
        return _PROVIDER_MODE[self.provider]

    @property
    def conditional(self) -> bool:
        """Does the rule depend on the row (owner, dynamic groups)?"""
        return self.allow == "owner" or self.groups_field is not None


def _expand_ops(ops: Iterable[str], where: str) -> frozenset[str]:
    out: set[str] = set()
    for op in ops:
        if op == "read":
            out |= READ_OPERATIONS
        elif op in ALL_OPERATIONS:
            out.add(op)
        else:
            raise ConfigError(
                f"{where}: unknown operation {op!r}; use create, read, update, delete, get, list, sync, listen, search"
            )
    return frozenset(out)


def parse_rules(rules: Sequence[Mapping[str, Any]], *, where: str) -> tuple[AuthRule, ...]:
    """Validate `@auth` rules as parsed from SDL.

    Raises:
        ConfigError: naming the rule (by index) and the bad key.
    """
    out = []
    for i, raw in enumerate(rules):
        w = f"{where} @auth rule {i}"
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{w}: expected an object like {{allow: owner}}")
        raw = {k: v for k, v in raw.items() if v is not None}  # GraphQL input objects may carry nulls
        unknown = set(raw) - _RULE_KEYS
        if unknown:
            raise ConfigError(f"{w}: unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(_RULE_KEYS))})")
        allow = raw.get("allow")
        if allow not in _PROVIDERS:
            raise ConfigError(f"{w}: allow must be one of owner, groups, public, private, custom (got {allow!r})")
        provider = raw.get("provider", _PROVIDERS[allow][0])
        if provider not in _PROVIDERS[allow]:
            raise ConfigError(f"{w}: provider {provider!r} is not valid with allow: {allow} (use {', '.join(_PROVIDERS[allow])})")
        ops_raw = raw.get("operations")
        if ops_raw is None and ("queries" in raw or "mutations" in raw):
            # Transformer v1 spelling: queries [get, list], mutations [create, update, delete].
            ops_raw = [
                *(("get", "list", "sync", "search") if raw.get("queries") else ()),
                *(raw.get("mutations") or ()),
            ]
        if ops_raw is not None and (not isinstance(ops_raw, (list, tuple)) or not all(isinstance(o, str) for o in ops_raw)):
            raise ConfigError(f"{w}: operations must be a list of names")
        ops = ALL_OPERATIONS if ops_raw is None else _expand_ops(ops_raw, w)
        groups = raw.get("groups") or ()
        if not isinstance(groups, (list, tuple)) or not all(isinstance(g, str) for g in groups):
            raise ConfigError(f"{w}: groups must be a list of group names")
        groups_field = raw.get("groupsField")
        if allow == "groups" and not groups and not groups_field:
            raise ConfigError(f"{w}: a groups rule needs groups: [...] or groupsField")
        for key in ("ownerField", "identityClaim", "groupClaim", "groupsField"):
            if key in raw and not (isinstance(raw[key], str) and raw[key]):
                raise ConfigError(f"{w}: {key} must be a non-empty string")
        out.append(
            AuthRule(
                allow=allow,
                provider=provider,
                operations=ops,
                owner_field=raw.get("ownerField", "owner"),
                identity_claim=raw.get("identityClaim", DEFAULT_IDENTITY_CLAIM),
                groups=tuple(groups),
                groups_field=groups_field,
                group_claim=raw.get("groupClaim", DEFAULT_GROUP_CLAIM),
            )
        )
    return tuple(out)


def _claim(identity: Identity, name: str) -> str | None:
    value = identity.claims.get(name)
    if value is None and name == "username":
        value = identity.claims.get("cognito:username", identity.username)
    if value is None and name == "sub":
        value = identity.sub
    return str(value) if value is not None and not isinstance(value, (dict, list)) else None


def owner_values(identity: Identity, identity_claim: str = DEFAULT_IDENTITY_CLAIM) -> tuple[str | None, frozenset[str]]:
    """(the value to store as owner on create, every owner value that means this caller).

    For "sub::username": store "<sub>::<username>", accept that, the bare sub and the bare
    username, as Amplify's generated resolvers do.
    """
    parts = identity_claim.split("::")
    values = [_claim(identity, p) for p in parts]
    present = [v for v in values if v is not None]
    if len(parts) == 1:
        return (present[0], frozenset(present)) if present else (None, frozenset())
    if len(present) == len(parts):
        primary: str | None = "::".join(present)  # type: ignore[arg-type]
    else:
        primary = present[0] if present else None
    accepted = set(present)
    if primary is not None:
        accepted.add(primary)
    return primary, frozenset(accepted)


def _identity_groups(identity: Identity, claim: str) -> tuple[str, ...]:
    if claim == DEFAULT_GROUP_CLAIM or claim not in identity.claims:
        return identity.groups
    raw = identity.claims.get(claim)
    if isinstance(raw, str):
        return tuple(g for g in raw.replace(",", " ").split() if g)
    if isinstance(raw, (list, tuple)):
        return tuple(str(g) for g in raw)
    return ()


def _as_values(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v is not None]
    return [str(value)]


class ModelPolicy:
    """A model's @auth rules, compiled.

    Args:
        spec: the model (its `auth_rules` are parsed here).
        field_rules: per-field @auth rules (Amplify field-level auth), field name → rules.

    Raises:
        ConfigError: a rule is malformed, or names an owner/groups field the model lacks.
    """

    def __init__(self, spec: ModelSpec, *, field_rules: Mapping[str, Sequence[Mapping[str, Any]]] | None = None) -> None:
        self.spec = spec
        self.rules = parse_rules(spec.auth_rules, where=f"type {spec.name}")
        self.field_rules = {
            name: parse_rules(rules, where=f"field {spec.name}.{name}") for name, rules in (field_rules or {}).items()
        }
        self._list_fields = {f.name for f in spec.fields if f.is_list}
        for name in self.field_rules:
            if spec.field(name) is None:
                raise ConfigError(f"field {spec.name}.{name}: @auth on a field the model does not have")

    # -- decisions ------------------------------------------------------------------------

    @staticmethod
    def _op(operation: str) -> str:
        if operation == "read":
            return "get"
        if operation not in ALL_OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}")
        return operation

    def _applicable(self, rules: Sequence[AuthRule], identity: Identity, op: str) -> list[AuthRule]:
        return [r for r in rules if op in r.operations and r.mode == identity.auth_mode]

    def _rule_grants(self, rule: AuthRule, identity: Identity, item: Mapping[str, Any] | None) -> bool:
        """Does `rule` admit the identity for `item` (None: a rule that needs the row says no)."""
        if rule.allow in ("public", "private", "custom"):
            return True
        if rule.allow == "groups" and rule.groups_field is None:
            return any(g in rule.groups for g in _identity_groups(identity, rule.group_claim))
        if item is None:
            return False
        if rule.allow == "groups":
            assert rule.groups_field is not None
            mine = set(_identity_groups(identity, rule.group_claim))
            return any(v in mine for v in _as_values(item.get(rule.groups_field)))
        _, accepted = owner_values(identity, rule.identity_claim)
        return any(v in accepted for v in _as_values(item.get(rule.owner_field)))

    def _decide(self, rules: Sequence[AuthRule], identity: Identity, op: str, item: Mapping[str, Any] | None) -> bool:
        if identity.is_system or not rules:
            return True
        return any(self._rule_grants(r, identity, item) for r in self._applicable(rules, identity, op))

    def can(self, identity: Identity, operation: str, item: Mapping[str, Any] | None = None) -> bool:
        """May `identity` do `operation` (on `item`, the stored row; for create, the input)?

        Without `item`, rules that depend on the row (owner, dynamic groups) do not count,
        except for `create`, where the input is checked by `owner_value_for_create`.
        """
        op = self._op(operation)
        if op == "create" and item is None:
            return self.may_attempt(identity, op)
        return self._decide(self.rules, identity, op, item)

    def may_attempt(self, identity: Identity, operation: str) -> bool:
        """Could some row allow this? (any applicable rule; used before the row is known)."""
        op = self._op(operation)
        if identity.is_system or not self.rules:
            return True
        return bool(self._applicable(self.rules, identity, op))

    def authorize(self, identity: Identity, operation: str, item: Mapping[str, Any] | None = None) -> None:
        """`can`, raising AppSync's Unauthorized error when not."""
        if not self.can(identity, operation, item):
            raise Unauthorized(f"Not Authorized to {self._op(operation)} {self.spec.name}")

    def row_filter(self, identity: Identity, operation: str = "list") -> dict[str, Any] | None:
        """The rows `identity` may read, as an AppSync filter the store applies before paging.

        Returns None when every row is visible. AND the result with the client's filter, and
        apply it inside the store query (before limit / nextToken), so counts, pages and
        filters never reveal other rows. For update/delete the same filter works as a
        `condition` that makes the check atomic.

        Raises:
            Unauthorized: no rule lets this identity do `operation` on any row.
        """
        op = self._op(operation)
        if identity.is_system or not self.rules:
            return None
        applicable = self._applicable(self.rules, identity, op)
        clauses: list[dict[str, Any]] = []
        for rule in applicable:
            if not rule.conditional:
                if self._rule_grants(rule, identity, None):
                    return None
                continue
            if rule.allow == "owner":
                field, (_, values) = rule.owner_field, owner_values(identity, rule.identity_claim)
            else:
                assert rule.groups_field is not None
                field, values = rule.groups_field, frozenset(_identity_groups(identity, rule.group_claim))
            opname = "contains" if field in self._list_fields else "eq"
            clauses.extend({field: {opname: v}} for v in sorted(values))
        if not clauses:
            raise Unauthorized(f"Not Authorized to {op} {self.spec.name}")
        unique: list[dict[str, Any]] = []
        for c in clauses:
            if c not in unique:
                unique.append(c)
        return unique[0] if len(unique) == 1 else {"or": unique}

    def owner_value_for_create(self, identity: Identity, input: Mapping[str, Any]) -> dict[str, Any]:
        """The create input with owner fields filled in; refuses to create rows for others.

        As Amplify: for each owner rule that applies to the caller's mode and allows create,
        an absent owner field is set to the caller (`"sub::username"`; a list field gets a
        one-element list). If the caller sent an owner value that is not theirs, the create is
        allowed only when another rule (groups, public, private) grants create.

        Raises:
            Unauthorized: no rule allows the create.
        """
        out = dict(input)
        if identity.is_system or not self.rules:
            return out
        applicable = self._applicable(self.rules, identity, "create")
        if not applicable:
            raise Unauthorized(f"Not Authorized to create {self.spec.name}")
        for rule in applicable:
            if rule.allow == "owner" and out.get(rule.owner_field) is None:
                primary, _ = owner_values(identity, rule.identity_claim)
                if primary is not None:
                    out[rule.owner_field] = [primary] if rule.owner_field in self._list_fields else primary
        if not any(self._rule_grants(r, identity, out) for r in applicable):
            raise Unauthorized(f"Not Authorized to create {self.spec.name} for another owner")
        self.check_input_fields(identity, "create", out, existing=None)
        return out

    # -- field level ----------------------------------------------------------------------

    def hidden_fields(self, identity: Identity, item: Mapping[str, Any], operation: str = "get") -> frozenset[str]:
        """Fields of `item` that field-level rules hide from this caller."""
        op = self._op(operation)
        return frozenset(
            name for name, rules in self.field_rules.items() if not self._decide(rules, identity, op, item)
        )

    def redact(self, identity: Identity, item: Item, operation: str = "get") -> Item:
        """`item` with hidden fields set to None (a copy; the original is untouched)."""
        hidden = self.hidden_fields(identity, item, operation)
        if not hidden:
            return item
        return {k: (None if k in hidden else v) for k, v in item.items()}

    def check_input_fields(
        self, identity: Identity, operation: str, input: Mapping[str, Any], *, existing: Mapping[str, Any] | None
    ) -> None:
        """Refuse a create/update that writes a field its field-level rules forbid.

        Raises:
            Unauthorized: naming the field.
        """
        op = self._op(operation)
        row = existing if existing is not None else input
        for name, rules in self.field_rules.items():
            if name in input and not self._decide(rules, identity, op, row):
                raise Unauthorized(f"Not Authorized to {op} field {name} on type {self.spec.name}")

    def modes(self) -> frozenset[AuthMode]:
        """The auth modes the rules admit (Amplify turns these into the type's directives)."""
        return frozenset(r.mode for r in self.rules)


# -- shortcuts ----------------------------------------------------------------------------

_cache: dict[int, tuple[ModelSpec, ModelPolicy]] = {}


def policy_for(spec: ModelSpec) -> ModelPolicy:
    """The compiled policy of `spec`, cached per spec object.

    Field-level rules are taken from `spec.field_auth_rules` (field name → rules) when the
    ModelSpec contract carries them; until it does, only model-level rules apply here and
    callers with field rules build `ModelPolicy(spec, field_rules=...)` themselves.
    """
    hit = _cache.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1]
    policy = ModelPolicy(spec, field_rules=getattr(spec, "field_auth_rules", None))
    if len(_cache) > 1024:
        _cache.clear()
    _cache[id(spec)] = (spec, policy)
    return policy


def can(identity: Identity, spec: ModelSpec, operation: str, item: Mapping[str, Any] | None = None) -> bool:
    return policy_for(spec).can(identity, operation, item)


def authorize(identity: Identity, spec: ModelSpec, operation: str, item: Mapping[str, Any] | None = None) -> None:
    policy_for(spec).authorize(identity, operation, item)


def row_filter(identity: Identity, spec: ModelSpec, operation: str = "list") -> dict[str, Any] | None:
    return policy_for(spec).row_filter(identity, operation)


def owner_value_for_create(identity: Identity, spec: ModelSpec, input: Mapping[str, Any]) -> dict[str, Any]:
    return policy_for(spec).owner_value_for_create(identity, input)


def combine_filters(*filters: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """AND of AppSync filters, skipping None (client filter + row filter)."""
    present = [dict(f) for f in filters if f]
    if not present:
        return None
    return present[0] if len(present) == 1 else {"and": present}
