"""Compile a persisted query document into a specialised projector over the page objects.

The fast path does what graphql-core does for our schema, minus the per-field machinery:

1. variables are coerced by graphql-core itself (``get_variable_values``);
2. the operation's ``@include``/``@skip`` conditions are evaluated by graphql-core's own
   ``collect_fields``/``collect_subfields`` once per combination of the condition
   variables' values, and the resulting field plan is turned into Python source (one
   function per selection on a concrete type) compiled with ``compile``/``exec``;
3. the root fields' arguments are coerced by graphql-core (``get_argument_values``) and the
   root resolvers are awaited concurrently (graphql-core's ``gather_with_cancel``);
4. each root value is projected by the generated code into exactly the dict graphql-core
   would build.

The generated code only handles the happy path: exact leaf types (``str``, ``int`` in 32
bits, finite ``float``, ``bool``, the enum's members), ``list``/``tuple`` lists, objects
whose class passed the schema's ``is_type_of`` and abstract values whose class the schema's
``resolve_type`` mapped before. Anything else (a null in a non-null field, a value needing
coercion, an unknown class) raises inside the projector, and the *same* already-resolved
root values are then executed by graphql-core's standard executor over the same schema (a
middleware answers the root fields from what was resolved; nothing is resolved twice), so
the response is always exactly the standard one.

Runtime type decisions are memoised per Python class: for the first object of a class in
an abstract position the schema's ``resolve_type`` (or graphql-core's default resolver) is
called and the runtime type's ``is_type_of`` checked; later objects of that class reuse the
answer. That is correct for schemas whose type decisions depend on the object's class only,
as ``schema/types.py`` documents for the page objects (``isinstance`` checks).
"""

from __future__ import annotations

import inspect
import itertools
import keyword
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard, cast

from graphql import (
    DirectiveNode,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLResolveInfoHelpers,
    GraphQLSchema,
    GraphQLString,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    execute,
    get_operation_ast,
    is_abstract_type,
    is_enum_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
    located_error,
    validate,
)
from graphql.execution.collect_fields import (
    FieldDetails,
    FragmentDetails,
    collect_fields,
    collect_subfields,
)
from graphql.execution.executor import default_type_resolver
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.pyutils import Path, Undefined, gather_with_cancel
from graphql.validation import ASTValidationRule
from strawberry.types import ExecutionContext

from gateway.extensions import code_errors
from resolvers.errors import ClientError

CallRoot = Callable[[str, dict[str, Any]], Awaitable[Any]]
"""Resolve one root field: ``(field name, coerced arguments) -> page object``."""

ErrorProcessor = Callable[[list[GraphQLError], ExecutionContext | None], None]

# graphql-core's ``max_coercion_errors`` default in ``execute``.
MAX_COERCION_ERRORS = 50
# Plans are specialised per combination of the condition variables' values.
MAX_CONDITION_VARIABLES = 6
_SUPPORTED_DIRECTIVES = frozenset({"include", "skip", "deprecated"})
# @defer and @stream are not among them: incremental delivery is graphql-core's (0021).
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_BASIC_RESOLVER_FLAG = "_is_default"  # Strawberry marks its attribute-reading resolvers


class _Unsupported(Exception):
    """The document uses something the compiled path does not handle."""


class _Bail(Exception):
    """The fast projector met a value it does not handle; use the standard executor."""


@dataclass(frozen=True, slots=True)
class RootField:
    """One root field selection: enough to call its resolver."""

    response_key: str
    field_name: str
    field_def: GraphQLField
    nodes: tuple[FieldNode, ...]

    @property
    def arguments(self) -> tuple[Any, ...]:
        return tuple(self.nodes[0].arguments or ())


@dataclass(slots=True)
class _Plan:
    """The field plan of one combination of condition values."""

    root_fields: list[RootField]
    # response key -> projector of the root value, or the constant of ``__typename``
    projectors: dict[str, Callable[[Any], Any]]
    typename_keys: dict[str, str]
    order: list[str]
    source: str = ""


class _ErrorScope:
    """The one attribute ``code_errors`` reads from Strawberry's execution context."""

    __slots__ = ("context",)

    def __init__(self, context: Any) -> None:
        self.context = context


def _error_scope(context: Any) -> ExecutionContext:
    return cast(ExecutionContext, _ErrorScope(context))


def _as_graphql_error(exc: ClientError) -> GraphQLError:
    """Exactly what ``schema.query._answer`` raises for a client's mistake."""
    extensions: dict[str, Any] = {"code": exc.code}
    if exc.argument:
        extensions["argument"] = exc.argument
    return GraphQLError(exc.message, extensions=extensions)


async def _resolve_root(call_root: CallRoot, field_name: str, args: dict[str, Any]) -> Any:
    try:
        return await call_root(field_name, args)
    except ClientError as exc:
        raise _as_graphql_error(exc) from None


async def _already(value: Any) -> Any:
    return value


class _RootFailed(Exception):
    """A root resolver raised ``error`` (tagged with its field for the error's path)."""

    def __init__(self, root: RootField, error: Exception) -> None:
        super().__init__(root.response_key)
        self.root = root
        self.error = error


async def _resolve_tagged(call_root: CallRoot, root: RootField, args: dict[str, Any]) -> Any:
    try:
        return await _resolve_root(call_root, root.field_name, args)
    except Exception as exc:
        raise _RootFailed(root, exc) from None


@dataclass
class CompiledOperation:
    """A query document compiled once, executed per request with ``execute``."""

    schema: GraphQLSchema
    document: DocumentNode
    operation: OperationDefinitionNode
    operation_name: str | None
    condition_variables: tuple[str, ...]
    error_processor: ErrorProcessor = code_errors
    _fragments: dict[str, FragmentDetails] = field(default_factory=dict)
    _plans: dict[tuple[Any, ...], _Plan] = field(default_factory=dict)
    fast_executions: int = 0
    standard_executions: int = 0

    # -- the plan -----------------------------------------------------------------------

    @property
    def fragment_details(self) -> dict[str, FragmentDetails]:
        """The document's fragments as graphql-core's field collection takes them."""
        return self._fragments

    @property
    def root_fields(self) -> list[RootField]:
        """The root field selections when every condition variable is true (the plan built
        at compile time); a request's own plan follows its condition values."""
        return self._plans[(True,) * len(self.condition_variables)].root_fields

    def source(self, key: tuple[Any, ...] | None = None) -> str:
        """The generated Python source of a plan (for inspection and debugging)."""
        return self._plans[
            key if key is not None else (True,) * len(self.condition_variables)
        ].source

    def _plan(self, variables: VariableValues, key: tuple[Any, ...]) -> _Plan:
        plan = self._plans.get(key)
        if plan is None:
            plan = _Codegen(self, variables).build()
            self._plans[key] = plan
        return plan

    # -- execution ----------------------------------------------------------------------

    async def execute(
        self,
        variables: dict[str, Any] | None,
        call_root: CallRoot,
        *,
        context: Any = None,
    ) -> dict[str, Any]:
        """The response dict ``{"data": ..., "errors": [...]}`` (no ``errors`` when none),
        with every error coded as ``error_processor`` (``code_errors``) does."""
        result = await self.execute_result(variables, call_root, context=context)
        if not result.errors:
            return {"data": result.data}
        return {"data": result.data, "errors": [error.formatted for error in result.errors]}

    async def execute_result(
        self,
        variables: dict[str, Any] | None,
        call_root: CallRoot,
        *,
        context: Any = None,
        execution_context: ExecutionContext | None = None,
    ) -> ExecutionResult:
        """``execute`` as graphql-core's ``ExecutionResult`` (errors coded in place, with
        ``execution_context`` — Strawberry's, when serving — or one holding ``context``)."""
        scope = execution_context if execution_context is not None else _error_scope(context)
        coerced = get_variable_values(
            self.schema,
            self.operation.variable_definitions or (),
            variables or {},
            max_errors=MAX_COERCION_ERRORS,
        )
        if isinstance(coerced, list):
            return self._result(None, coerced, scope)
        key = tuple(coerced.coerced.get(name) for name in self.condition_variables)
        try:
            plan = self._plan(coerced, key)
        except _Unsupported:
            # A condition that graphql-core itself refuses (e.g. a missing variable):
            # let it report the error exactly.
            return await self._standard(variables, {}, call_root, scope)

        args_per_field: list[dict[str, Any]] = []
        try:
            for root in plan.root_fields:
                args_per_field.append(
                    get_argument_values(root.field_def, root.nodes[0], coerced)
                    if root.field_def.args or root.nodes[0].arguments
                    else {}
                )
        except GraphQLError as exc:
            error = located_error(exc, list(root.nodes), [root.response_key])
            return self._result(None, [error], scope)

        pending = [
            _resolve_tagged(call_root, root, args)
            for root, args in zip(plan.root_fields, args_per_field, strict=True)
        ]
        try:
            if len(pending) == 1:
                values = [await pending[0]]
            else:
                values = await gather_with_cancel(*pending)
        except _RootFailed as failed:
            root = failed.root
            error = located_error(failed.error, list(root.nodes), [root.response_key])
            return self._result(None, [error], scope)

        resolved = {
            root.response_key: value for root, value in zip(plan.root_fields, values, strict=True)
        }
        data: dict[str, Any] = {}
        projectors = plan.projectors
        typenames = plan.typename_keys
        projected = True
        try:
            for key_ in plan.order:
                constant = typenames.get(key_)
                data[key_] = constant if constant is not None else projectors[key_](resolved[key_])
        except Exception:
            projected = False  # a value the fast path does not take: see below
        if not projected:
            # Outside the handler, so no error graphql-core reports chains to our bail-out.
            return await self._standard(variables, resolved, call_root, scope)
        self.fast_executions += 1
        return ExecutionResult(data, None)

    async def _standard(
        self,
        variables: dict[str, Any] | None,
        resolved: dict[str, Any],
        call_root: CallRoot,
        scope: ExecutionContext,
    ) -> ExecutionResult:
        """graphql-core's own execution, root fields answered from ``resolved`` (or, when
        they were not resolved yet, by ``call_root``): the exact standard response."""
        self.standard_executions += 1

        def root_middleware(
            next_: Callable[..., Any], root: Any, info: GraphQLResolveInfo[Any], **args: Any
        ) -> Any:
            if info.path.prev is not None or info.field_name == "__typename":
                return next_(root, info, **args)
            key = info.path.key
            if key in resolved:
                # Awaitable, as the schema's async root resolvers are: graphql-core then
                # completes every root field before nulling ``data``, and reports each
                # one's errors in the same order as a standard execution.
                return _already(resolved[key])
            return _resolve_root(call_root, info.field_name, args)

        result = execute(
            self.schema,
            self.document,
            variable_values=variables,
            operation_name=self.operation_name,
            middleware=[root_middleware],
        )
        if inspect.isawaitable(result):
            result = await result
        assert isinstance(result, ExecutionResult)
        return self._result(result.data, list(result.errors or ()), scope)

    def _result(
        self, data: dict[str, Any] | None, errors: list[GraphQLError], scope: ExecutionContext
    ) -> ExecutionResult:
        if not errors:
            return ExecutionResult(data, None)
        self.error_processor(errors, scope)
        return ExecutionResult(data, errors)

    # -- runtime type decisions (memoised per class) ----------------------------------

    def abstract_dispatch(
        self, abstract: GraphQLAbstractType, projectors: dict[str, Callable[[Any], Any]]
    ) -> tuple[dict[type[Any], Callable[[Any], Any]], Callable[[Any], Callable[[Any], Any]]]:
        """A class → projector table for an abstract position, and its miss handler."""
        table: dict[type[Any], Callable[[Any], Any]] = {}
        info = _bare_info(self.schema, self.operation)

        def resolve(obj: Any) -> Callable[[Any], Any]:
            resolver = abstract.resolve_type or default_type_resolver
            name = resolver(obj, info, abstract)
            if not isinstance(name, str) or name not in projectors:
                raise _Bail(name)
            runtime = self.schema.get_type(name)
            if not is_object_type(runtime) or not self.schema.is_sub_type(abstract, runtime):
                raise _Bail(name)
            check = runtime.is_type_of
            if check is not None and check(obj, info) is not True:
                raise _Bail(name)
            projector = projectors[name]
            table[obj.__class__] = projector
            return projector

        return table, resolve

    def object_check(
        self, type_: GraphQLObjectType
    ) -> tuple[set[type[Any]], Callable[[Any], None]]:
        """The classes known to pass ``type_``'s ``is_type_of``, and the check of a new one."""
        accepted: set[type[Any]] = set()
        info = _bare_info(self.schema, self.operation)
        is_type_of = type_.is_type_of

        def check(obj: Any) -> None:
            if obj is None:
                raise _Bail("null")
            if is_type_of is not None and is_type_of(obj, info) is not True:
                raise _Bail(type_.name)
            accepted.add(obj.__class__)

        return accepted, check


def _bare_info(
    schema: GraphQLSchema, operation: OperationDefinitionNode
) -> GraphQLResolveInfo[Any]:
    """A resolve info for ``resolve_type``/``is_type_of`` calls made outside execution."""
    query = schema.query_type
    assert query is not None
    return GraphQLResolveInfo(
        "",
        [],
        query,
        query,
        Path(None, "", None),
        schema,
        {},
        None,
        operation,
        VariableValues({}, {}),
        None,
        _is_awaitable,
        None,
        GraphQLResolveInfoHelpers(_no_gather, _no_track),
    )


def _is_awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
    return inspect.isawaitable(value)


async def _no_gather(_awaitables: Sequence[Awaitable[Any]]) -> list[Any]:
    raise _Bail("asynchronous type resolution")


def _no_track(_values: Sequence[Any]) -> None:
    raise _Bail("asynchronous type resolution")


# -- compile-time checks --------------------------------------------------------------


def compile_operation(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    *,
    rules: Sequence[type[ASTValidationRule]] | None = None,
    error_processor: ErrorProcessor = code_errors,
) -> CompiledOperation | None:
    """Compile ``document``'s operation, or None when the compiled path does not support it
    (the caller then uses standard execution, which also reports any validation error).

    ``rules`` are extra validation rules (the gateway's limits) checked once, here.
    """
    specified = None
    if rules:
        from graphql import specified_rules

        specified = [*specified_rules, *rules]
    if validate(schema, document, specified):
        return None
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation != OperationType.QUERY:
        return None
    if operation.directives:
        return None
    fragments: dict[str, FragmentDetails] = {}
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            if definition.variable_definitions:
                return None
            fragments[definition.name.value] = FragmentDetails(definition)
    try:
        conditions = _check_selections(schema, operation, fragments)
    except _Unsupported:
        return None
    if len(conditions) > MAX_CONDITION_VARIABLES:
        return None
    compiled = CompiledOperation(
        schema=schema,
        document=document,
        operation=operation,
        operation_name=operation_name,
        condition_variables=tuple(conditions),
        error_processor=error_processor,
        _fragments=fragments,
    )
    # The plan with every condition variable true selects the most: build it now, so an
    # unsupported selection is found at compile time. Other combinations are built on
    # first use (at most 2**6 of them) and fall back to standard execution if refused.
    key = (True,) * len(conditions)
    try:
        compiled._plans[key] = _Codegen(
            compiled, VariableValues({}, dict.fromkeys(conditions, True))
        ).build()
    except _Unsupported:
        return None
    return compiled


def _check_selections(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDetails],
) -> list[str]:
    """Refuse what the compiled path does not do; return the condition variables."""
    conditions: list[str] = []

    def directives(nodes: Sequence[DirectiveNode] | None) -> None:
        for directive in nodes or ():
            name = directive.name.value
            if name not in _SUPPORTED_DIRECTIVES:
                raise _Unsupported(name)
            for argument in directive.arguments or ():
                value = argument.value
                if isinstance(value, VariableNode) and value.name.value not in conditions:
                    conditions.append(value.name.value)

    def visit(selection_set: SelectionSetNode | None, seen: set[str]) -> None:
        if selection_set is None:
            return
        for selection in selection_set.selections:
            directives(selection.directives)
            if isinstance(selection, FieldNode):
                if selection.name.value in ("__schema", "__type"):
                    raise _Unsupported("introspection")
                visit(selection.selection_set, seen)
            elif isinstance(selection, InlineFragmentNode):
                visit(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                if selection.arguments:
                    raise _Unsupported("fragment arguments")
                name = selection.name.value
                if name in seen:
                    continue
                seen.add(name)
                fragment = fragments.get(name)
                if fragment is None:
                    raise _Unsupported(name)
                directives(fragment.definition.directives)
                visit(fragment.definition.selection_set, seen)

    visit(operation.selection_set, set())
    return conditions


# -- code generation ------------------------------------------------------------------


_FAST_LEAF: dict[int, str] = {
    id(GraphQLString): "{v}.__class__ is str",
    id(GraphQLID): "{v}.__class__ is str",
    id(GraphQLBoolean): "{v}.__class__ is bool",
    id(GraphQLInt): "{v}.__class__ is int and -2147483648 <= {v} <= 2147483647",
    id(GraphQLFloat): "{v}.__class__ is float and {v} - {v} == 0.0",
}


def _leaf_slow(type_: Any, nullable: bool) -> Callable[[Any], Any]:
    """Exactly ``complete_leaf_value``; any refusal sends the request to the standard path."""
    coerce = type_.coerce_output_value

    def leaf(value: Any) -> Any:
        if value is None or value is Undefined:
            if nullable:
                return None
            raise _Bail("null")
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise _Bail("leaf")
        return coerced

    return leaf


def _iterable_slow(value: Any) -> Any:
    """Lists other than list/tuple (and nulls) go to the standard path."""
    raise _Bail("iterable")


class _Codegen:
    """Generates the projector functions of one plan."""

    def __init__(self, compiled: CompiledOperation, variables: VariableValues) -> None:
        self.compiled = compiled
        self.schema = compiled.schema
        self.variables = variables
        self.namespace: dict[str, Any] = {"_iterable_slow": _iterable_slow}
        self.lines: list[str] = []
        self.counter = itertools.count()
        self.temps = itertools.count()
        # abstract positions: (type name -> projector table to fill, type name -> function)
        self.late: list[tuple[dict[str, Callable[[Any], Any]], dict[str, str]]] = []

    def name(self, prefix: str, value: Any = None) -> str:
        name = f"_{prefix}{next(self.counter)}"
        if value is not None:
            self.namespace[name] = value
        return name

    def build(self) -> _Plan:
        schema = self.schema
        query = schema.query_type
        assert query is not None
        try:
            collected = collect_fields(
                schema, self.compiled._fragments, self.variables, query, self.compiled.operation
            )
        except GraphQLError as exc:
            raise _Unsupported(exc.message) from None
        if collected.new_defer_usages:
            raise _Unsupported("defer")
        roots: list[RootField] = []
        root_functions: dict[str, str] = {}
        typenames: dict[str, str] = {}
        order: list[str] = []
        for key, details in collected.grouped_field_set.items():
            field_name = details[0].node.name.value
            order.append(key)
            if field_name == "__typename":
                typenames[key] = query.name
                continue
            field_def = query.fields.get(field_name)
            if field_def is None or not is_non_null_type(field_def.type):
                raise _Unsupported(field_name)
            roots.append(RootField(key, field_name, field_def, tuple(d.node for d in details)))
            root_functions[key] = self.value_function(field_def.type, details)
        source = "\n".join(self.lines) + "\n"
        code = compile(source, f"<compiled {self.compiled.operation_name or 'query'}>", "exec")
        exec(code, self.namespace)
        for table, functions in self.late:
            table.update({name: self.namespace[fn] for name, fn in functions.items()})
        projectors = {key: self.namespace[fn] for key, fn in root_functions.items()}
        return _Plan(roots, projectors, typenames, order, source)

    # A value expression reads ``src`` (a plain name, evaluated once) of type ``type_``.

    def value_function(self, type_: GraphQLOutputType, details: list[FieldDetails]) -> str:
        fn = self.name("v")
        expr = self.value_expr(type_, "o", details)
        self.lines.append(f"def {fn}(o):\n    return {expr}\n")
        return fn

    def value_expr(self, type_: GraphQLOutputType, src: str, details: list[FieldDetails]) -> str:
        """An expression of ``src`` (a local name) completed as ``type_``."""
        nullable = not is_non_null_type(type_)
        inner = cast(
            GraphQLOutputType, type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        )
        expr = self.inner_expr(inner, src, details, nullable)
        if nullable:
            return f"(None if {src} is None else {expr})"
        return expr

    def inner_expr(
        self, type_: GraphQLOutputType, src: str, details: list[FieldDetails], nullable: bool
    ) -> str:
        if is_list_type(type_):
            item = type_.of_type
            fn = self.name("l")
            x = f"x{next(self.temps)}"
            item_expr = self.value_expr(item, x, details)
            self.lines.append(
                f"def {fn}(v):\n"
                f"    if v.__class__ is not list and v.__class__ is not tuple:\n"
                f"        _iterable_slow(v)\n"
                f"    return [{item_expr} for {x} in v]\n"
            )
            return f"{fn}({src})"
        if is_leaf_type(type_):
            slow = self.name("s", _leaf_slow(type_, nullable))
            if is_enum_type(type_):
                table = self.name("e", _enum_table(type_))
                return f"({table}.get({src}) or {slow}({src}))"
            fast = _FAST_LEAF.get(id(type_))
            if fast is None:
                return f"{slow}({src})"
            return f"({src} if {fast.format(v=src)} else {slow}({src}))"
        if is_abstract_type(type_):
            projectors: dict[str, Callable[[Any], Any]] = {}
            dispatch, resolve = self.compiled.abstract_dispatch(type_, projectors)
            names: dict[str, str] = {}
            for possible in self.schema.get_possible_types(type_):
                names[possible.name] = self.object_function(possible, details)
            table_name = self.name("d", dispatch)
            resolve_name = self.name("r", resolve)
            self.late.append((projectors, names))
            return f"({table_name}.get({src}.__class__) or {resolve_name}({src}))({src})"
        if is_object_type(type_):
            fn = self.object_function(type_, details)
            return f"{fn}({src})"
        raise _Unsupported(str(type_))

    def object_function(self, type_: GraphQLObjectType, details: list[FieldDetails]) -> str:
        try:
            collected = collect_subfields(
                self.schema,
                self.compiled._fragments,
                self.variables,
                self.compiled.operation,
                type_,
                details,
            )
        except GraphQLError as exc:
            raise _Unsupported(exc.message) from None
        if collected.new_defer_usages:
            raise _Unsupported("defer")
        fn = self.name("o")
        accepted, check = self.compiled.object_check(type_)
        accepted_name = self.name("a", accepted)
        check_name = self.name("c", check)
        body: list[str] = []
        entries: list[str] = []
        for key, sub in collected.grouped_field_set.items():
            field_name = sub[0].node.name.value
            if field_name == "__typename":
                entries.append(f"{key!r}: {type_.name!r}")
                continue
            field_def = type_.fields.get(field_name)
            if field_def is None:
                continue
            attribute = _attribute(field_def, field_name)
            temp = f"t{next(self.temps)}"
            body.append(f"    {temp} = o.{attribute}")
            entries.append(f"{key!r}: {self.value_expr(field_def.type, temp, sub)}")
        lines = [
            f"def {fn}(o):",
            f"    if o.__class__ not in {accepted_name}:",
            f"        {check_name}(o)",
            *body,
            "    return {" + ", ".join(entries) + "}",
            "",
        ]
        self.lines.append("\n".join(lines))
        return fn


def _attribute(field_def: GraphQLField, field_name: str) -> str:
    """The Python attribute a basic Strawberry field reads (``getattr(source, python_name)``)."""
    resolver = field_def.resolve
    if resolver is None or not getattr(resolver, _BASIC_RESOLVER_FLAG, False):
        raise _Unsupported(f"{field_name} has a resolver")
    definition = (field_def.extensions or {}).get("strawberry-definition")
    python_name = getattr(definition, "python_name", None)
    if not isinstance(python_name, str) or not python_name.isidentifier():
        raise _Unsupported(field_name)
    if keyword.iskeyword(python_name) or python_name.startswith("__"):
        raise _Unsupported(field_name)
    default_resolver = getattr(getattr(definition, "default_resolver", None), "__name__", "getattr")
    if default_resolver != "getattr":
        raise _Unsupported(f"{field_name} has a custom default resolver")
    return python_name


def _enum_table(type_: GraphQLEnumType) -> dict[Any, str]:
    """Python value → serialised name, computed by the type's own ``coerce_output_value``."""
    table: dict[Any, str] = {}
    candidates: list[Any] = []
    wrapped = getattr(type_, "wrapped_cls", None)
    if isinstance(wrapped, type):
        candidates.extend(cast(Any, wrapped))
    for candidate in candidates:
        try:
            name = type_.coerce_output_value(candidate)
        except Exception:
            continue
        if isinstance(name, str) and name:
            table[candidate] = name
    return table
