"""ADT's amortised adversarial distributions: the generators of Table 7 and the variational network q of Table 8.

ADT (Dong et al., NeurIPS 2020), Sec. 3.2-3.3 and App. C.2:

- :class:`ExpAMGenerator` (ADT_EXP-AM, Sec. 3.2, Table 7 left): g_φ([x, g¹, g²]) = (μ, σ), the parameters
  of the explicit per-pixel tanh-Gaussian of Eq. (8), δ = ε·tanh(μ + σ·r), r ~ N(0, I). The network has
  2·C output channels: the first C are μ, the last C pass through softplus to give σ > 0 (the paper
  leaves the positivity map open; softplus is what the official code uses).
- :class:`ImpAMGenerator` (ADT_IMP-AM, Sec. 3.3, Table 7 right): δ = g_φ(z; x) = ε·tanh(net([x, g¹, g², e(z)])),
  z ~ U(−1, 1)^64 encoded by two fully connected layers (``z_width`` = 256, then H·W units, each with ReLU) and
  reshaped to a 1×H×W map that is concatenated to the input as one more channel. The z-encoder's width is its
  own (not the body's ``width``): a CPU-scale body of width 8 must not squeeze the 64-dim noise through 8 ReLUs,
  or δ carries at most an 8-dim view of z and q(z | δ) cannot learn more than that.
- :class:`VariationalQ` (Table 8): the diagonal-Gaussian variational posterior q_ψ(z | δ) whose
  log-density lower-bounds the entropy of the implicit distribution (Eq. A.2).

The image-to-image body (Table 7; App. C.2 "3 residual blocks, with two extra convolutions at the
beginning and the end; all convolutions have stride 1 and are followed by BN and ReLU, except the last"):

    conv3×3 (w) – BN – ReLU
    residual block (2w)    [conv3×3 – BN – ReLU – conv3×3 – BN] + shortcut (1×1 conv – BN when widths differ); ReLU
    residual block (2w)
    residual block (2w)    (``code_layout=True``: 2w → w, as the official release's ``resnet_3blocks``)
    conv3×3 (out)          no BN, no activation

with ``width`` w = 256 in the paper (blocks of 512 filters). ``width`` lets the CPU scales use a far smaller
generator (e.g. ``width=8`` on the 8×8 digits). Every convolution has stride 1 and padding 1, so any H×W
works. Initialisation (the paper does not give one; the official code's ``init_net``): conv and linear
weights ~ N(0, 0.02), biases 0, BatchNorm weights ~ N(1, 0.02), BN biases 0.

The generator inputs are [x, ∇ₓL(x), ∇ₓL(x_FGSM)] (App. C.2, following Chen et al.), i.e. 3·C channels;
building them is the training method's job (:func:`advdist.methods.adt_expam.generator_inputs`).

q (Table 8; LeakyReLU(0.01) instead of ReLU): conv5×5 s1 (w_q) – conv4×4 s2 (2w_q) – conv4×4 s1 (4w_q) –
conv4×4 s2 (8w_q), each unpadded, bias-free and followed by BN + LeakyReLU; global average pooling; a 1×1
layer (here ``nn.Linear``) to 2·d_z outputs = (mean, pre-scale) of q(z | δ). w_q = 32 in the paper. On inputs
too small for the unpadded chain (8×8 digits) a layer gets the least zero padding that keeps its output at
least 1×1; 28×28 and 32×32 inputs use no padding, as in the paper. Init (official code): conv weights
N(0, √(2/(k·k·out))), BN 1/0, linear bias 0.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .base import init_resnet_style

__all__ = ["ResidualBlock", "ResnetGeneratorBody", "ExpAMGenerator", "ImpAMGenerator", "VariationalQ",
           "init_generator", "Q_PARAMS", "Q_REDUCTIONS", "CONSTANT_Q_NLL"]


def _hw(image_size) -> tuple[int, int]:
    if isinstance(image_size, int):
        return int(image_size), int(image_size)
    h, w = image_size
    return int(h), int(w)


def _check_width(name: str, v: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return v


def init_generator(module: nn.Module) -> None:
    """The official ADT code's ``init_net`` ('normal', gain 0.02), used for the generators of Table 7:
    conv/linear weights ~ N(0, 0.02), biases 0; BatchNorm weights ~ N(1, 0.02), BN biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _conv3x3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=1, padding=1, bias=False)


class ResidualBlock(nn.Module):
    """He et al. (2016) basic block used by the ADT generator (ADT App. C.2, Table 7 "Residual block"):
    ReLU([conv3×3 – BN – ReLU – conv3×3 – BN](h) + shortcut(h)); the shortcut is the identity when the
    widths agree, else conv1×1 – BN. Stride 1, spatial size kept."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.body = nn.Sequential(_conv3x3(cin, cout), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                                  _conv3x3(cout, cout), nn.BatchNorm2d(cout))
        self.shortcut = (nn.Identity() if cin == cout else
                         nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout)))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(h) + self.shortcut(h))


class ResnetGeneratorBody(nn.Module):
    """The image-to-image network of ADT Table 7 (App. C.2): conv3×3(w)–BN–ReLU, three residual blocks of
    2w filters, conv3×3(out) without BN or activation; full resolution (stride 1 throughout).

    ``code_layout=True`` makes the third block map 2w → w (the official ``resnet_3blocks`` generator,
    ≈ 10.3 M parameters for EXP-AM at w = 256) instead of the paper's 2w → 2w."""

    def __init__(self, in_channels: int, out_channels: int, *, width: int = 256, code_layout: bool = False):
        super().__init__()
        w = _check_width("width", width)
        last = w if code_layout else 2 * w
        self.stem = nn.Sequential(_conv3x3(in_channels, w), nn.BatchNorm2d(w), nn.ReLU(inplace=True))
        self.blocks = nn.Sequential(ResidualBlock(w, 2 * w), ResidualBlock(2 * w, 2 * w), ResidualBlock(2 * w, last))
        self.head = _conv3x3(last, out_channels)
        init_generator(self)

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # (B, in, H, W) -> (B, out, H, W)
        return self.head(self.blocks(self.stem(h)))


class ExpAMGenerator(nn.Module):
    """ADT_EXP-AM's conditional generator g_φ (ADT Sec. 3.2, Alg. 3, Table 7 left).

    ``forward(inp)`` with ``inp = [x, ∇ₓL(x), ∇ₓL(x_FGSM)]`` of shape (B, 3C, H, W) returns ``(mu, sigma)``,
    each (B, C, H, W): the mean and standard deviation of u ~ N(μ, diag σ²), δ = ε·tanh(u) (Eq. 8).
    σ = softplus(raw) > 0. :meth:`sample` draws the reparameterised δ = ε·tanh(μ + σ·r) (Sec. 3.1).
    """

    def __init__(self, channels: int, *, width: int = 256, code_layout: bool = False):
        super().__init__()
        self.channels = _check_width("channels", channels)
        self.net = ResnetGeneratorBody(3 * channels, 2 * channels, width=width, code_layout=code_layout)

    def forward(self, inp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if inp.dim() != 4 or inp.shape[1] != 3 * self.channels:
            raise ValueError(f"ExpAMGenerator expects (B, {3 * self.channels}, H, W) inputs [x, g1, g2], "
                             f"got {tuple(inp.shape)}")
        phi = self.net(inp)
        c = self.channels
        return phi[:, :c], F.softplus(phi[:, c:])

    @staticmethod
    def sample(mu: torch.Tensor, sigma: torch.Tensor, eps: float,
               r: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """δ = ε·tanh(μ + σ·r) with r ~ N(0, I) from the global RNG unless given (ADT Eq. 8, Sec. 3.1).
        Returns ``(delta, u, r)``; |δ| < ε element-wise."""
        if r is None:
            r = torch.randn_like(mu)
        u = mu + sigma * r
        return eps * torch.tanh(u), u, r


class ImpAMGenerator(nn.Module):
    """ADT_IMP-AM's implicit generator δ = g_φ(z; x) (ADT Sec. 3.3, Alg. 4, Table 7 right, App. C.2).

    z (B, d_z) — drawn from U(−1, 1) by :meth:`sample_z` — goes through FC(``z_width``) – ReLU – FC(H·W) – ReLU
    (the paper's 256- and 1024-dim FC layers at 32×32: ``z_width`` = 256, Table 7), is reshaped to (B, 1, H, W)
    and concatenated
    to ``inp = [x, ∇ₓL(x), ∇ₓL(x_FGSM)]`` (B, 3C, H, W); the body of Table 7 maps the 3C + 1 channels to C
    and ``forward`` returns δ = ε·tanh(·), strictly inside the ε-ball (``eps=1`` gives the unit-scale
    perturbation that q reads).
    """

    def __init__(self, channels: int, image_size, *, width: int = 256, z_dim: int = 64, z_width: int = 256,
                 code_layout: bool = False):
        super().__init__()
        self.channels = _check_width("channels", channels)
        self.z_dim = _check_width("z_dim", z_dim)
        self.image_size = _hw(image_size)
        h, w = self.image_size
        if min(h, w) < 1:
            raise ValueError(f"image_size must be positive, got {image_size!r}")
        width = _check_width("width", width)
        z_width = _check_width("z_width", z_width)
        self.z_encoder = nn.Sequential(nn.Linear(z_dim, z_width), nn.ReLU(inplace=True),
                                       nn.Linear(z_width, h * w), nn.ReLU(inplace=True))
        init_generator(self.z_encoder)
        self.net = ResnetGeneratorBody(3 * channels + 1, channels, width=width, code_layout=code_layout)

    def sample_z(self, batch: int, *, device=None, dtype=None) -> torch.Tensor:
        """z ~ U(−1, 1)^{d_z}, one per example, from the global RNG (ADT Sec. 3.3, Alg. 4 line 4)."""
        return torch.rand(batch, self.z_dim, device=device, dtype=dtype) * 2 - 1

    def forward(self, inp: torch.Tensor, z: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
        b, _, h, w = inp.shape
        if inp.shape[1] != 3 * self.channels or (h, w) != self.image_size:
            raise ValueError(f"ImpAMGenerator expects (B, {3 * self.channels}, {self.image_size[0]}, "
                             f"{self.image_size[1]}) inputs [x, g1, g2], got {tuple(inp.shape)}")
        if z.shape != (b, self.z_dim):
            raise ValueError(f"z must have shape ({b}, {self.z_dim}), got {tuple(z.shape)}")
        zmap = self.z_encoder(z.to(inp.dtype)).view(b, 1, h, w)
        return eps * torch.tanh(self.net(torch.cat([inp, zmap], dim=1)))


#: −log q per z-dimension of the best input-independent Gaussian predictor of z ~ U(−1, 1): N(0, 1/3), i.e.
#: ½·log(2π/3) + ½ ≈ 0.8698 nats. A q(z | δ) below it has learned something about z from δ.
CONSTANT_Q_NLL = 0.5 * math.log(2 * math.pi / 3) + 0.5

#: how q's second output head becomes a scale: the paper's standard deviation, or the code's variance
Q_PARAMS = ("std", "var")
#: reduction of log q over the d_z dimensions: the paper's full log-density (sum) or the code's mean
Q_REDUCTIONS = ("sum", "mean")


class VariationalQ(nn.Module):
    """The variational distribution q_ψ(z | δ) of ADT_IMP-AM (ADT App. A.3, Eq. A.2-A.3, Table 8).

    ``forward(pert)`` on the unit-scale perturbation δ/ε (B, C, H, W) returns ``(mean, raw)`` of shape
    (B, d_z) each; :meth:`log_prob` turns them into log q(z | δ) of a diagonal Gaussian. The paper says q's
    network gives "mean and standard deviation" (``param="std"``: σ = softplus(raw)); the official code
    reads softplus(raw) as the *variance* (``param="var"``). With BatchNorm after the first (bias-free)
    convolution, feeding δ/ε or δ gives the same q; the code feeds δ/ε.
    """

    def __init__(self, channels: int, *, z_dim: int = 64, width: int = 32):
        super().__init__()
        self.channels = _check_width("channels", channels)
        self.z_dim = _check_width("z_dim", z_dim)
        w = _check_width("width", width)
        specs = [(channels, w, 5, 1), (w, 2 * w, 4, 2), (2 * w, 4 * w, 4, 1), (4 * w, 8 * w, 4, 2)]
        self.convs = nn.ModuleList(nn.Conv2d(cin, cout, k, stride=s, bias=False) for cin, cout, k, s in specs)
        self.bns = nn.ModuleList(nn.BatchNorm2d(cout) for _, cout, _, _ in specs)
        self.out = nn.Linear(8 * w, 2 * z_dim)
        init_resnet_style(self)

    @staticmethod
    def _padding(size: int, k: int, s: int) -> int:
        """0 (the paper's unpadded layer) unless the output would vanish; then the least padding giving ≥ 1."""
        p = 0
        while (size + 2 * p - k) // s + 1 < 1:
            p += 1
        return p

    def paddings(self, image_size) -> list[tuple[int, int]]:
        """Zero padding (ph, pw) each conv layer uses on an input of ``image_size`` (H, W)."""
        h, w = _hw(image_size)
        out = []
        for conv in self.convs:
            k, s = conv.kernel_size[0], conv.stride[0]
            ph, pw = self._padding(h, k, s), self._padding(w, k, s)
            out.append((ph, pw))
            h, w = (h + 2 * ph - k) // s + 1, (w + 2 * pw - k) // s + 1
        return out

    def forward(self, pert: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if pert.dim() != 4 or pert.shape[1] != self.channels:
            raise ValueError(f"VariationalQ expects (B, {self.channels}, H, W) perturbations, got {tuple(pert.shape)}")
        h = pert
        for conv, bn, pad in zip(self.convs, self.bns, self.paddings(pert.shape[-2:])):
            h = F.leaky_relu(bn(F.conv2d(h, conv.weight, None, conv.stride, pad)), 0.01)
        o = self.out(h.mean(dim=(2, 3)))
        return o[:, :self.z_dim], o[:, self.z_dim:]

    def log_prob(self, z: torch.Tensor, pert: torch.Tensor, *, param: str = "std",
                 reduction: str = "sum") -> torch.Tensor:
        """Per-example log q(z | δ) (B,), the Monte-Carlo integrand of the entropy lower bound U(q) (Eq. A.2).

        ``param="std"``/``reduction="sum"`` (paper): log N(z; m, diag σ²) = Σ_j −(z_j − m_j)²/(2σ_j²) − log σ_j
        − ½ log 2π with σ = softplus(raw). ``param="var"`` (code): softplus(raw) is the variance v and
        ``−log q_j = (z_j − m_j)²/(2v_j + 1e-8) + ½ log(v_j + 1e-8) + log √(2π)``; ``reduction="mean"`` (code)
        averages over the d_z dimensions instead of summing.
        """
        if param not in Q_PARAMS:
            raise ValueError(f"unknown q param {param!r}; valid: {', '.join(Q_PARAMS)}")
        if reduction not in Q_REDUCTIONS:
            raise ValueError(f"unknown q reduction {reduction!r}; valid: {', '.join(Q_REDUCTIONS)}")
        mean, raw = self(pert)
        s = F.softplus(raw)
        half_log_2pi = 0.5 * math.log(2 * math.pi)
        if param == "std":
            std = s + 1e-8
            nll = (z - mean) ** 2 / (2 * std ** 2) + std.log() + half_log_2pi
        else:
            nll = (z - mean) ** 2 / (2 * s + 1e-8) + 0.5 * (s + 1e-8).log() + half_log_2pi
        return -(nll.sum(1) if reduction == "sum" else nll.mean(1))

