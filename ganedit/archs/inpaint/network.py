"""A DeepFill-v2-style inpainting generator (gated convolutions, coarse-to-fine) and its
SN-PatchGAN discriminator.

Why this network:

- **Gated convolutions** learn a soft, per-channel, per-pixel validity mask at every layer
  (``ELU(features) · sigmoid(gate)``) instead of treating hole and known pixels alike (vanilla
  convolution) or following a hand-written mask update rule (partial convolution). This is what
  makes DeepFill v2 work on free-form masks, and it costs one convolution with twice the filters.
- **No contextual attention.** DeepFill v2's attention branch copies patches from the known
  region with an image-sized matching step whose reshapes depend on the input size; it exports
  poorly to ONNX with dynamic height and width and is the slowest part on a CPU. Its place is
  taken by the dilated gated convolutions (dilation 2, 4, 8, 16 at 1/4 scale, a receptive field
  of over 250 px), which every layer exports as plain ``Conv``.
- **Nearest ×2 upsampling + gated convolution** in the decoder (no transposed convolutions):
  no checkerboard artefacts, and ``Resize`` with a scale factor keeps the ONNX graph size-free.

Why **SN-PatchGAN with the hinge loss** rather than LaMa's PatchGAN with an R1 penalty: R1 needs
the gradient of the discriminator with respect to its input, so every D step does a double
backward — about twice the discriminator's cost, which dominates small CPU runs. Spectral
normalisation bounds the discriminator's Lipschitz constant by construction, so the hinge loss
trains stably without a gradient penalty; it is DeepFill v2's own recipe for free-form masks.
Every element of the last feature map is a patch score; the hinge loss is averaged over all of
them.

State dict layout (``ngf`` = ``n``, ``C`` image channels): two stages ``coarse`` and ``refine``,
each with ``encoder.0…5``, ``dilated.0…3``, ``decoder.0…5`` gated convolutions (``…conv.weight``
of shape ``(2·out, in, k, k)``; the upsampling ones at ``decoder.2.conv.conv`` and
``decoder.4.conv.conv``) and a plain ``to_image`` convolution. ``coarse.encoder.0.conv.weight``
is ``(2n, C + 1, 5, 5)``, which gives ``ngf`` and ``in_channels`` back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .spec import INPAINT_MIN_SIZE, INPAINT_SIZE_MULTIPLE, InpaintSpec

__all__ = [
    "FEATURE_GAIN",
    "MIN_SIZE",
    "SIZE_MULTIPLE",
    "GatedConv2d",
    "InpaintGenerator",
    "SNPatchDiscriminator",
]

SIZE_MULTIPLE = INPAINT_SIZE_MULTIPLE
MIN_SIZE = INPAINT_MIN_SIZE
_DILATIONS = (2, 4, 8, 16)


#: Extra scale of the feature half of a gated convolution's initial weights (see
#: :meth:`GatedConv2d.reset_parameters`).
FEATURE_GAIN = 1.6


class GatedConv2d(nn.Module):
    """A gated convolution: ``act(features) · sigmoid(gate)`` from one convolution.

    One ``Conv2d`` with ``2 · out_ch`` filters gives the features (first half) and the gate
    (second half); padding keeps the size (``dilation · (k - 1) / 2``, zeros).

    Args:
        in_ch: Input channels.
        out_ch: Output channels.
        kernel_size: Square kernel size (odd).
        stride: 1, or 2 to halve the size.
        dilation: Dilation of the kernel.
        activation: Apply ELU to the features (DeepFill v2's choice); ``False`` gates the raw
            features.

    Input ``(B, in_ch, H, W)``; output ``(B, out_ch, ceil(H / stride), ceil(W / stride))``.

    Example:
        >>> GatedConv2d(4, 8, 3, stride=2)(torch.zeros(1, 4, 16, 12)).shape
        torch.Size([1, 8, 8, 6])
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = 1,
        activation: bool = True,
    ) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd to keep the size, got {kernel_size}")
        self.out_ch = out_ch
        self.conv = nn.Conv2d(
            in_ch,
            2 * out_ch,
            kernel_size,
            stride=stride,
            padding=dilation * (kernel_size - 1) // 2,
            dilation=dilation,
        )
        self.activation: nn.Module = nn.ELU() if activation else nn.Identity()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He-normal weights with the feature half scaled by :data:`FEATURE_GAIN`, zero biases.

        PyTorch's default initialisation shrinks the signal about tenfold in the first five
        gated layers (the gate halves it, ELU passes less than a ReLU), so an untrained stage
        outputs a constant and learns slowly. With this scale the activations of a stage's 16
        gated layers stay within a factor of about 2 of each other at initialisation
        (measured on photographs).
        """
        nn.init.kaiming_normal_(self.conv.weight, nonlinearity="relu")
        with torch.no_grad():
            self.conv.weight[: self.out_ch] *= FEATURE_GAIN
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, gate = torch.split(self.conv(x), self.out_ch, dim=1)
        return self.activation(features) * torch.sigmoid(gate)


class _GatedUpConv(nn.Module):
    """Nearest-neighbour ×2 upsampling, then a 3×3 gated convolution."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = GatedConv2d(in_ch, out_ch, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A scale factor, not a size, so that the exported Resize stays size-independent.
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class _Stage(nn.Module):
    """One encoder / dilated body / decoder pass at full, 1/2 and 1/4 scale (DeepFill v2)."""

    def __init__(self, in_ch: int, out_ch: int, ngf: int) -> None:
        super().__init__()
        n1, n2, n4 = ngf, 2 * ngf, 4 * ngf
        self.encoder = nn.Sequential(
            GatedConv2d(in_ch, n1, 5),
            GatedConv2d(n1, n2, 3, stride=2),
            GatedConv2d(n2, n2, 3),
            GatedConv2d(n2, n4, 3, stride=2),
            GatedConv2d(n4, n4, 3),
            GatedConv2d(n4, n4, 3),
        )
        self.dilated = nn.Sequential(*(GatedConv2d(n4, n4, 3, dilation=d) for d in _DILATIONS))
        self.decoder = nn.Sequential(
            GatedConv2d(n4, n4, 3),
            GatedConv2d(n4, n4, 3),
            _GatedUpConv(n4, n2),
            GatedConv2d(n2, n2, 3),
            _GatedUpConv(n2, n1),
            GatedConv2d(n1, ngf // 2, 3),
        )
        self.to_image = nn.Conv2d(ngf // 2, out_ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.to_image(self.decoder(self.dilated(self.encoder(x)))))


class InpaintGenerator(nn.Module):
    """A two-stage (coarse, then refine) gated-convolution inpainting generator.

    The coarse stage fills the holes from the masked image; its result, pasted into the holes,
    is what the refine stage sees. Both stages take the mask as an extra channel.

    Args:
        ngf: Filters of the first layer of each stage (even; DeepFill v2 uses 48).
        in_channels: Image channels, without the mask (3 for RGB).

    Input: ``(B, in_channels + 1, H, W)``: the image in ``[-1, 1]`` (hole pixels are zeroed
    here too, so their values do not matter), then the mask (1 = hole, 0 = known; soft values
    blend). ``H`` and ``W`` must be multiples of :data:`SIZE_MULTIPLE` (4) and at least
    :data:`MIN_SIZE` (16).

    Output of ``forward``: ``(B, in_channels, H, W)`` in ``[-1, 1]``: the refined result pasted
    into the holes; known pixels are the input's.

    Example:
        >>> net = InpaintGenerator(ngf=4)
        >>> image, mask = torch.zeros(1, 3, 32, 48), torch.zeros(1, 1, 32, 48)
        >>> net(torch.cat([image, mask], dim=1)).shape
        torch.Size([1, 3, 32, 48])
    """

    def __init__(self, ngf: int = 32, in_channels: int = 3) -> None:
        super().__init__()
        self.spec = InpaintSpec(ngf=ngf, in_channels=in_channels)
        self.in_channels = in_channels
        self.coarse = _Stage(in_channels + 1, in_channels, ngf)
        self.refine = _Stage(in_channels + 1, in_channels, ngf)

    @classmethod
    def from_spec(cls, spec: InpaintSpec) -> InpaintGenerator:
        """A freshly initialised generator for ``spec``."""
        return cls(ngf=spec.ngf, in_channels=spec.in_channels)

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != self.in_channels + 1:
            raise ValueError(
                f"expected input (B, {self.in_channels + 1}, H, W): {self.in_channels} image "
                f"channels and the mask, got {tuple(x.shape)}"
            )
        mask = x[:, self.in_channels :]
        return x[:, : self.in_channels] * (1 - mask), mask

    def forward_stages(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The raw outputs of both stages, for training.

        Args:
            x: ``(B, in_channels + 1, H, W)``, as for :meth:`forward`.

        Returns:
            ``(coarse, refined)``, each ``(B, in_channels, H, W)`` in ``[-1, 1]``, over the whole
            image (known pixels included, not pasted).

        Raises:
            ValueError: ``x`` does not have ``in_channels + 1`` channels.
        """
        image, mask = self._split(x)
        coarse = self.coarse(torch.cat([image, mask], dim=1))
        pasted = image + coarse * mask
        refined = self.refine(torch.cat([pasted, mask], dim=1))
        return coarse, refined

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        image, mask = self._split(x)
        _, refined = self.forward_stages(x)
        return image + refined * mask


class SNPatchDiscriminator(nn.Module):
    """SN-PatchGAN: ``n_layers`` spectral-normalised 5×5 stride-2 convolutions.

    Filters go ``ndf, 2·ndf, 4·ndf, 4·ndf, …`` (DeepFill v2: 64, 128, 256, 256, 256, 256), each
    followed by LeakyReLU(0.2) except the last, whose outputs are the raw patch scores for the
    hinge loss (DeepFill v2 also activates the last layer; raw scores leave the hinge its full
    negative range).

    Args:
        ndf: Filters of the first convolution.
        in_channels: Channels of the input: the image and the mask (4 for RGB).
        n_layers: Strided convolutions (6 in DeepFill v2).

    Input: ``(B, in_channels, H, W)``. Output: ``(B, C, h, w)`` scores with
    ``C = min(2**(n_layers - 1), 4) · ndf`` and ``h = ceil(H / 2**n_layers)``.

    Example:
        >>> SNPatchDiscriminator(ndf=4)(torch.zeros(2, 4, 64, 32)).shape
        torch.Size([2, 16, 1, 1])
    """

    def __init__(self, ndf: int = 64, in_channels: int = 4, n_layers: int = 6) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        layers: list[nn.Module] = []
        channels = in_channels
        for n in range(n_layers):
            out = ndf * min(2**n, 4)
            conv = nn.Conv2d(channels, out, 5, stride=2, padding=2)
            layers.append(nn.utils.parametrizations.spectral_norm(conv))
            if n < n_layers - 1:
                layers.append(nn.LeakyReLU(0.2, inplace=True))
            channels = out
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
