"""Read a TFLite flatbuffer into plain Python records (tensors, constants, ops with their options).

Why a reader of our own on top of the ``tflite`` package: that package is
only generated flatbuffer accessors (one class per table, options as raw
tables). The converter wants one small typed view: every tensor with its
shape, dtype and constant data, and every op with its name and its options
as a dict. Keeping that here leaves ``tflite2onnx`` about graph building.

``tflite`` is imported inside ``read_tflite`` (models/ imports only stdlib
and numpy at module level).

Example::

    g = read_tflite(Path("hand_detector.tflite").read_bytes())
    sorted({op.name for op in g.ops})  # ['ADD', 'CONCATENATION', 'CONV_2D', ...]
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# TFLite TensorType -> numpy dtype (only the types a float model's graph carries).
_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 6: np.bool_, 7: np.int16, 9: np.int8}

# Op name -> (options class in the tflite package, {our key: accessor method}).
_OPTIONS: dict[str, tuple[str, dict[str, str]]] = {
    "CONV_2D": ("Conv2DOptions", {"padding": "Padding", "stride_h": "StrideH", "stride_w": "StrideW",
                                  "dilation_h": "DilationHFactor", "dilation_w": "DilationWFactor",
                                  "activation": "FusedActivationFunction"}),
    "DEPTHWISE_CONV_2D": ("DepthwiseConv2DOptions", {"padding": "Padding", "stride_h": "StrideH", "stride_w": "StrideW",
                                                     "dilation_h": "DilationHFactor", "dilation_w": "DilationWFactor",
                                                     "depth_multiplier": "DepthMultiplier",
                                                     "activation": "FusedActivationFunction"}),
    "MAX_POOL_2D": ("Pool2DOptions", {"padding": "Padding", "stride_h": "StrideH", "stride_w": "StrideW",
                                      "filter_h": "FilterHeight", "filter_w": "FilterWidth",
                                      "activation": "FusedActivationFunction"}),
    "ADD": ("AddOptions", {"activation": "FusedActivationFunction"}),
    "RESIZE_BILINEAR": ("ResizeBilinearOptions", {"align_corners": "AlignCorners", "half_pixel_centers": "HalfPixelCenters"}),
    "CONCATENATION": ("ConcatenationOptions", {"axis": "Axis", "activation": "FusedActivationFunction"}),
    "MEAN": ("ReducerOptions", {"keep_dims": "KeepDims"}),
    "FULLY_CONNECTED": ("FullyConnectedOptions", {"activation": "FusedActivationFunction", "weights_format": "WeightsFormat",
                                                  "keep_num_dims": "KeepNumDims"}),
}


@dataclass
class TfliteTensor:
    """One tensor: static shape (TFLite's NHWC), dtype, and data when it is a constant."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: Any  # numpy dtype
    data: np.ndarray | None = None  # constant contents (TFLite layout), None for activations
    scale: np.ndarray | None = None  # quantisation scale(s), when quantised
    zero_point: np.ndarray | None = None
    quantized_dim: int = 0


@dataclass
class TfliteOp:
    """One operator: its builtin name, tensor indices (-1 = optional input left out), parsed options."""

    name: str
    inputs: list[int]
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class TfliteGraph:
    """The first subgraph of a model, in execution order."""

    tensors: list[TfliteTensor]
    ops: list[TfliteOp]
    inputs: list[int]
    outputs: list[int]


def _op_names() -> dict[int, str]:
    from tflite.BuiltinOperator import BuiltinOperator

    return {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}


def _options(op, name: str) -> dict[str, Any]:
    import tflite

    spec = _OPTIONS.get(name)
    table = op.BuiltinOptions()
    if spec is None or table is None:
        return {}
    cls = getattr(tflite, spec[0])()
    cls.Init(table.Bytes, table.Pos)
    return {key: getattr(cls, meth)() for key, meth in spec[1].items()}


def _buffer_data(model, raw: bytes, t, dtype) -> np.ndarray | None:
    buf = model.Buffers(t.Buffer())
    if buf is None:
        return None
    if buf.Offset() > 1:  # large models keep buffers after the flatbuffer
        data = np.frombuffer(raw, dtype=np.uint8, count=buf.Size(), offset=buf.Offset())
    elif buf.DataLength() > 0:
        data = buf.DataAsNumpy()
    else:
        return None
    shape = tuple(int(s) for s in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    return np.frombuffer(data.tobytes(), dtype=dtype).reshape(shape).copy()


def read_tflite(raw: bytes) -> TfliteGraph:
    """Parse a ``.tflite`` file's bytes. Raises ``ValueError`` for what the converter cannot take."""
    try:
        return _read(raw)
    except ValueError:
        raise
    except Exception as exc:  # flatbuffers raises assorted errors on garbage
        raise ValueError(f"not a TFLite model ({type(exc).__name__})") from None


def _read(raw: bytes) -> TfliteGraph:
    import tflite

    if len(raw) < 8 or raw[4:8] != b"TFL3":
        raise ValueError("not a TFLite model (no TFL3 identifier)")
    model = tflite.Model.GetRootAsModel(raw, 0)
    n_sub = model.SubgraphsLength()
    if n_sub < 1:
        raise ValueError("TFLite model has no subgraph")
    sg = model.Subgraphs(0)
    names = _op_names()
    tensors = []
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        ttype = t.Type()
        if ttype not in _DTYPES:
            raise ValueError(f"tensor {t.Name().decode()} has TFLite type {ttype}, which the converter does not handle")
        dtype = _DTYPES[ttype]
        shape = tuple(int(s) for s in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        tt = TfliteTensor(i, t.Name().decode("utf-8", "replace"), shape, dtype, _buffer_data(model, raw, t, dtype))
        q = t.Quantization()
        if q is not None and q.ScaleLength() > 0:
            tt.scale = q.ScaleAsNumpy().astype(np.float32)
            tt.zero_point = q.ZeroPointAsNumpy().astype(np.int64) if q.ZeroPointLength() else np.zeros_like(tt.scale, np.int64)
            tt.quantized_dim = q.QuantizedDimension()
        tensors.append(tt)
    ops = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        name = names.get(builtin, f"builtin #{builtin}")
        if name == "CUSTOM":
            name = f"CUSTOM:{code.CustomCode().decode()}"
        ops.append(TfliteOp(name, [int(v) for v in op.InputsAsNumpy()], [int(v) for v in op.OutputsAsNumpy()], _options(op, name)))
    return TfliteGraph(tensors, ops, [int(v) for v in sg.InputsAsNumpy()], [int(v) for v in sg.OutputsAsNumpy()])
