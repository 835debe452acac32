"""The two rewrites that make imported architectures exportable give the original results.

- :mod:`ganedit.archs.imported.dft`: LaMa's FFTs as matrix products, against ``torch.fft`` at
  odd and even sizes, and a whole LaMa ``FourierUnit`` against its own forward;
- :mod:`ganedit.archs.imported.pooling`: SAFMN's adaptive pooling as fixed windows, against the
  original ``SAFM.forward`` at the multiples ganedit pads to, and the fallback at other sizes;
  and the exported graph of a switched block runs at sizes other than the export size.
"""

from __future__ import annotations

import copy
import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("spandrel")

from ganedit.archs.imported.dft import irfft2, rfft2, use_matrix_dft  # noqa: E402
from ganedit.archs.imported.pooling import use_strided_pooling  # noqa: E402

SIZES = [(1, 1), (2, 3), (7, 8), (16, 9), (33, 64)]


@pytest.mark.parametrize(("height", "width"), SIZES, ids=[f"{h}x{w}" for h, w in SIZES])
class TestMatrixDft:
    def test_rfft2_is_torchs_orthonormal_rfftn(self, height: int, width: int) -> None:
        x = torch.randn(2, 3, height, width, generator=torch.Generator().manual_seed(height))
        expected = torch.fft.rfftn(x, dim=(-2, -1), norm="ortho")
        re, im = rfft2(x)
        torch.testing.assert_close(re, expected.real, rtol=0, atol=2e-5)
        torch.testing.assert_close(im, expected.imag, rtol=0, atol=2e-5)

    def test_irfft2_is_torchs_orthonormal_irfftn(self, height: int, width: int) -> None:
        # Any half spectrum, including imaginary parts in the DC and Nyquist columns that
        # irfftn ignores.
        gen = torch.Generator().manual_seed(width)
        spectrum = torch.complex(
            torch.randn(2, 3, height, width // 2 + 1, generator=gen),
            torch.randn(2, 3, height, width // 2 + 1, generator=gen),
        )
        expected = torch.fft.irfftn(spectrum, s=(height, width), dim=(-2, -1), norm="ortho")
        got = irfft2(spectrum.real, spectrum.imag, width)
        torch.testing.assert_close(got, expected, rtol=0, atol=2e-5)


def test_a_lama_fourier_unit_gives_its_fft_result() -> None:
    from spandrel.architectures.LaMa.__arch.LaMa import FourierUnit

    torch.manual_seed(0)
    original = FourierUnit(4, 4).eval()
    switched = copy.deepcopy(original)
    assert use_matrix_dft(switched) == 1
    x = torch.randn(2, 4, 13, 22)
    with torch.no_grad():
        torch.testing.assert_close(switched(x), original(x), rtol=0, atol=1e-5)


def test_a_fourier_unit_with_options_the_matrices_lack_is_refused() -> None:
    from spandrel.architectures.LaMa.__arch.LaMa import FourierUnit

    with pytest.raises(ValueError, match="a FourierUnit with \\['use_se'\\]"):
        use_matrix_dft(FourierUnit(4, 4, use_se=True))


def _safm(levels: int = 4) -> tuple[torch.nn.Module, torch.nn.Module]:
    from spandrel.architectures.SAFMN.__arch.safmn import SAFM

    torch.manual_seed(0)
    original = SAFM(8, n_levels=levels).eval()
    switched = copy.deepcopy(original)
    assert use_strided_pooling(switched) == 1
    return original, switched


@pytest.mark.parametrize(("height", "width"), [(8, 8), (16, 40), (72, 24)])
def test_strided_pooling_is_the_adaptive_pooling_at_multiples(height: int, width: int) -> None:
    original, switched = _safm()
    x = torch.randn(2, 8, height, width)
    with torch.no_grad():
        torch.testing.assert_close(switched(x), original(x), rtol=0, atol=0)


def test_strided_pooling_keeps_adaptive_pooling_at_other_sizes() -> None:
    original, switched = _safm()
    x = torch.randn(1, 8, 13, 21)  # not multiples of 8: the windows would differ
    with torch.no_grad():
        torch.testing.assert_close(switched(x), original(x), rtol=0, atol=0)


@pytest.mark.filterwarnings("ignore")
def test_a_switched_block_exports_and_runs_at_other_sizes() -> None:
    ort = pytest.importorskip("onnxruntime")
    original, switched = _safm()
    buffer = io.BytesIO()
    torch.onnx.export(
        switched,
        (torch.randn(1, 8, 16, 16),),
        buffer,
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "b", 2: "h", 3: "w"}, "y": {0: "b", 2: "h", 3: "w"}},
        opset_version=17,
        dynamo=False,
    )
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    x = torch.randn(2, 8, 24, 40)
    (got,) = session.run(None, {"x": x.numpy()})
    with torch.no_grad():
        expected = original(x).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
