"""The pose model bundle: registry entry, metadata written by models/tflite_metadata.py, reproducible build."""
from __future__ import annotations

import hashlib

import pytest

from models import ModelError, ensure_model, get_spec
from models.bundle import read_members
from models.registry import default_specs
from models.tflite_metadata import POSE_LANDMARK_OUTPUTS, TRANSFORMS, add_image_metadata, read_normalization


def test_registry_entry_is_pinned_default_and_names_its_transform():
    spec = get_spec("pose_landmarker")
    assert get_spec("pose") is spec  # `cpr-coach models fetch pose`
    assert spec in default_specs()  # `cpr-coach models fetch` provides it too
    assert spec.members == ("pose_detector.tflite", "pose_landmarks_detector.tflite")
    (src,) = spec.sources
    assert src.kind == "wheel" and src.requirement == "mediapipe==0.10.21"
    det, lm = src.members
    assert det.transform is None and det.sha256.startswith("9ba9dd3d")
    assert lm.transform in TRANSFORMS and lm.sha256.startswith("e9a5c5cb")


@pytest.fixture(scope="module")
def pose_bundle():
    try:
        return ensure_model("pose_landmarker", progress=False)
    except ModelError as exc:
        pytest.skip(f"pose model unavailable: {exc}")


def test_cached_bundle_has_rgb_input_metadata_mean_0_std_255(pose_bundle):
    from mediapipe.tasks.metadata import metadata_schema_py_generated as meta
    from mediapipe.tasks.metadata import schema_py_generated as tfl

    m = read_members(pose_bundle, ["pose_detector.tflite", "pose_landmarks_detector.tflite"])
    lm = m["pose_landmarks_detector.tflite"]
    assert lm[4:8] == b"TFL3"
    assert read_normalization(lm) == (0.0, 255.0)
    assert read_normalization(m["pose_detector.tflite"]) == (127.5, 127.5)  # the detector's own, unchanged
    model = tfl.Model.GetRootAsModel(lm, 0)
    entry = next(model.Metadata(i) for i in range(model.MetadataLength()) if model.Metadata(i).Name() == b"TFLITE_METADATA")
    md = meta.ModelMetadata.GetRootAsModelMetadata(model.Buffers(entry.Buffer()).DataAsNumpy().tobytes(), 0)
    sub = md.SubgraphMetadata(0)
    assert sub.OutputTensorMetadataLength() == 5 == len(POSE_LANDMARK_OUTPUTS)
    inp = sub.InputTensorMetadata(0)
    assert inp.Content().ContentPropertiesType() == meta.ContentProperties.ImageProperties
    props = meta.ImageProperties()
    props.Init(inp.Content().ContentProperties().Bytes, inp.Content().ContentProperties().Pos)
    assert props.ColorSpace() == meta.ColorSpaceType.RGB


def test_metadata_writer_refuses_a_model_that_has_metadata_and_non_models(pose_bundle):
    det = read_members(pose_bundle, ["pose_detector.tflite"])["pose_detector.tflite"]
    with pytest.raises(ModelError, match="already carries"):
        add_image_metadata(det, name="x", mean=0, std=255, output_names=("a", "b"))
    with pytest.raises(ModelError):
        add_image_metadata(b"not a model at all" * 10, name="x", mean=0, std=255, output_names=("a",))


@pytest.mark.slow
def test_build_from_the_wheel_is_byte_for_byte_the_pin(tmp_path):
    """pip download mediapipe==0.10.21 (pip's cache makes it quick), rebuild twice, compare to the pin."""
    from models.errors import SourceUnavailable
    from models.wheel import build_from_wheel

    src = get_spec("pose_landmarker").sources[0]
    try:
        a = build_from_wheel(src, tmp_path / "a.task")
    except SourceUnavailable as exc:
        pytest.skip(f"no package index: {exc}")
    assert hashlib.sha256(a.read_bytes()).hexdigest() == src.sha256
