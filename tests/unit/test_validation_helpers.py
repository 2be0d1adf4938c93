"""The three argument-check modules share names, argument order and the message format."""

import inspect
import re

import pytest

from analysis import _checks as analysis_checks
from facegen import _validation as facegen_checks
from modelsvc import validation as modelsvc_checks

SHARED = ("fail", "check_choice", "check_int", "check_real")


def _parameters(module, name):
    signature = inspect.signature(getattr(module, name))
    return [(p.name, p.kind) for p in signature.parameters.values()]


@pytest.mark.parametrize("name", SHARED)
def test_shared_helpers_take_the_same_arguments_in_the_same_order(name):
    reference = _parameters(analysis_checks, name)
    assert _parameters(modelsvc_checks, name) == reference
    # facegen needs no open intervals: its arguments are the leading ones of the others
    facegen = _parameters(facegen_checks, name)
    assert facegen == reference[: len(facegen)]
    assert len(facegen) >= 4


CASES = [
    (modelsvc_checks, "check_int", 0, {"minimum": 1}, "an int in [1, inf]"),
    (facegen_checks, "check_int", 9, {"minimum": 1, "maximum": 8}, "an int in [1, 8]"),
    (analysis_checks, "check_int", 0, {"minimum": 1}, "an integer >= 1"),
    (analysis_checks, "check_int", 9, {"maximum": 8}, "an integer <= 8"),
    (
        modelsvc_checks,
        "check_real",
        0.0,
        {"low": 0.0, "high": 1.0, "low_open": True},
        "a number in (0.0, 1.0]",
    ),
    (facegen_checks, "check_real", 2.0, {"low": 0.0, "high": 1.0}, "a number in [0.0, 1.0]"),
]


@pytest.mark.parametrize(("module", "name", "value", "bounds", "message"), CASES)
def test_messages_name_the_parameter_the_function_and_the_value(
    module, name, value, bounds, message
):
    expected = f"The 'n' parameter of f must be {message}; got {value!r}."
    with pytest.raises(ValueError, match=re.escape(expected)):
        getattr(module, name)("f", "n", value, **bounds)


@pytest.mark.parametrize("module", [modelsvc_checks, facegen_checks])
def test_check_choice_returns_the_value_and_lists_the_options(module):
    assert module.check_choice("f", "n", "a", ("a", "b")) == "a"
    with pytest.raises(ValueError, match=re.escape("must be one of ['a', 'b']; got 'x'.")):
        module.check_choice("f", "n", "x", ("a", "b"))
