"""dlib's serialisation primitives and the reader's errors on files that do not fit."""

import math
import struct

import numpy as np
import pytest
import torch

from modelsvc.builtin import get_builtin
from modelsvc.dlib_format import DlibFormatError, DlibReader, _affine, read_network
from modelsvc.dlib_resnet import DlibResNet, dlib_layer_kinds, pad_to


def _int(value: int) -> bytes:
    """dlib's integer encoding, written independently of the reader."""
    magnitude = abs(value)
    body = magnitude.to_bytes(max(1, (magnitude.bit_length() + 7) // 8), "little")
    return bytes([len(body) | (0x80 if value < 0 else 0)]) + body


def _tensor(array: np.ndarray) -> bytes:
    shape = array.reshape((1,) * (4 - array.ndim) + array.shape).shape
    head = _int(2) + b"".join(_int(d) for d in shape)
    return head + struct.pack(f"<{array.size}f", *array.ravel())


def test_integers_floats_bools_strings_and_tensors_decode():
    data = _int(0) + _int(-300) + _int(2**40) + _int(12582912) + _int(-22)  # 0.75 * 2**24 * 2**-22
    data += b"1" + _int(5) + b"relu_" + _tensor(np.array([[1.5, -2.0]], dtype=np.float32))
    reader = DlibReader(data, "test")
    assert [reader.integer(), reader.integer(), reader.integer()] == [0, -300, 2**40]
    assert reader.real() == 3.0  # 12582912 * 2**-22
    assert reader.boolean() is True
    assert reader.string() == "relu_"
    np.testing.assert_array_equal(reader.tensor().ravel(), [1.5, -2.0])
    assert reader.pos == len(data)


def test_special_float_exponents():
    reader = DlibReader(_int(0) + _int(32000) + _int(0) + _int(32002), "test")
    assert reader.real() == math.inf
    assert math.isnan(reader.real())


def test_bad_bytes_name_the_offset():
    with pytest.raises(DlibFormatError, match="at byte 0: bad integer control byte"):
        DlibReader(b"\x30", "test").integer()
    with pytest.raises(DlibFormatError, match="bad bool byte"):
        DlibReader(b"x", "test").boolean()
    with pytest.raises(DlibFormatError, match="ends early"):
        DlibReader(_int(2) + _int(1) + _int(1) + _int(1) + _int(4) + b"\0" * 8, "test").tensor()


def test_a_file_that_is_not_a_dlib_network_is_refused(tmp_path):
    path = tmp_path / "model.dat"
    path.write_bytes(_int(1) + _int(11) + b"loss_mmod_x")
    with pytest.raises(DlibFormatError, match="expected loss_metric_ version"):
        read_network(path, dlib_layer_kinds())


def test_layer_kinds_match_the_torch_model():
    kinds = dlib_layer_kinds()
    model = DlibResNet()
    convs = sum(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    assert kinds.count("con") == convs == 29
    assert kinds.count("add_prev") == len(model.layers) == 14
    assert kinds.count("fc") == 1


def test_unequal_residual_sums_pad_with_zeros_at_the_end():
    small = torch.ones(1, 2, 3, 3)
    padded = pad_to(small, torch.Size((1, 4, 4, 4)))
    assert padded.shape == (1, 4, 4, 4)
    assert padded.sum() == small.sum()
    assert padded[0, :2, :3, :3].eq(1).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda data: data[: len(data) // 2], "ends early"),
        (lambda data: data + b"\0", "bytes left"),
    ],
)
def test_a_truncated_or_extended_model_file_is_refused(tmp_path, change, message):
    try:
        original = get_builtin("dlib_resnet29").weights_path()
    except ValueError as exc:
        pytest.skip(str(exc))
    path = tmp_path / "model.dat"
    path.write_bytes(change(original.read_bytes()))
    with pytest.raises(DlibFormatError, match=message):
        read_network(path, dlib_layer_kinds())


def _real(value: float) -> bytes:
    """dlib's portable float: integer mantissa, then exponent (value = m * 2**e)."""
    mantissa, exponent = math.frexp(value)
    return _int(int(mantissa * 2**53)) + _int(exponent - 53)


def _alias(*dims: int) -> bytes:
    return _int(1) + b"".join(_int(d) for d in dims)


def test_a_saved_batch_norm_is_folded_into_an_affine_layer_as_dlib_does():
    gamma, beta = np.array([2.0, 0.5], np.float32), np.array([1.0, -1.0], np.float32)
    mean, var = np.array([0.25, 3.0], np.float32), np.array([4.0, 0.0625], np.float32)
    data = _int(7) + b"bn_con2" + _tensor(np.concatenate([gamma, beta]))
    data += _alias(1, 2, 1, 1) + _alias(1, 2, 1, 1)
    data += _tensor(np.zeros(2, np.float32)) + _tensor(np.ones(2, np.float32))  # batch stats
    data += _tensor(mean) + _tensor(var) + _int(100) + _int(1000)
    data += b"".join(_real(v) for v in (1.0, 1.0, 1.0, 0.0)) + _real(1e-5)
    reader = DlibReader(data, "test")
    layer = _affine(reader)
    assert reader.pos == len(data)
    scale = gamma / np.sqrt(var + np.float32(1e-5))
    np.testing.assert_array_equal(layer.arrays["gamma"], scale)
    np.testing.assert_array_equal(layer.arrays["beta"], beta - scale * mean)
    assert layer.arrays["gamma"].dtype == np.float32
