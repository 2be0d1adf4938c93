"""Relevance through zennit (the reference, and the path for every non-sequential model),
plus the plain-autograd gradient baselines."""

from __future__ import annotations

import torch
from torch import nn
from zennit.attribution import Gradient
from zennit.composites import COMPOSITES


def one_hot(targets: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """zennit's initial relevance: 1 at the target logit, 0 elsewhere."""
    out = torch.zeros_like(logits)
    out[torch.arange(len(logits), device=logits.device), targets.to(logits.device)] = 1
    return out


def zennit_lrp(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor | None,
    composite_name: str,
    params: dict[str, float],
    canonizers: list,
    box: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits, targets used and per-channel relevance from zennit's composite.

    `box` (low, high) are the input bounds that ``epsilon_gamma_box`` needs.
    """
    kwargs = dict(params)
    if composite_name == "epsilon_gamma_box":
        if box is None:
            raise ValueError("epsilon_gamma_box needs the input bounds 'box' (low, high).")
        kwargs["low"], kwargs["high"] = box
    composite = COMPOSITES[composite_name](canonizers=canonizers, **kwargs)
    chosen: list[torch.Tensor] = []

    def initial_relevance(logits: torch.Tensor) -> torch.Tensor:
        picked = logits.argmax(1) if targets is None else targets.to(logits.device)
        chosen.append(picked)
        return one_hot(picked, logits)

    with torch.enable_grad(), Gradient(model, composite) as attributor:
        logits, relevance = attributor(inputs, initial_relevance)
    return logits.detach(), chosen[0], relevance.detach()


def gradient_relevance(
    model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None, *, times_input: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits, targets used, and the target logit's input gradient (times the input)."""
    with torch.enable_grad():
        leaf = inputs.detach().requires_grad_(True)
        logits = model(leaf)
        picked = logits.argmax(1) if targets is None else targets.to(logits.device)
        (grad,) = torch.autograd.grad(logits, leaf, grad_outputs=one_hot(picked, logits))
    relevance = grad * inputs if times_input else grad
    return logits.detach(), picked, relevance.detach()
