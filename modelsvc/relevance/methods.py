"""Relevance methods by name, their parameters, and the LRP rules the fast path uses.

LRP methods are zennit composites (`zennit.composites.COMPOSITES`); "gradient" and
"gradient_x_input" are plain-autograd baselines. Every method has default parameters;
callers may override only the parameters a method has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelsvc.validation import check_choice, check_real


@dataclass(frozen=True)
class FastRules:
    """Which LRP rule the fast path applies where (mirrors the zennit composite).

    `first` is the rule for the first conv/linear layer (None: no special first layer),
    `conv` for the other convolutions; linear layers always use the epsilon rule.
    """

    first: str | None
    conv: str


@dataclass(frozen=True)
class Method:
    """A relevance method: its kind, default parameters and fast-path rules (if any)."""

    name: str
    kind: str  # "lrp" | "gradient" | "gradient_x_input"
    defaults: dict[str, float] = field(default_factory=dict)
    fast_rules: FastRules | None = None
    description: str = ""


_LRP_DEFAULTS = {"epsilon": 1e-6, "stabilizer": 1e-6}

METHODS: dict[str, Method] = {
    method.name: method
    for method in (
        Method(
            "epsilon_plus_flat",
            "lrp",
            dict(_LRP_DEFAULTS),
            FastRules(first="flat", conv="zplus"),
            "flat rule on the first layer, z+ on other convolutions, epsilon on linear layers",
        ),
        Method(
            "epsilon_plus",
            "lrp",
            dict(_LRP_DEFAULTS),
            FastRules(first=None, conv="zplus"),
            "z+ on all convolutions, epsilon on linear layers",
        ),
        Method(
            "epsilon_alpha2_beta1_flat",
            "lrp",
            dict(_LRP_DEFAULTS),
            FastRules(first="flat", conv="alpha2_beta1"),
            "flat rule on the first layer, alpha=2/beta=1 on other convolutions, epsilon on linear",
        ),
        Method(
            "epsilon_gamma_box",
            "lrp",
            {**_LRP_DEFAULTS, "gamma": 0.25},
            None,
            "z-box on the first convolution (pixel range from the spec), gamma on the others, "
            "epsilon on linear layers",
        ),
        Method("gradient", "gradient", {}, None, "gradient of the target logit"),
        Method(
            "gradient_x_input", "gradient_x_input", {}, None, "gradient times (normalised) input"
        ),
    )
}


def get_method(name: str) -> Method:
    """The method registered as `name`."""
    check_choice("get_method", "name", name, METHODS)
    return METHODS[name]


def resolve_parameters(method: Method, parameters: dict[str, Any] | None) -> dict[str, float]:
    """Defaults overridden by `parameters`; unknown names and bad values are errors."""
    resolved = dict(method.defaults)
    for key, value in (parameters or {}).items():
        check_choice(f"the {method.name!r} method", "parameters", key, method.defaults)
        resolved[key] = check_real(f"the {method.name!r} method", key, value, low=0.0, high=1e6)
    return resolved
