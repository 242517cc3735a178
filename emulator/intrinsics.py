"""CloudFormation intrinsic functions of a translated template, resolved with aws-sam-cli's resolver.

aws-sam-cli's ``samcli.lib.intrinsic_resolver`` evaluates ``Ref``, ``Fn::GetAtt``, ``Fn::Sub``,
``Fn::Join``, ``Fn::Select``, ``Fn::Split``, ``Fn::If`` and the condition functions. This
module gives it what it cannot know: the parameter values, the pseudo parameters of the
emulator's stack, and (for a deployed stack) the physical ids and attributes of resources.
Without a stack, a reference to a resource raises :class:`StackError` naming it.
``AWS::NoValue`` takes its entry out of a list or mapping, as CloudFormation does.

Example::

    Intrinsics(template, {"EnableKinesis": "true"}).resolve({"Ref": "EnableKinesis"})  # 'true'
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional

from emulator.template import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    DEFAULT_STACK_NAME,
    StackError,
    parameter_values,
)


class _ResourceAttributes(Dict[str, Any]):
    """aws-sam-cli's "common attribute resolver", answering every attribute from the stack (or refusing)."""

    def __init__(
        self, ref: Optional[Callable[[str], Any]], get_att: Optional[Callable[[str, str], Any]]
    ) -> None:
        super().__init__(Ref=None)  # not empty: the resolver would put its own defaults in its place
        self._ref = ref
        self._get_att = get_att

    def get(self, attribute: str, default: Any = None) -> Callable[[str], Any]:
        if attribute == "Ref":
            return self._reference
        return lambda logical_id: self._attribute(logical_id, attribute)

    def _reference(self, name: str) -> Any:
        if self._ref is None:
            raise StackError(f"cannot resolve Ref {name}: no stack to read it from")
        return self._ref(name)

    def _attribute(self, logical_id: str, attribute: str) -> Any:
        if self._get_att is None:
            raise StackError(f"cannot resolve Fn::GetAtt {logical_id}.{attribute}: no stack to read it from")
        return self._get_att(logical_id, attribute)


class Intrinsics:
    """Resolves CloudFormation intrinsic functions of a (translated) template to values.

    ``ref`` and ``get_att`` answer for resources (``ref("WorkQueue")`` -> queue URL,
    ``get_att("WorkQueue", "Arn")``); without them a reference to a resource raises
    :class:`StackError` naming it. Parameters take ``parameter_overrides``, else their Default.
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        parameter_overrides: Optional[Mapping[str, Any]] = None,
        *,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        stack_name: str = DEFAULT_STACK_NAME,
        ref: Optional[Callable[[str], Any]] = None,
        get_att: Optional[Callable[[str, str], Any]] = None,
    ) -> None:
        from samcli.lib.intrinsic_resolver.intrinsic_property_resolver import IntrinsicResolver
        from samcli.lib.intrinsic_resolver.intrinsics_symbol_table import IntrinsicsSymbolTable

        self.template = template
        self.parameters: Dict[str, Any] = dict(parameter_values(template, parameter_overrides))
        self.parameters.update(
            {
                "AWS::Region": region,
                "AWS::AccountId": account_id,
                "AWS::StackName": stack_name,
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
            }
        )
        symbols = IntrinsicsSymbolTable(
            template=dict(template),
            logical_id_translator=dict(self.parameters),
            # Not empty, so that aws-sam-cli's defaults (a layer's Ref -> its logical id...) stay out.
            default_type_resolver={"AWS::NoSuchType": {}},
            common_attribute_resolver=_ResourceAttributes(ref, get_att),
        )
        self._resolver = IntrinsicResolver(template=dict(template), symbol_resolver=symbols)
        # aws-sam-cli resolves both branches of Fn::If; CloudFormation only the chosen one (the other
        # may name a resource its condition leaves out).
        conditionals = self._resolver.default_conditional_key_map()
        conditionals["Fn::If"] = self._fn_if
        self._resolver.set_conditional_function_map(conditionals)
        self._conditions: Dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        """The value of the template's condition ``name``."""
        if name not in self._conditions:
            spec = (self.template.get("Conditions") or {}).get(name)
            if spec is None:
                raise StackError(f"unknown condition {name}")
            self._conditions[name] = bool(self._evaluate(spec))
        return self._conditions[name]

    def _fn_if(self, arguments: Any, ignore_errors: bool) -> Any:
        if not isinstance(arguments, list) or len(arguments) != 3:
            raise StackError(f"Fn::If takes [condition, value if true, value if false], not {arguments!r}")
        name, when_true, when_false = arguments
        chosen = when_true if self.condition(str(name)) else when_false
        return self._resolver.intrinsic_property_resolver(chosen, ignore_errors, parent_function="Fn::If")

    def resource_exists(self, logical_id: str) -> bool:
        """False for a resource whose Condition is false."""
        resource = (self.template.get("Resources") or {}).get(logical_id)
        if resource is None:
            return False
        condition = resource.get("Condition")
        return condition is None or self.condition(condition)

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function replaced by its result (``AWS::NoValue``: ``None``)."""
        return _without_no_value(self._evaluate(_marked_no_value(value)))

    def _evaluate(self, value: Any) -> Any:
        from samcli.lib.intrinsic_resolver.invalid_intrinsic_exception import (
            InvalidIntrinsicException,
            InvalidSymbolException,
        )

        if value is None:
            return None
        try:
            return self._resolver.intrinsic_property_resolver(value, ignore_errors=False)
        except (InvalidIntrinsicException, InvalidSymbolException) as exc:
            raise StackError(f"cannot resolve {value}: {exc}") from exc


#: Stands for ``{"Ref": "AWS::NoValue"}`` while aws-sam-cli resolves (it refuses a ``None`` result inside).
_NO_VALUE = "\x00AWS::NoValue\x00"


def _marked_no_value(value: Any) -> Any:
    """``value`` with each ``{"Ref": "AWS::NoValue"}`` replaced by the :data:`_NO_VALUE` mark."""
    if isinstance(value, list):
        return [_marked_no_value(v) for v in value]
    if isinstance(value, Mapping):
        if dict(value) == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        return {k: _marked_no_value(v) for k, v in value.items()}
    return value


def _without_no_value(value: Any) -> Any:
    """``value`` without the entries ``AWS::NoValue`` took out of lists and mappings (alone: ``None``)."""
    if isinstance(value, list):
        return [_without_no_value(v) for v in value if v != _NO_VALUE]
    if isinstance(value, dict):
        return {k: _without_no_value(v) for k, v in value.items() if v != _NO_VALUE}
    return None if value == _NO_VALUE else value
