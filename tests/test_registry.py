"""The rule registry: the public extension API, duplicate registration, and the built-in kinds."""

from __future__ import annotations

import pytest

from auditor import Layer, ModelIR, ParamCount, ParamTensor, Rule, Status, audit_ir
from auditor.rules import DuplicateRuleError, get_rule, kinds, register, unregister


class ScaleRule(Rule):
    """A user's layer: one learned scale per channel."""

    kind = "test_scale"

    def count(self, layer: Layer) -> ParamCount:
        n = layer.attrs["channels"]
        return ParamCount(n, n, f"{n} = {n:,}")

    def metrics(self, layer: Layer) -> dict[str, int]:
        return {"connections": layer.attrs["channels"] * 2}


@pytest.fixture
def scale_rule():
    rule = register(ScaleRule())
    yield rule
    unregister("test_scale")


def test_a_user_rule_verifies_a_user_layer(scale_rule):
    layer = Layer("s", "test_scale", "user.Scale", {"channels": 6}, [(1, 6)], [(1, 6)], [ParamTensor("g", (6,))])
    check = audit_ir(ModelIR("m", "test", "x", [layer])).checks[0]
    assert check.status is Status.OK and check.metrics == {"connections": 12}


def test_registering_a_kind_twice_is_an_error_unless_replacing(scale_rule):
    with pytest.raises(DuplicateRuleError, match="test_scale"):
        register(ScaleRule())
    assert register(ScaleRule(), replace=True) is get_rule("test_scale")


def test_built_in_kinds_cannot_be_shadowed_by_accident():
    with pytest.raises(DuplicateRuleError):
        register(ScaleRule(), kind="conv")


def test_the_foundation_kinds_are_registered():
    required = {"conv", "conv_transpose", "dense", "matmul", "batch_norm", "layer_norm", "pool", "global_pool",
                "activation", "flatten", "reshape", "concat", "elementwise", "resize", "dropout", "softmax"}
    assert required <= set(kinds())


def test_each_rule_module_registers_exactly_the_kinds_the_lazy_table_names():
    """`RULES` imports a rule's module on the kind's first look-up: the table must say which module that is."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import importlib, sys
        from auditor.rules.registry import BUILT_IN, RULES
        assert not RULES._entries, sorted(RULES._entries)  # nothing is imported before a look-up
        for module in sorted(set(BUILT_IN.values())):
            before = set(RULES._entries)
            importlib.import_module(module)
            named = {kind for kind, home in BUILT_IN.items() if home == module}
            assert named <= set(RULES._entries), (module, sorted(named - set(RULES._entries)))
            for kind in set(RULES._entries) - before:  # the module's own, or those of a module it imports
                assert BUILT_IN.get(kind) in sys.modules, (module, kind)
        assert set(RULES._entries) == set(BUILT_IN), sorted(set(RULES._entries) ^ set(BUILT_IN))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_look_up_imports_only_the_module_of_its_kind():
    import subprocess
    import sys

    script = ("import sys\nimport auditor.count\nfrom auditor.rules import RULES\nrepr(RULES)\nRULES.get('dense')\n"
              "print(sorted(m for m in sys.modules if m.startswith('auditor.rules.')))\n"
              "print(len(RULES), 'conv' in RULES, 'auditor.rules.conv' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded, listed = done.stdout.splitlines()
    assert "auditor.rules.dense" in loaded and "auditor.rules.conv" not in loaded
    assert "auditor.rules.attention" not in loaded and "auditor.rules.moe" not in loaded
    from auditor.rules.registry import BUILT_IN

    assert listed.split()[1:] == ["True", "True"] and int(listed.split()[0]) == len(BUILT_IN)


# ---- the one Registry type (rules, and every adapter's type map) -----------------------------------


def test_registry_register_replace_unregister_and_one_error_class():
    from auditor.registry import Registry, RegistryError

    table: Registry[str, int] = Registry("number", {"one": 1})
    assert table.register("two", 2) == 2 and table.get("two") == 2
    with pytest.raises(RegistryError, match="'two' is already registered"):
        table.register("two", 22)
    assert table.replace("two", 22) == 2 and table.get("two") == 22
    with pytest.raises(RegistryError, match="no number is registered for 'three'"):
        table.replace("three", 3)
    assert table.unregister("two") == 22 and "two" not in table
    with pytest.raises(RegistryError):
        table.unregister("two")
    assert table.unregister("two", missing_ok=True) is None
    assert DuplicateRuleError is RegistryError


def test_registry_override_is_undone_after_the_block_even_on_error():
    from auditor.registry import Registry

    table: Registry[str, int] = Registry("number", {"one": 1})
    with table.override("one", 10), table.override("new", 5):
        assert table.get("one") == 10 and table.get("new") == 5
    assert table.get("one") == 1 and "new" not in table
    with pytest.raises(ZeroDivisionError), table.override("one", 0):
        1 / table.get("one")  # type: ignore[operator]
    assert table.get("one") == 1


def test_registry_first_follows_the_order_of_the_keys_and_copies_are_independent():
    from auditor.registry import Registry

    class Base:
        pass

    class Child(Base):
        pass

    table: Registry[type, str] = Registry("class", {Base: "base", object: "anything"})
    assert table.first(Child.__mro__) == "base" and table.first(int.__mro__) == "anything"
    mine = table.copy()
    mine.register(Child, "child")
    assert mine.first(Child.__mro__) == "child" and table.first(Child.__mro__) == "base"


def _layer(kind: str = "test_scale") -> Layer:
    return Layer("s", kind, "user.Scale", {"channels": 6}, [(1, 6)], [(1, 6)], [ParamTensor("g", (6,))])


def test_audit_with_a_callers_registry_leaves_the_global_one_alone():
    import auditor

    mine = auditor.RULES.copy()
    mine.register("test_scale", ScaleRule())
    model = ModelIR("m", "test", "x", [_layer()])
    assert auditor.audit(model, rules=mine).checks[0].status is Status.OK
    assert get_rule("test_scale") is None
    assert auditor.audit(model).checks[0].status is Status.UNVERIFIED


def test_scoped_override_of_a_built_in_rule():
    from auditor.rules import RULES

    class Doubled(Rule):
        kind = "dense"

        def count(self, layer: Layer) -> ParamCount:
            return ParamCount(2, 2, "2 = 2")

    dense = Layer("fc", "dense", "x", {"in_features": 1, "out_features": 1, "use_bias": False}, [], [],
                  [ParamTensor("w", (1, 1))])
    model = ModelIR("m", "test", "x", [dense])
    with RULES.override("dense", Doubled()):
        assert audit_ir(model).checks[0].status is Status.MISMATCH
    assert audit_ir(model).checks[0].status is Status.OK


class BrokenRule(Rule):
    """A user's rule with bugs: a KeyError in one method, a ZeroDivisionError in another."""

    kind = "test_broken"

    def __init__(self, where: str) -> None:
        self.where = where

    def count(self, layer: Layer) -> ParamCount:
        if self.where == "count":
            return ParamCount(layer.attrs["missing"], 0, "")
        return ParamCount(6, 6, "6 = 6")

    def output_shapes(self, layer: Layer) -> list[tuple[int, ...]] | None:
        if self.where == "output_shapes":
            raise ZeroDivisionError("division by zero")
        return None


@pytest.mark.parametrize("where, error", [("count", "KeyError: 'missing'"),
                                          ("output_shapes", "ZeroDivisionError: division by zero")])
def test_a_rule_raising_any_exception_leaves_the_layer_unverified_with_the_reason(where, error):
    import auditor

    mine = auditor.RULES.copy()
    mine.register("test_broken", BrokenRule(where))
    check = auditor.audit(ModelIR("m", "test", "x", [_layer("test_broken")]), rules=mine).checks[0]
    assert check.status is Status.UNVERIFIED
    assert check.note == f"rule BrokenRule.{where} raised {error}"
