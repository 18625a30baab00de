"""TFLite -> ONNX for the ops MediaPipe's hand models use (our own converter).

Why our own: the generic converters pull in TensorFlow; the hand models use
a dozen ops, so a table of small handlers (one per op) is a few hundred
lines whose every step we can test against the TFLite original
(``tests/test_onnx_convert.py``).

Layout: TFLite is NHWC, ONNX Runtime's convolutions are NCHW. The graph
keeps the model's NHWC input and outputs and runs NCHW inside: every value
remembers its layout and a Transpose is inserted only where an op needs the
other one (the input, and before the RESHAPEs that flatten the detector's
heads). The batch dimension is left free so many crops run in one call.

fp16 weights (DEQUANTIZE of a constant) are folded to float32 initializers
at conversion time: ONNX Runtime on the CPU computes in float32 anyway.

An op outside the table raises ``UnsupportedOpError`` naming it. ``onnx``
is imported inside the functions (models/ imports only stdlib + numpy).

Example::

    onnx_bytes = convert_tflite(Path("hand_landmarks_detector.tflite").read_bytes())
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from models.tflite_reader import TfliteGraph, TfliteOp, TfliteTensor, read_tflite

CONVERTER_VERSION = 2  # bump when the output changes: cached conversions are then redone
OPSET = 17
IR_VERSION = 8  # the oldest IR that carries opset 17: readable by every onnxruntime >= 1.16
BATCH = "batch"  # the name of the free batch dimension

NHWC, NCHW = "nhwc", "nchw"
_TO_NCHW = (0, 3, 1, 2)
_TO_NHWC = (0, 2, 3, 1)
_NHWC_AXIS_IN_NCHW = {0: 0, 1: 2, 2: 3, 3: 1}
_SAME, _VALID = 0, 1


class UnsupportedOpError(ValueError):
    """The TFLite model uses an op (or an op variant) the converter does not cover."""


class _Builder:
    """The ONNX graph under construction: nodes, initializers, and each TFLite tensor's value and layout."""

    def __init__(self, g: TfliteGraph) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.g = g
        self.nodes: list = []
        self.inits: list = []
        self.consts: dict[int, np.ndarray] = {t.index: t.data for t in g.tensors if t.data is not None}
        self.values: dict[int, tuple[str, str]] = {}  # tensor index -> (onnx name, layout)
        self._transposed: dict[tuple[str, str], str] = {}
        self._n = 0

    # ---- names, constants, nodes ----------------------------------------
    def fresh(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, arr: np.ndarray, hint: str = "c") -> str:
        name = self.fresh(hint)
        self.inits.append(self.numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(self, op_type: str, inputs: list[str], hint: str, **attrs: Any) -> str:
        out = self.fresh(hint)
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def tensor(self, idx: int) -> TfliteTensor:
        return self.g.tensors[idx]

    def rank(self, idx: int) -> int:
        return len(self.tensor(idx).shape)

    def constant(self, idx: int, what: str) -> np.ndarray:
        if idx not in self.consts:
            raise UnsupportedOpError(f"{what}: tensor {self.tensor(idx).name!r} must be a constant in this converter")
        return self.consts[idx]

    # ---- values and layouts ----------------------------------------------
    def get(self, idx: int, layout: str | None = None) -> tuple[str, str]:
        """The ONNX name of tensor ``idx`` in ``layout`` (None: as it is), transposing when needed."""
        if idx not in self.values:
            if idx in self.consts:  # a constant used as an activation input (e.g. an ADD's bias)
                arr = self.consts[idx].astype(np.float32) if self.consts[idx].dtype == np.float16 else self.consts[idx]
                if layout == NCHW and arr.ndim == 4:
                    arr = arr.transpose(_TO_NCHW)
                    self.values[idx] = (self.const(arr), NCHW)
                else:
                    self.values[idx] = (self.const(arr), NHWC)
            else:
                raise UnsupportedOpError(f"tensor {self.tensor(idx).name!r} is read before any op writes it")
        name, have = self.values[idx]
        if layout is None or layout == have or self.rank(idx) != 4:
            return name, have
        key = (name, layout)
        if key not in self._transposed:
            perm = _TO_NCHW if layout == NCHW else _TO_NHWC
            self._transposed[key] = self.node("Transpose", [name], f"to_{layout}", perm=list(perm))
        return self._transposed[key], layout

    def set(self, idx: int, name: str, layout: str) -> None:
        self.values[idx] = (name, layout)

    def activation(self, name: str, fused: int, hint: str) -> str:
        if fused == 0:
            return name
        if fused == 1:
            return self.node("Relu", [name], hint + "_relu")
        if fused == 3:
            return self.node("Clip", [name, self.const(np.float32(0.0)), self.const(np.float32(6.0))], hint + "_relu6")
        if fused == 2:
            return self.node("Clip", [name, self.const(np.float32(-1.0)), self.const(np.float32(1.0))], hint + "_relu1")
        if fused == 4:
            return self.node("Tanh", [name], hint + "_tanh")
        raise UnsupportedOpError(f"fused activation #{fused} is not supported")


def _same_pads(in_hw: tuple[int, int], k_hw: tuple[int, int], s_hw: tuple[int, int], d_hw: tuple[int, int]) -> list[int]:
    """TensorFlow's SAME padding as explicit ONNX pads [top, left, bottom, right] (the extra pixel at the end)."""
    begins, ends = [], []
    for n, k, s, d in zip(in_hw, k_hw, s_hw, d_hw):
        out = -(-n // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        begins.append(total // 2)
        ends.append(total - total // 2)
    return begins + ends


def _conv_attrs(b: _Builder, op: TfliteOp, k_hw: tuple[int, int]) -> dict[str, Any]:
    o = op.options
    s = (o["stride_h"], o["stride_w"])
    d = (o.get("dilation_h", 1), o.get("dilation_w", 1))
    in_hw = b.tensor(op.inputs[0]).shape[1:3]
    pads = _same_pads(in_hw, k_hw, s, d) if o["padding"] == _SAME else [0, 0, 0, 0]
    return {"kernel_shape": list(k_hw), "strides": list(s), "dilations": list(d), "pads": pads}


# ---- op handlers: (builder, op) -> None, writing b.values for op.outputs ----------
def _dequantize(b: _Builder, op: TfliteOp) -> None:
    src = b.tensor(op.inputs[0])
    data = b.constant(op.inputs[0], "DEQUANTIZE")
    if data.dtype == np.float16:
        out = data.astype(np.float32)
    elif src.scale is not None:  # int8/uint8 weights, per-tensor or per-axis
        shape = [1] * data.ndim
        if src.scale.size > 1:
            shape[src.quantized_dim] = -1
        out = (data.astype(np.float32) - src.zero_point.reshape(shape)) * src.scale.reshape(shape)
    else:
        raise UnsupportedOpError(f"DEQUANTIZE of {src.name!r}: {data.dtype} without quantisation parameters")
    b.consts[op.outputs[0]] = out.astype(np.float32)


def _conv_2d(b: _Builder, op: TfliteOp) -> None:
    w = b.constant(op.inputs[1], "CONV_2D weights")  # (O, KH, KW, I)
    x, _ = b.get(op.inputs[0], NCHW)
    ins = [x, b.const(w.transpose(0, 3, 1, 2).astype(np.float32), "w")]
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        ins.append(b.const(b.constant(op.inputs[2], "CONV_2D bias").astype(np.float32), "b"))
    y = b.node("Conv", ins, "conv", **_conv_attrs(b, op, w.shape[1:3]))
    b.set(op.outputs[0], b.activation(y, op.options["activation"], "conv"), NCHW)


def _depthwise_conv_2d(b: _Builder, op: TfliteOp) -> None:
    w = b.constant(op.inputs[1], "DEPTHWISE_CONV_2D weights")  # (1, KH, KW, C * multiplier)
    c_in = b.tensor(op.inputs[0]).shape[3]
    x, _ = b.get(op.inputs[0], NCHW)
    ins = [x, b.const(w.transpose(3, 0, 1, 2).astype(np.float32), "w")]  # (C * m, 1, KH, KW)
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        ins.append(b.const(b.constant(op.inputs[2], "DEPTHWISE_CONV_2D bias").astype(np.float32), "b"))
    y = b.node("Conv", ins, "dwconv", group=int(c_in), **_conv_attrs(b, op, w.shape[1:3]))
    b.set(op.outputs[0], b.activation(y, op.options["activation"], "dwconv"), NCHW)


def _max_pool_2d(b: _Builder, op: TfliteOp) -> None:
    o = op.options
    x, _ = b.get(op.inputs[0], NCHW)
    attrs = _conv_attrs(b, op, (o["filter_h"], o["filter_w"]))
    attrs.pop("dilations")
    y = b.node("MaxPool", [x], "maxpool", **attrs)
    b.set(op.outputs[0], b.activation(y, o["activation"], "maxpool"), NCHW)


def _prelu(b: _Builder, op: TfliteOp) -> None:
    x, layout = b.get(op.inputs[0])
    alpha = b.constant(op.inputs[1], "PRELU alpha").astype(np.float32)
    if layout == NCHW:  # alpha broadcasts over NHWC's trailing axes: (…, C) -> (C, 1, 1)
        alpha = np.broadcast_to(alpha, (1,) * (3 - alpha.ndim) + alpha.shape).transpose(2, 0, 1)
    alpha = np.ascontiguousarray(alpha)
    # ONNX Runtime's PRelu broadcasts per element and cost as much as every conv of the palm detector
    # together; Max/Min of x and alpha*x is the same function (exactly), an order of magnitude faster.
    if np.all(alpha <= 1):  # max(x, a x) = x for x > 0, a x for x < 0
        y = b.node("Max", [x, b.node("Mul", [x, b.const(alpha, "alpha")], "prelu_ax")], "prelu")
    elif np.all(alpha >= 1):
        y = b.node("Min", [x, b.node("Mul", [x, b.const(alpha, "alpha")], "prelu_ax")], "prelu")
    else:  # mixed channels: s * max(s x, s a x) with s = +-1 per channel (multiplying by +-1 is exact)
        sign = np.where(alpha <= 1, 1.0, -1.0).astype(np.float32)
        sx = b.node("Mul", [x, b.const(sign, "sign")], "prelu_sx")
        sax = b.node("Mul", [x, b.const(sign * alpha, "alpha")], "prelu_sax")
        y = b.node("Mul", [b.node("Max", [sx, sax], "prelu_max"), b.const(sign, "sign")], "prelu")
    b.set(op.outputs[0], y, layout)


def _add(b: _Builder, op: TfliteOp) -> None:
    layouts = {b.values[i][1] for i in op.inputs if i in b.values and b.rank(i) == 4}
    want = NCHW if NCHW in layouts else NHWC
    names = []
    for i in op.inputs:
        if i in b.consts and i not in b.values and b.rank(op.outputs[0]) == 4 and want == NCHW:
            arr = b.consts[i].astype(np.float32)
            arr = np.broadcast_to(arr, (1,) * (4 - arr.ndim) + arr.shape).transpose(_TO_NCHW)
            names.append(b.const(np.ascontiguousarray(arr), "addc"))
        else:
            names.append(b.get(i, want)[0])
    y = b.node("Add", names, "add")
    b.set(op.outputs[0], b.activation(y, op.options["activation"], "add"), want if b.rank(op.outputs[0]) == 4 else NHWC)


def _pad(b: _Builder, op: TfliteOp) -> None:
    pads = b.constant(op.inputs[1], "PAD paddings").astype(np.int64)  # (rank, 2) in NHWC order
    x, layout = b.get(op.inputs[0])
    if layout == NCHW:
        pads = pads[list(_TO_NCHW)]
    y = b.node("Pad", [x, b.const(np.concatenate([pads[:, 0], pads[:, 1]]), "pads")], "pad", mode="constant")
    b.set(op.outputs[0], y, layout)


def _resize_bilinear(b: _Builder, op: TfliteOp) -> None:
    o = op.options
    in_h, in_w = b.tensor(op.inputs[0]).shape[1:3]
    out_h, out_w = (int(v) for v in b.constant(op.inputs[1], "RESIZE_BILINEAR size"))
    mode = "align_corners" if o["align_corners"] else "half_pixel" if o["half_pixel_centers"] else "asymmetric"
    x, _ = b.get(op.inputs[0], NCHW)
    scales = b.const(np.array([1.0, 1.0, out_h / in_h, out_w / in_w], np.float32), "scales")
    y = b.node("Resize", [x, "", scales], "resize", mode="linear", coordinate_transformation_mode=mode)
    b.set(op.outputs[0], y, NCHW)


def _reshape(b: _Builder, op: TfliteOp) -> None:
    x, _ = b.get(op.inputs[0], NHWC)  # element order is TFLite's
    shape = list(b.tensor(op.outputs[0]).shape)
    if shape and shape[0] == b.tensor(op.inputs[0]).shape[0] == 1:
        shape[0] = -1  # keep the batch free
    y = b.node("Reshape", [x, b.const(np.array(shape, np.int64), "shape")], "reshape")
    b.set(op.outputs[0], y, NHWC)


def _concatenation(b: _Builder, op: TfliteOp) -> None:
    rank = b.rank(op.outputs[0])
    axis = op.options["axis"] % rank
    layouts = {b.values[i][1] for i in op.inputs if i in b.values}
    want = NCHW if rank == 4 and layouts == {NCHW} else NHWC
    names = [b.get(i, want)[0] for i in op.inputs]
    y = b.node("Concat", names, "concat", axis=_NHWC_AXIS_IN_NCHW[axis] if want == NCHW else axis)
    b.set(op.outputs[0], b.activation(y, op.options["activation"], "concat"), want)


def _mean(b: _Builder, op: TfliteOp) -> None:
    axes = sorted(int(a) % b.rank(op.inputs[0]) for a in np.atleast_1d(b.constant(op.inputs[1], "MEAN axes")))
    keep = bool(op.options["keep_dims"])
    x, layout = b.get(op.inputs[0])
    if layout == NCHW:
        mapped = [_NHWC_AXIS_IN_NCHW[a] for a in axes]
        left_nchw = [a for a in range(4) if a not in mapped]
        left_nhwc = [_NHWC_AXIS_IN_NCHW[a] for a in range(4) if a not in axes]
        if keep or left_nchw == left_nhwc:  # the kept axes are in TFLite's order either way
            y = b.node("ReduceMean", [x], "mean", axes=mapped, keepdims=int(keep))
            b.set(op.outputs[0], y, NCHW if keep else NHWC)
            return
        x, layout = b.get(op.inputs[0], NHWC)
    y = b.node("ReduceMean", [x], "mean", axes=axes, keepdims=int(keep))
    b.set(op.outputs[0], y, NHWC)


def _fully_connected(b: _Builder, op: TfliteOp) -> None:
    o = op.options
    if o.get("weights_format", 0) != 0:
        raise UnsupportedOpError("FULLY_CONNECTED with shuffled weights is not supported")
    w = b.constant(op.inputs[1], "FULLY_CONNECTED weights").astype(np.float32)  # (out, in)
    src = b.tensor(op.inputs[0])
    spatial = int(np.prod(src.shape[1:3])) if len(src.shape) == 4 else 1
    x, _ = b.get(op.inputs[0], NHWC if spatial > 1 else None)
    if len(src.shape) != 2:
        x = b.node("Reshape", [x, b.const(np.array([-1, w.shape[1]], np.int64), "shape")], "flatten")
    ins = [x, b.const(w, "w")]
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        ins.append(b.const(b.constant(op.inputs[2], "FULLY_CONNECTED bias").astype(np.float32), "b"))
    y = b.node("Gemm", ins, "fc", transB=1)
    if o.get("keep_num_dims") and len(b.tensor(op.outputs[0]).shape) != 2:
        raise UnsupportedOpError("FULLY_CONNECTED with keep_num_dims on a rank > 2 output is not supported")
    b.set(op.outputs[0], b.activation(y, o["activation"], "fc"), NHWC)


def _logistic(b: _Builder, op: TfliteOp) -> None:
    x, layout = b.get(op.inputs[0])
    b.set(op.outputs[0], b.node("Sigmoid", [x], "sigmoid"), layout)


HANDLERS: dict[str, Callable[[_Builder, TfliteOp], None]] = {
    "DEQUANTIZE": _dequantize,
    "CONV_2D": _conv_2d,
    "DEPTHWISE_CONV_2D": _depthwise_conv_2d,
    "PRELU": _prelu,
    "ADD": _add,
    "MAX_POOL_2D": _max_pool_2d,
    "PAD": _pad,
    "RESIZE_BILINEAR": _resize_bilinear,
    "RESHAPE": _reshape,
    "CONCATENATION": _concatenation,
    "MEAN": _mean,
    "FULLY_CONNECTED": _fully_connected,
    "LOGISTIC": _logistic,
}


def supported_ops() -> list[str]:
    """The TFLite builtin ops this converter handles."""
    return sorted(HANDLERS)


def convert_graph(g: TfliteGraph, *, name: str = "model", dynamic_batch: bool = True):
    """A parsed TFLite graph -> ``onnx.ModelProto`` (checked). Raises ``UnsupportedOpError``."""
    import onnx
    from onnx import TensorProto, helper

    unknown = sorted({op.name for op in g.ops} - set(HANDLERS))
    if unknown:
        raise UnsupportedOpError(f"TFLite op(s) not supported by the converter: {', '.join(unknown)} "
                                 f"(supported: {', '.join(supported_ops())})")
    b = _Builder(g)

    def value_info(idx: int, onnx_name: str):
        t = g.tensors[idx]
        if t.dtype != np.float32:
            raise UnsupportedOpError(f"graph input/output {t.name!r} is {np.dtype(t.dtype).name}, only float32 is supported")
        shape: list[Any] = list(t.shape)
        if dynamic_batch and shape:
            shape[0] = BATCH
        return helper.make_tensor_value_info(onnx_name, TensorProto.FLOAT, shape)

    inputs = []
    for idx in g.inputs:
        iname = g.tensors[idx].name
        inputs.append(value_info(idx, iname))
        b.set(idx, iname, NHWC)
    for op in g.ops:
        HANDLERS[op.name](b, op)
    outputs = []
    for idx in g.outputs:
        oname = g.tensors[idx].name
        src, _ = b.get(idx, NHWC)
        b.nodes.append(helper.make_node("Identity", [src], [oname], name=f"out_{oname}"))
        outputs.append(value_info(idx, oname))
    graph = helper.make_graph(b.nodes, name, inputs, outputs, b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="cpr-coach tflite2onnx")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def convert_tflite(raw: bytes, *, name: str = "model", dynamic_batch: bool = True) -> bytes:
    """TFLite file bytes -> serialized ONNX model bytes (NHWC float32 input and outputs, as in TFLite)."""
    try:
        g = read_tflite(raw)
    except ValueError as exc:
        raise UnsupportedOpError(str(exc)) from None
    return convert_graph(g, name=name, dynamic_batch=dynamic_batch).SerializeToString()
