"""Input-gradient views of a frozen classifier: the same logits, with a cheaper ∂loss/∂x on a CPU.

Attacks and the ADT/ATENT samplers take thousands of input gradients through a frozen, eval-mode network (ADT_EXP
alone: T·k = 35 forward/backward passes per training batch, ADT Alg. 2). :func:`input_grad_view` returns a
``torch.fx`` rewrite of the classifier that shares its parameters and computes the same function. Its rewrites
target the ops that, once weight gradients are skipped, dominate a CPU pass of the small grayscale nets (TRADES
SmallCNN on 2 cores: bench entry ``adt_exp_inner_vs_official``, 1.58× → 1.77× the official-style loop with
channels_last):

1. ``relu → max_pool2d`` becomes ``max_pool2d → relu``. Exact, bitwise, values and input gradient: ReLU is
   monotone, so the window max of the ReLUs is the ReLU of the window max, and the backward routes the gradient
   to the same (first) argmax when that max is positive and gives 0 in both orders when it is not. The ReLU
   and its backward then run on the pooled tensor (4× smaller for 2×2 pooling).
2. ``Conv2d`` (ungrouped, undilated, zero-padded) runs through :class:`InputGradConv`, whose input gradient on a
   CPU is, for a one-channel input (a grayscale stem), one matmul g·W over the output channels and k_h·k_w strided
   shifted adds (oneDNN's backward-data kernel is slow for one output channel: 3.4 vs 0.9 ms at 128×32×26×26),
   and otherwise ``conv_transpose2d`` of g (oneDNN's forward deconvolution; 4.7 vs 5.5 ms for the 32→32 layer,
   channels_last). Equal to the standard gradient up to float summation order (bitwise in our checks for the
   transposed convolution).
3. A ReLU that is the only user of such a convolution's or of a max-pool's output runs in place (neither backward
   reads that output): one activation buffer fewer.

Everything else is left as it is. A model ``torch.fx`` cannot trace (data-dependent control flow) is returned
unchanged, as is one with nothing to rewrite. Views are cached per model (weakly); they read the model's current
parameters on every call, so training between calls never makes them stale; attribute-dependent Python branches
are fixed at trace time, so build views in eval mode and use them there. Use them through
``attacks.core.fast_input_grad`` (what ``--fast-grad`` turns on), not for training the weights.
"""

from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F
from torch import fx, nn

__all__ = ["input_grad_view", "InputGradConv", "rewrites"]

_RELU_FUNCS = (F.relu, torch.relu, torch.relu_, F.relu_)
_POOL_FUNCS = (F.max_pool2d,)
_cache: "weakref.WeakKeyDictionary[nn.Module, object]" = weakref.WeakKeyDictionary()
_UNCHANGED = object()


def _conv_input_grad(g: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, stride, padding) -> torch.Tensor:
    """∂/∂x of ⟨g, conv2d(x, weight)⟩ (rewrite 2 of the module docstring)."""
    (sh, sw), (ph, pw) = stride, padding
    n, cin, h, w = x.shape
    cout, _, kh, kw = weight.shape
    ho, wo = g.shape[-2:]
    wt = weight.to(g.dtype)
    if g.device.type != "cpu":
        return torch.ops.aten.convolution_backward(g, x.to(g.dtype), wt, None, [sh, sw], [ph, pw], [1, 1], False,
                                                   [0, 0], 1, [True, False, False])[0].to(x.dtype)
    if cin == 1:
        taps = (g.permute(0, 2, 3, 1).reshape(-1, cout) @ wt.reshape(cout, kh * kw)).view(n, ho, wo, kh, kw)
        full = g.new_zeros(n, max(h + 2 * ph, sh * (ho - 1) + kh), max(w + 2 * pw, sw * (wo - 1) + kw))
        for i in range(kh):
            for j in range(kw):
                full[:, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw] += taps[..., i, j]
        return full[:, ph:ph + h, pw:pw + w].unsqueeze(1).to(x.dtype)
    out_pad = (h - ((ho - 1) * sh - 2 * ph + kh), w - ((wo - 1) * sw - 2 * pw + kw))
    return F.conv_transpose2d(g, wt, None, (sh, sw), (ph, pw), out_pad).to(x.dtype)


class InputGradConv(torch.autograd.Function):
    """``F.conv2d(x, weight, bias, stride, padding)`` whose input gradient comes from :func:`_conv_input_grad`;
    weight and bias gradients, when asked for, from the standard kernel."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding):
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        ctx.stride, ctx.padding = stride, padding
        return F.conv2d(x, weight, bias, stride, padding)

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        need_w, need_b = bool(ctx.needs_input_grad[1]), bool(ctx.has_bias and ctx.needs_input_grad[2])
        gx = _conv_input_grad(g, x, weight, ctx.stride, ctx.padding) if ctx.needs_input_grad[0] else None
        gw = gb = None
        if need_w or need_b:
            _, gw, gb = torch.ops.aten.convolution_backward(
                g, x.to(g.dtype), weight.to(g.dtype), [weight.shape[0]] if ctx.has_bias else None,
                list(ctx.stride), list(ctx.padding), [1, 1], False, [0, 0], 1, [False, need_w, need_b])
        return gx, gw, gb, None, None


def _input_grad_conv(x, weight, bias, stride, padding):
    return InputGradConv.apply(x, weight, bias, stride, padding)


def _is_relu(node: fx.Node, modules: dict) -> bool:
    if node.op == "call_module":
        return isinstance(modules.get(node.target), nn.ReLU)
    if node.op == "call_function":
        return node.target in _RELU_FUNCS
    return node.op == "call_method" and node.target in ("relu", "relu_")


def _is_maxpool(node: fx.Node, modules: dict) -> bool:
    if node.op == "call_module":
        m = modules.get(node.target)
        return isinstance(m, nn.MaxPool2d) and not m.return_indices
    return node.op == "call_function" and node.target in _POOL_FUNCS and not node.kwargs.get("return_indices", False) \
        and not (len(node.args) > 6 and node.args[6])


def _swap_relu_pool(graph: fx.Graph, modules: dict) -> int:
    """``pool(relu(a))`` → ``relu(pool(a))`` wherever the ReLU's only user is the pool's input."""
    n = 0
    for relu in list(graph.nodes):
        if not _is_relu(relu, modules) or len(relu.users) != 1:
            continue
        pool = next(iter(relu.users))
        if not _is_maxpool(pool, modules) or not pool.args or pool.args[0] is not relu:
            continue
        a = relu.args[0]
        pool.replace_all_uses_with(relu)
        relu.update_arg(0, pool)
        pool.update_arg(0, a)
        pool.append(relu)          # move the ReLU right after the pool
        n += 1
    return n


def _convs(gm: fx.GraphModule, modules: dict) -> dict[str, int]:
    """Route every ungrouped, undilated, zero-padded ``nn.Conv2d`` through InputGradConv; counts by input channels."""
    counts = {"single_channel_conv": 0, "transposed_grad_conv": 0}
    graph = gm.graph
    for node in list(graph.nodes):
        if node.op != "call_module":
            continue
        m = modules.get(node.target)
        if not (type(m) is nn.Conv2d and m.groups == 1 and tuple(m.dilation) == (1, 1)
                and m.padding_mode == "zeros" and not isinstance(m.padding, str)):
            continue
        counts["single_channel_conv" if m.in_channels == 1 else "transposed_grad_conv"] += 1
        with graph.inserting_before(node):
            w = graph.get_attr(f"{node.target}.weight")
            b = graph.get_attr(f"{node.target}.bias") if m.bias is not None else None
            new = graph.call_function(_input_grad_conv, (node.args[0], w, b, tuple(m.stride), tuple(m.padding)))
        node.replace_all_uses_with(new)
        graph.erase_node(node)
    return counts


def _inplace_relus(graph: fx.Graph, modules: dict) -> int:
    """Rewrite 3 of the module docstring: ``relu`` → ``relu_`` on a sole-user InputGradConv or max-pool output."""
    n = 0
    for relu in list(graph.nodes):
        if not _is_relu(relu, modules) or not relu.args or not isinstance(relu.args[0], fx.Node):
            continue
        src = relu.args[0]
        if len(src.users) != 1 or not (src.target is _input_grad_conv or _is_maxpool(src, modules)):
            continue
        with graph.inserting_before(relu):
            new = graph.call_function(torch.relu_, (src,))
        relu.replace_all_uses_with(new)
        graph.erase_node(relu)
        n += 1
    return n


def rewrites(view: nn.Module) -> dict[str, int]:
    """How many of each rewrite :func:`input_grad_view` applied (empty for an unchanged model)."""
    return dict(getattr(view, "_advdist_rewrites", {}))


def input_grad_view(model: nn.Module) -> nn.Module:
    """The input-gradient view of ``model`` (module docstring): a cached ``fx.GraphModule`` sharing ``model``'s
    parameters, or ``model`` itself when it cannot be traced or has nothing to rewrite. Build it in eval mode."""
    if hasattr(model, "_orig_mod"):  # a torch.compile wrapper: its graph is the compiler's business
        return model
    hit = _cache.get(model)
    if hit is not None:
        return model if hit is _UNCHANGED else hit
    view = model
    try:
        gm = fx.symbolic_trace(model)
    except Exception:  # noqa: BLE001 - untraceable models keep their own forward
        gm = None
    if gm is not None:
        modules = dict(gm.named_modules())
        done = {"relu_pool_swap": _swap_relu_pool(gm.graph, modules), **_convs(gm, modules)}
        done["inplace_relu"] = _inplace_relus(gm.graph, modules)
        if any(done.values()):
            gm.graph.lint()
            gm.recompile()
            gm._advdist_rewrites = done
            view = gm
    _cache[model] = _UNCHANGED if view is model else view  # a value that held the key would keep it alive forever
    return view

