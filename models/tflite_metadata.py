"""Write TFLite model metadata (``TFLITE_METADATA``) without MediaPipe's metadata writers.

Why: the 0.10.21 wheel's ``pose_landmark_full.tflite`` carries no input
metadata, and the Tasks API refuses such a model ("requires specifying
NormalizationOptions metadata"). mediapipe 1.x's ``metadata_writers`` cannot
be imported (a native module is missing from its wheel), but the flatbuffers
schema modules it ships (``mediapipe.tasks.metadata.schema_py_generated`` and
``metadata_schema_py_generated``) are enough: unpack the model, append a
metadata buffer, repack with the ``TFL3`` identifier.

The mapping matters: mean 0 and std 255 (pixels scaled to [0, 1]) is what the
model was trained with; mean/std 127.5 moved the wrists by about 16 px.

The output is deterministic for a given input (the flatbuffers builder writes
the same bytes for the same object tree), so the bundle built from it keeps a
pinned sha256.

Usage::

    data = add_image_metadata(tflite_bytes, name="Pose landmarks detector (full)",
                              mean=0.0, std=255.0, output_names=("landmarks", ...))
"""
from __future__ import annotations

from typing import Sequence

from models.errors import ModelError

_METADATA_NAME = b"TFLITE_METADATA"
_METADATA_IDENTIFIER = b"M001"
_MODEL_IDENTIFIER = b"TFL3"

# Output tensors of MediaPipe's pose landmark model, in its output order.
POSE_LANDMARK_OUTPUTS: tuple[str, ...] = (
    "landmarks",  # 1x195: 39 points x (x, y, z, visibility, presence) in input pixels
    "pose_flag",  # 1x1: presence score of a pose in the crop
    "segmentation",  # 1x256x256x1 mask logits
    "heatmap",  # 1x64x64x39
    "world_landmarks",  # 1x117: 39 points x (x, y, z) in metres
)


def _schemas():
    try:
        from mediapipe.tasks.metadata import metadata_schema_py_generated as meta
        from mediapipe.tasks.metadata import schema_py_generated as tfl
    except ImportError as exc:  # pragma: no cover - mediapipe is a dependency
        raise ModelError(f"cannot write TFLite metadata: mediapipe's flatbuffers schema modules are missing ({exc})") from None
    return tfl, meta


def _metadata_bytes(meta, *, name: str, description: str, mean: float, std: float, output_names: Sequence[str]) -> bytes:
    import flatbuffers

    norm = meta.NormalizationOptionsT()
    norm.mean = [float(mean)]
    norm.std = [float(std)]
    unit = meta.ProcessUnitT()
    unit.optionsType = meta.ProcessUnitOptions.NormalizationOptions
    unit.options = norm
    image = meta.ImagePropertiesT()
    image.colorSpace = meta.ColorSpaceType.RGB
    content = meta.ContentT()
    content.contentPropertiesType = meta.ContentProperties.ImageProperties
    content.contentProperties = image
    stats = meta.StatsT()
    stats.max = [(255.0 - mean) / std]
    stats.min = [(0.0 - mean) / std]
    tin = meta.TensorMetadataT()
    tin.name = "image"
    tin.description = "RGB image, pixels scaled to [0, 1]"
    tin.content = content
    tin.processUnits = [unit]
    tin.stats = stats
    outs = []
    for out_name in output_names:
        t = meta.TensorMetadataT()
        t.name = out_name
        t.content = meta.ContentT()
        t.content.contentPropertiesType = meta.ContentProperties.FeatureProperties
        t.content.contentProperties = meta.FeaturePropertiesT()
        t.stats = meta.StatsT()
        outs.append(t)
    sub = meta.SubGraphMetadataT()
    sub.inputTensorMetadata = [tin]
    sub.outputTensorMetadata = outs
    model_meta = meta.ModelMetadataT()
    model_meta.name = name
    model_meta.description = description
    model_meta.subgraphMetadata = [sub]
    model_meta.minParserVersion = "1.0.0"
    b = flatbuffers.Builder(1024)
    b.Finish(model_meta.Pack(b), file_identifier=_METADATA_IDENTIFIER)
    return bytes(b.Output())


def add_image_metadata(
    tflite: bytes,
    *,
    name: str,
    mean: float,
    std: float,
    output_names: Sequence[str],
    description: str = "",
) -> bytes:
    """Return ``tflite`` with a ``TFLITE_METADATA`` entry for one RGB image input and its outputs.

    Args:
        tflite: the model's bytes (a TFLite flatbuffer without TFLITE_METADATA).
        name: the model's name in its metadata.
        mean, std: input normalisation, ``(pixel - mean) / std``.
        output_names: one name per output tensor, in the model's output order.
    Raises ``ModelError`` when the model already has metadata or its outputs do not match.
    """
    import flatbuffers
    import numpy as np

    tfl, meta = _schemas()
    try:
        model = tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(tflite, 0))
    except Exception as exc:  # a flatbuffer decoding failure has no single exception type
        raise ModelError(f"not a TFLite model ({type(exc).__name__}: {exc})") from None
    entries = list(model.metadata or [])
    if any(bytes(e.name) == _METADATA_NAME for e in entries):
        raise ModelError("the model already carries TFLITE_METADATA")
    sub = model.subgraphs[0]
    if len(sub.inputs) != 1 or len(sub.outputs) != len(output_names):
        raise ModelError(
            f"model has {len(sub.inputs)} input(s) and {len(sub.outputs)} output(s); "
            f"expected 1 and {len(output_names)}"
        )
    blob = _metadata_bytes(
        meta, name=name, description=description, mean=mean, std=std, output_names=output_names
    )
    buf = tfl.BufferT()
    buf.data = np.frombuffer(blob, dtype=np.uint8)
    model.buffers.append(buf)
    entry = tfl.MetadataT()
    entry.name = _METADATA_NAME.decode()
    entry.buffer = len(model.buffers) - 1
    entries.append(entry)
    model.metadata = entries
    b = flatbuffers.Builder(len(tflite) + len(blob) + 4096)
    b.Finish(model.Pack(b), file_identifier=_MODEL_IDENTIFIER)
    return bytes(b.Output())


def read_normalization(tflite: bytes) -> tuple[float, float] | None:
    """(mean, std) of the first input's NormalizationOptions, or None when the model has no metadata."""
    tfl, meta = _schemas()
    model = tfl.Model.GetRootAsModel(tflite, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() != _METADATA_NAME:
            continue
        data = model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
        mm = meta.ModelMetadataT.InitFromObj(meta.ModelMetadata.GetRootAsModelMetadata(data, 0))
        for unit in mm.subgraphMetadata[0].inputTensorMetadata[0].processUnits or []:
            if unit.optionsType == meta.ProcessUnitOptions.NormalizationOptions:
                return float(unit.options.mean[0]), float(unit.options.std[0])
    return None


# Named conversions a registry wheel member may ask for ("transform": NAME).
TRANSFORMS = {
    "pose_landmark_metadata": lambda data: add_image_metadata(
        data,
        name="Pose landmarks detector (full)",
        description="MediaPipe BlazePose GHUM 3D full, metadata added by cpr-coach",
        mean=0.0,
        std=255.0,
        output_names=POSE_LANDMARK_OUTPUTS,
    ),
}


def apply_transform(name: str | None, data: bytes) -> bytes:
    """Apply a registry member's named transform (None: unchanged)."""
    if name is None:
        return data
    try:
        fn = TRANSFORMS[name]
    except KeyError:
        raise ModelError(f"model registry: unknown member transform {name!r} (known: {', '.join(TRANSFORMS)})") from None
    return fn(data)
