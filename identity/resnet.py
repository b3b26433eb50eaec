"""dlib's ResNet face encoder as a numpy forward pass (float32, im2col + matmul).

The installed dlib wheel is built without BLAS, so its `compute_face_descriptor` spends
~95 ms on one 150x150 chip and holds the GIL all along. This module reads the very same
weights (face_recognition_models' dlib_face_recognition_resnet_model_v1.dat, in dlib's own
serialization) and runs the network of dlib's dnn_face_recognition_ex.cpp (`anet_type`) with
numpy, whose matmul is OpenBLAS and releases the GIL.

The file is parsed the way dlib deserializes that network type: the loss layer, then every
layer's header from the output down to the input, the input layer, then each layer's details
from the input up (tag and skip layers carry only a version). Every version string, layer
geometry and tensor shape is checked against the expected network; anything else is a
`ModelFileError`.

dlib's details kept here: input (pixel - avg) / 256 per channel; convolutions and poolings use
the paddings stored in the file (none when stride != 1); `add_prev` of tensors with different
channel counts or sizes adds the overlapping part into a zero tensor of the larger size (so
the 3x3 and 4x4 maps of the 256-wide levels give 4x4, and later 2x2); affine = frozen batch
norm, folded into the convolution before it.

Measured here (2-core VM shared with other work, numpy 2.4 / OpenBLAS 0.3.31, dlib 20.0.1
without BLAS; `python -m tests.bench.encoder_costs`, medians):
- agreement with dlib on 14 real face chips (testdata + installed photos): largest component
  difference 3.4e-7, largest difference of the 91 pairwise distances 5.1e-7.
- one chip a call: dlib 90-115 ms, numpy 13-15 ms (6-8x); batches of 8: 10-12.6 ms a chip.
- OpenBLAS's default 2 threads gain nothing on one chip and collapse when the cores are busy
  (91 ms a chip with the machine loaded, 14 ms pinned to 1 thread): `ResNetEncoder` pins
  the process's OpenBLAS to 1 thread unless told otherwise.
- the GIL: numpy drops it inside each matmul and copy. A thread that sleeps 1 ms and works
  0.2 ms (an event loop's pattern) wakes 0.07 ms late at the median beside it (0.07 alone;
  worst 3-19 ms, machine noise included, vs 4 ms alone), and the encoder still takes 14-18 ms
  a chip. Beside dlib's encoder it wakes 93 ms late at the median. Against a thread that
  runs Python flat out, that thread keeps 53-70% of its pace (dlib: 7-12%) and the encoder
  slows to 52-72 ms a chip (each GIL hand-back waits up to the 5 ms switch interval).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import as_strided

from identity.dlib_format import ModelFileError, Reader

Chip = npt.NDArray[np.uint8]  # 150x150x3 RGB, aligned as dlib.get_face_chip does
Encoding = npt.NDArray[np.float64]
Array = npt.NDArray[np.float32]

CHIP_SIZE = 150
BATCH = 8  # chips per forward pass: bounds the im2col buffers (~6 MB a chip)


def model_path() -> Path:
    """face_recognition_models' encoder file (installed with the package; no download)."""
    with warnings.catch_warnings():
        # face_recognition_models finds its files through pkg_resources (setuptools<82).
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        import face_recognition_models as files  # type: ignore[import-untyped]

    return Path(files.face_recognition_model_location())


# -- the network ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Layer:
    """One entry of anet_type, outermost first; weights are filled in by the parser."""

    kind: str  # fc, avg_pool, max_pool, relu, affine, con, add_prev, tag, skip
    filters: int = 0  # con: output channels; fc: outputs
    size: int = 0  # con / pool window (0: the whole input)
    stride: int = 1
    tag: int = 0  # tag / skip / add_prev: which tag
    padding: int = 0
    weights: Array | None = None
    bias: Array | None = None


def _block(n: int, stride: int) -> list[_Layer]:
    return [
        _Layer("affine"),
        _Layer("con", n, 3, 1),
        _Layer("relu"),
        _Layer("affine"),
        _Layer("con", n, 3, stride),
    ]


def _ares(n: int) -> list[_Layer]:
    return [_Layer("relu"), _Layer("add_prev", tag=1), *_block(n, 1), _Layer("tag", tag=1)]


def _ares_down(n: int) -> list[_Layer]:
    return [
        _Layer("relu"),
        _Layer("add_prev", tag=2),
        _Layer("avg_pool", size=2, stride=2),
        _Layer("skip", tag=1),
        _Layer("tag", tag=2),
        *_block(n, 2),
        _Layer("tag", tag=1),
    ]


def _anet_type() -> list[_Layer]:
    """dnn_face_recognition_ex.cpp's anet_type, outermost layer first (loss excluded)."""
    return [
        _Layer("fc", 128),
        _Layer("avg_pool", size=0, stride=1),
        *_ares_down(256),
        *_ares(256),
        *_ares(256),
        *_ares_down(256),
        *_ares(128),
        *_ares(128),
        *_ares_down(128),
        *_ares(64),
        *_ares(64),
        *_ares(64),
        *_ares_down(64),
        *_ares(32),
        *_ares(32),
        *_ares(32),
        _Layer("max_pool", size=3, stride=2),
        _Layer("relu"),
        _Layer("affine"),
        _Layer("con", 32, 7, 2),
    ]


def _read_details(reader: Reader, layer: _Layer, channels: int) -> int:
    """One layer's details (dlib's `serialize(layer_details)`); the channels it outputs."""
    kind = layer.kind
    if kind == "relu":
        reader.expect_string("relu_")
    elif kind == "add_prev":
        reader.expect_string("add_prev_")
    elif kind in ("max_pool", "avg_pool"):
        reader.expect_string(f"{kind}_2")
        nr, nc, stride_y, stride_x, pad_y, pad_x = (reader.integer() for _ in range(6))
        if (nr, nc, stride_y, stride_x) != (layer.size, layer.size, layer.stride, layer.stride):
            raise ModelFileError(f"{kind} {nr}x{nc}/{stride_y} where another was expected")
        if pad_y != pad_x:
            raise ModelFileError(f"{kind}: unequal paddings {pad_y}, {pad_x}")
        layer.padding = pad_y
    elif kind == "con":
        reader.expect_string("con_4")
        params = reader.tensor().ravel()
        filters, nr, nc, stride_y, stride_x, pad_y, pad_x = (reader.integer() for _ in range(7))
        expected = (layer.filters, layer.size, layer.size, layer.stride, layer.stride)
        if (filters, nr, nc, stride_y, stride_x) != expected or pad_y != pad_x:
            raise ModelFileError(f"con {filters} {nr}x{nc}/{stride_y} where {expected} was")
        shape = reader.alias()
        bias_shape = reader.alias()
        for _ in range(4):  # learning-rate and weight-decay multipliers
            reader.real()
        size = filters * channels * nr * nc
        if shape != (filters, channels, nr, nc) or bias_shape != (1, filters, 1, 1):
            raise ModelFileError(f"con filters {shape}, biases {bias_shape}: unexpected")
        if params.size != size + filters:
            raise ModelFileError(f"con params: {params.size} values for {size + filters}")
        layer.weights = params[:size].reshape(shape)
        layer.bias = params[size:]
        layer.padding = pad_y
        return filters
    elif kind == "affine":
        reader.expect_string("affine_")
        params = reader.tensor().ravel()
        gamma, beta = reader.alias(), reader.alias()
        reader.expect_int("affine mode (CONV_MODE)", 0)
        if gamma != beta or math.prod(gamma) != channels or params.size != 2 * channels:
            raise ModelFileError(f"affine: {gamma}, {beta}, {params.size} for {channels}")
        layer.weights, layer.bias = params[:channels], params[channels:]
    elif kind == "fc":
        reader.expect_string("fc_2")
        outputs, inputs = reader.integer(), reader.integer()
        params = reader.tensor().ravel()
        weights, biases = reader.alias(), reader.alias()
        reader.expect_int("fc bias mode (FC_NO_BIAS)", 1)
        for _ in range(4):
            reader.real()
        if (outputs, inputs) != (layer.filters, channels) or params.size != inputs * outputs:
            raise ModelFileError(f"fc {inputs}->{outputs}, {params.size} params: unexpected")
        if weights != (inputs, outputs, 1, 1):
            raise ModelFileError(f"fc weights {weights}, biases {biases}: unexpected")
        layer.weights = params.reshape(inputs, outputs)
        return outputs
    else:
        raise AssertionError(kind)
    return channels


def _read_network(data: bytes) -> tuple[Array, list[_Layer]]:
    """(per-channel input means, layers outermost first with their weights)."""
    reader = Reader(data)
    reader.expect_int("add_loss_layer version", 1)
    reader.expect_string("loss_metric_2")
    reader.real(), reader.real()  # margin, distance threshold: training only
    layers = _anet_type()
    versions = []
    for i, layer in enumerate(layers):  # headers, from the output down
        if layer.kind in ("tag", "skip"):
            reader.expect_int(f"{layer.kind} layer version", 1)
            versions.append(1)
        elif i == len(layers) - 1:  # add_layer over the input layer
            versions.append(reader.expect_int("input add_layer version", 2, 3))
        else:
            versions.append(reader.expect_int("add_layer version", 1, 2))
    reader.expect_string("input_rgb_image_sized")
    means = np.array([reader.real() for _ in range(3)], dtype=np.float32)
    if (reader.integer(), reader.integer()) != (CHIP_SIZE, CHIP_SIZE):
        raise ModelFileError(f"the input layer is not {CHIP_SIZE}x{CHIP_SIZE}")
    channels = 3
    on_tag: dict[int, int] = {}
    for i in range(len(layers) - 1, -1, -1):  # details, from the input up
        layer = layers[i]
        if layer.kind == "tag":
            on_tag[layer.tag] = channels
            continue
        if layer.kind == "skip":
            channels = on_tag[layer.tag]
            continue
        if layer.kind == "add_prev":
            channels = max(channels, on_tag[layer.tag])
        channels = _read_details(reader, layer, channels)
        for _ in range(3):  # setup called, gradient stale, output disabled
            reader.flag()
        reader.tensor(), reader.tensor()  # x_grad, cached_output: empty or scratch
        if versions[i] >= 2:
            reader.tensor()  # params_grad (grad_final for the input's add_layer)
        if i == len(layers) - 1 and versions[i] == 3:
            reader.integer()  # sample expansion factor
    if reader.pos != len(data):
        raise ModelFileError(f"{len(data) - reader.pos} bytes left after the network")
    return means, layers


# -- forward pass --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Op:
    kind: str  # conv (affine folded in), relu, max_pool, avg_pool, mean, add, tag, skip, fc
    weights: Array | None = None  # conv: (kh*kw*C, F); fc: (C, outputs)
    bias: Array | None = None
    size: int = 0
    stride: int = 1
    padding: int = 0
    tag: int = 0


def _compile(layers: list[_Layer]) -> list[_Op]:
    """The layers from the input up as ops, each affine folded into its convolution."""
    ops: list[_Op] = []
    order = layers[::-1]
    i = 0
    while i < len(order):
        layer = order[i]
        if layer.kind == "con":
            assert layer.weights is not None and layer.bias is not None
            weights = layer.weights.astype(np.float64)  # (F, C, kh, kw)
            bias = layer.bias.astype(np.float64)
            if i + 1 < len(order) and order[i + 1].kind == "affine":
                affine = order[i + 1]
                assert affine.weights is not None and affine.bias is not None
                weights = weights * affine.weights[:, None, None, None]
                bias = bias * affine.weights + affine.bias
                i += 1
            filters, channels, kh, kw = weights.shape
            # im2col patches are (row, column, channel) ordered: the matching weight matrix.
            matrix = weights.transpose(2, 3, 1, 0).reshape(kh * kw * channels, filters)
            ops.append(
                _Op(
                    "conv",
                    np.ascontiguousarray(matrix, dtype=np.float32),
                    bias.astype(np.float32),
                    kh,
                    layer.stride,
                    layer.padding,
                )
            )
        elif layer.kind == "affine":
            raise ModelFileError("an affine layer that does not follow a convolution")
        elif layer.kind in ("max_pool", "avg_pool"):
            kind = "mean" if layer.size == 0 else layer.kind
            ops.append(_Op(kind, size=layer.size, stride=layer.stride, padding=layer.padding))
        elif layer.kind == "fc":
            assert layer.weights is not None
            ops.append(_Op("fc", np.ascontiguousarray(layer.weights)))
        elif layer.kind == "add_prev":
            ops.append(_Op("add", tag=layer.tag))
        else:
            ops.append(_Op(layer.kind, tag=layer.tag))
        i += 1
    return ops


def _pad(x: Array, padding: int) -> Array:
    if padding == 0:
        return x
    wide = ((0, 0), (padding, padding), (padding, padding), (0, 0))
    return np.pad(x, wide)  # dlib's convolutions see zeros outside the image


def _windows(x: Array, size: int, stride: int) -> Array:
    """A (N, OH, OW, size, size, C) view of every window (dlib: 1 + (H - size) // stride)."""
    n, h, w, c = x.shape
    oh, ow = 1 + (h - size) // stride, 1 + (w - size) // stride
    sn, sh, sw, sc = x.strides
    view: Array = as_strided(
        x, (n, oh, ow, size, size, c), (sn, sh * stride, sw * stride, sh, sw, sc), writeable=False
    )
    return view


def _conv(x: Array, op: _Op) -> Array:
    assert op.weights is not None and op.bias is not None
    x = _pad(x, op.padding)
    patches = _windows(x, op.size, op.stride)
    n, oh, ow = patches.shape[:3]
    out = patches.reshape(n * oh * ow, -1) @ op.weights  # the reshape is the im2col copy
    out += op.bias
    return out.reshape(n, oh, ow, -1)


def _pool(x: Array, op: _Op) -> Array:
    # dlib pools over the in-image part of each window; with padding 0 that is all of it.
    if op.padding:
        raise ModelFileError("padded pooling is not implemented (this model has none)")
    h, w = x.shape[1:3]
    oh, ow = 1 + (h - op.size) // op.stride, 1 + (w - op.size) // op.stride
    span_h, span_w = op.stride * (oh - 1) + 1, op.stride * (ow - 1) + 1
    slices = [
        x[:, dy : dy + span_h : op.stride, dx : dx + span_w : op.stride]
        for dy in range(op.size)
        for dx in range(op.size)
    ]
    out = slices[0].copy()
    for more in slices[1:]:
        if op.kind == "max_pool":
            np.maximum(out, more, out=out)
        else:
            out += more
    if op.kind == "avg_pool":
        out *= np.float32(1.0 / (op.size * op.size))
    return out


def _add(a: Array, b: Array) -> Array:
    """dlib's add_prev: the sum over the larger shape, each input zero outside itself."""
    if a.shape == b.shape:
        return a + b
    shape = tuple(max(p, q) for p, q in zip(a.shape, b.shape, strict=True))
    out = np.zeros(shape, dtype=np.float32)
    out[tuple(slice(0, s) for s in a.shape)] += a
    out[tuple(slice(0, s) for s in b.shape)] += b
    return out


class ResNetEncoder:
    """dlib_face_recognition_resnet_model_v1 in numpy: `encode(chips)` gives what dlib's
    `compute_face_descriptor(chips, 0)` gives (to ~1e-6). Holds read-only weights only, so
    one instance may serve several threads at once."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        batch: int = BATCH,
        blas_threads: int | None = 1,
    ) -> None:
        """Loads and checks the model (~0.2 s). `blas_threads` (None: leave it) pins numpy's
        OpenBLAS for the whole process: on 2 shared cores its second thread only competes
        with the event loop (see the figures above)."""
        if blas_threads is not None:
            limit_blas_threads(blas_threads)
        path = Path(path) if path is not None else model_path()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ModelFileError(f"cannot read the face encoder model {path}: {exc}") from exc
        try:
            means, layers = _read_network(data)
        except ModelFileError as exc:
            raise ModelFileError(f"{path}: not dlib's face encoder model: {exc}") from exc
        self.path = path
        self.batch = max(1, batch)
        self._means = means
        self._ops = _compile(layers)

    def encode(self, chips: Sequence[Chip]) -> list[Encoding]:
        """One 128-d encoding per 150x150x3 uint8 RGB chip (as `dlib.get_face_chip` cuts)."""
        stack = _check_chips(chips)
        found: list[Encoding] = []
        for start in range(0, len(stack), self.batch):
            out = self._forward(stack[start : start + self.batch])
            found.extend(np.asarray(row, dtype=np.float64) for row in out)
        return found

    def _forward(self, chips: npt.NDArray[np.uint8]) -> Array:
        # input_rgb_image_sized: (pixel - channel mean) / 256, in float.
        x: Array = (chips.astype(np.float32) - self._means) / np.float32(256.0)
        tags: dict[int, Array] = {}
        for op in self._ops:
            if op.kind == "conv":
                x = _conv(x, op)
            elif op.kind == "relu":
                x = np.maximum(x, 0, out=x)
            elif op.kind in ("max_pool", "avg_pool"):
                x = _pool(x, op)
            elif op.kind == "tag":
                tags[op.tag] = x
            elif op.kind == "skip":
                x = tags[op.tag]
            elif op.kind == "add":
                x = _add(x, tags[op.tag])
            elif op.kind == "mean":
                x = x.mean(axis=(1, 2), dtype=np.float32)
            elif op.kind == "fc":
                assert op.weights is not None
                x = x @ op.weights
        return x


def limit_blas_threads(threads: int) -> int | None:
    """Set numpy's OpenBLAS thread count for the whole process (no threadpoolctl here); the
    count before, or None where no OpenBLAS is loaded. Same effect as OPENBLAS_NUM_THREADS
    set before numpy is imported."""
    import ctypes

    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return None
    for path in sorted(p for p in paths if p.startswith("/")):
        library = ctypes.CDLL(path)  # already loaded by numpy: the same handle
        for prefix, suffix in (("scipy_openblas", "64_"), ("openblas", "64_"), ("openblas", "")):
            setter = getattr(library, f"{prefix}_set_num_threads{suffix}", None)
            getter = getattr(library, f"{prefix}_get_num_threads{suffix}", None)
            if setter is not None and getter is not None:
                before = int(getter())
                setter(ctypes.c_int(threads))
                return before
    return None


def _check_chips(chips: Sequence[Chip]) -> npt.NDArray[np.uint8]:
    if isinstance(chips, np.ndarray) and chips.ndim == 3:
        raise ValueError("encode() takes a sequence of chips, not one chip")
    arrays = []
    for i, chip in enumerate(chips):
        if not isinstance(chip, np.ndarray):
            raise ValueError(f"chip {i}: a numpy array is needed, not {type(chip).__name__}")
        if chip.dtype != np.uint8:
            raise ValueError(f"chip {i}: uint8 RGB is needed, not {chip.dtype}")
        if chip.shape != (CHIP_SIZE, CHIP_SIZE, 3):
            raise ValueError(f"chip {i}: shape {chip.shape}, not (150, 150, 3)")
        arrays.append(chip)
    if not arrays:
        return np.empty((0, CHIP_SIZE, CHIP_SIZE, 3), dtype=np.uint8)
    return np.stack(arrays)


__all__ = ["CHIP_SIZE", "ModelFileError", "ResNetEncoder", "limit_blas_threads", "model_path"]
