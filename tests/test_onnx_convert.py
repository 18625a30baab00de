"""TFLite -> ONNX: every output of the converted hand models against the TFLite original (LiteRT).

The TFLite side runs under ``ai-edge-litert`` (a test extra); tests that
need it skip without it. The layout test runs a small graph of our own
(odd sizes, SAME padding, channel concat, channel padding) against a NumPy
reference, so the NHWC <-> NCHW handling is checked beyond the two models.
"""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from models.bundle import read_members
from models.onnx_cache import HAND_MEMBERS, ensure_onnx_models
from models.tflite2onnx import UnsupportedOpError, convert_graph, convert_tflite, supported_ops
from models.tflite_reader import TfliteGraph, TfliteOp, TfliteTensor, read_tflite

PALM_OPS = {"DEQUANTIZE", "CONV_2D", "DEPTHWISE_CONV_2D", "PRELU", "ADD", "MAX_POOL_2D", "PAD", "RESIZE_BILINEAR",
            "RESHAPE", "CONCATENATION"}
LANDMARK_OPS = {"DEQUANTIZE", "CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MEAN", "FULLY_CONNECTED", "LOGISTIC"}
GATE = 1e-3  # max abs difference of every output (the gate for the landmark model)
PALM_GATE = 5e-3  # the palm model's raw box offsets are input pixels (up to ~200): 5e-3 px moves no ROI


@pytest.fixture(scope="module")
def tflite_models(hand_model_path) -> dict[str, bytes]:
    return read_members(hand_model_path, HAND_MEMBERS)


@pytest.fixture(scope="module")
def sessions(tflite_models):
    ort = pytest.importorskip("onnxruntime")
    return {name: ort.InferenceSession(convert_tflite(raw), providers=["CPUExecutionProvider"])
            for name, raw in tflite_models.items()}


def _litert(raw: bytes, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every output of the TFLite model, one image at a time (its input has batch 1)."""
    interp_mod = pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert (test extra) runs the TFLite side")
    it = interp_mod.Interpreter(model_content=raw)
    it.allocate_tensors()
    idx = it.get_input_details()[0]["index"]
    outs: dict[str, list] = {}
    for img in x:
        it.set_tensor(idx, img[None])
        it.invoke()
        for d in it.get_output_details():
            outs.setdefault(d["name"], []).append(it.get_tensor(d["index"])[0].copy())
    return {k: np.stack(v) for k, v in outs.items()}


def _max_diffs(raw: bytes, sess, x: np.ndarray) -> dict[str, float]:
    ref = _litert(raw, x)
    got = sess.run(None, {sess.get_inputs()[0].name: x})
    names = [o.name for o in sess.get_outputs()]
    assert sorted(names) == sorted(ref)  # every output tensor, by its TFLite name
    return {n: float(np.abs(g - ref[n]).max()) for n, g in zip(names, got)}


def test_the_models_use_exactly_the_covered_ops(tflite_models):
    ops = {name: {op.name for op in read_tflite(raw).ops} for name, raw in tflite_models.items()}
    assert ops["hand_detector.tflite"] == PALM_OPS
    assert ops["hand_landmarks_detector.tflite"] == LANDMARK_OPS
    assert PALM_OPS | LANDMARK_OPS == set(supported_ops())


def test_synthetic_inputs_every_output_within_gate(tflite_models, sessions):
    """No shared data needed: noise, a flat grey and a gradient, batched in one ONNX call."""
    for name, hw in (("hand_detector.tflite", 192), ("hand_landmarks_detector.tflite", 224)):
        rng = np.random.default_rng(7)
        grad = np.broadcast_to(np.linspace(0, 1, hw, dtype=np.float32)[None, :, None], (hw, hw, 3))
        x = np.stack([rng.random((hw, hw, 3), dtype=np.float32), np.full((hw, hw, 3), 0.5, np.float32), grad])
        diffs = _max_diffs(tflite_models[name], sessions[name], np.ascontiguousarray(x))
        assert max(diffs.values()) <= (GATE if name.startswith("hand_landmarks") else PALM_GATE), (name, diffs)


def _hand_crops(hands_dir) -> dict[str, np.ndarray]:
    """Model inputs cut from real photos and frames as the tracker cuts them: the palm detector's letterboxed
    frames, the landmark model's rotated hand ROIs (from the reference landmarks)."""
    from vision.hand_rect import crop, rect_from_landmarks, square_rect
    from vision.sources import open_source

    photo = cv2.imread(str(hands_dir / "hands.jpg"))
    ref_photo = np.array(json.loads((hands_dir / "hands.expected.json").read_text())["hands"])
    ref_clip = np.array(json.loads((hands_dir / "asl_hand.full.json").read_text()))
    frames = {}
    with open_source(hands_dir / "asl_hand.25fps.mp4") as src:
        for f in src:
            if f.index in (0, 120, 240):
                frames[f.index] = f.image
    images = [photo, cv2.imread(str(hands_dir / "thumbs_up.jpg"))] + list(frames.values())
    palm = [crop(im, square_rect((im.shape[1], im.shape[0])), 192, cv2.BORDER_CONSTANT) for im in images]
    hands = [crop(photo, rect_from_landmarks(h), 224) for h in ref_photo]
    hands += [crop(im, rect_from_landmarks(ref_clip[i]), 224) for i, im in frames.items()]
    return {"hand_detector.tflite": np.stack(palm)[..., ::-1].astype(np.float32) / 255.0,
            "hand_landmarks_detector.tflite": np.stack(hands)[..., ::-1].astype(np.float32) / 255.0}


def test_real_hand_crops_every_output_within_gate(tflite_models, sessions, hands_dir):
    crops = _hand_crops(hands_dir)
    lm = _max_diffs(tflite_models["hand_landmarks_detector.tflite"], sessions["hand_landmarks_detector.tflite"],
                    crops["hand_landmarks_detector.tflite"])
    palm = _max_diffs(tflite_models["hand_detector.tflite"], sessions["hand_detector.tflite"], crops["hand_detector.tflite"])
    print(f"\nmax abs diff, landmark model: {lm}\nmax abs diff, palm model: {palm}")
    assert max(lm.values()) <= GATE, lm
    assert max(palm.values()) <= PALM_GATE, palm
    # The crops really are hands: the landmark model is sure of them (a converter bug would not keep this).
    sess = sessions["hand_landmarks_detector.tflite"]
    presence = sess.run(["Identity_1"], {sess.get_inputs()[0].name: crops["hand_landmarks_detector.tflite"]})[0]
    assert (presence[:, 0] > 0.9).all(), presence
    assert len(presence) == 5


def _conv_nhwc(x, w, b, stride, pad):
    """NumPy reference conv: x (H, W, I), w (O, KH, KW, I), pads (top, left, bottom, right)."""
    xp = np.pad(x, ((pad[0], pad[2]), (pad[1], pad[3]), (0, 0)))
    o, kh, kw, _ = w.shape
    oh, ow = (xp.shape[0] - kh) // stride + 1, (xp.shape[1] - kw) // stride + 1
    out = np.zeros((oh, ow, o), np.float32)
    for i in range(oh):
        for j in range(ow):
            patch = xp[i * stride : i * stride + kh, j * stride : j * stride + kw]
            out[i, j] = np.tensordot(w, patch, axes=([1, 2, 3], [0, 1, 2])) + b
    return out


def test_layout_on_a_graph_of_odd_shapes():
    """8 x 10 input, SAME conv with stride 2 (TF pads the extra pixel at the end), channel PAD, concat on
    channels, PRELU with mixed slopes, MEAN over H and W and a RESHAPE: all against NumPy."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 8, 10, 3)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    alpha = np.array([[[-0.5, 0.25, 2.0, 1.0, 3.0, 0.0]]], np.float32)
    t = [
        TfliteTensor(0, "in", (1, 8, 10, 3), np.float32),
        TfliteTensor(1, "w16", w.shape, np.float16, w.astype(np.float16)),
        TfliteTensor(2, "w", w.shape, np.float32),
        TfliteTensor(3, "b", (4,), np.float32, bias),
        TfliteTensor(4, "conv", (1, 4, 5, 4), np.float32),
        TfliteTensor(5, "pads", (4, 2), np.int32, np.array([[0, 0], [0, 0], [0, 0], [0, 2]], np.int32)),
        TfliteTensor(6, "padded", (1, 4, 5, 6), np.float32),
        TfliteTensor(7, "alpha", (1, 1, 6), np.float32, alpha),
        TfliteTensor(8, "prelu", (1, 4, 5, 6), np.float32),
        TfliteTensor(9, "cat", (1, 4, 5, 10), np.float32),
        TfliteTensor(10, "axes", (2,), np.int32, np.array([1, 2], np.int32)),
        TfliteTensor(11, "mean", (1, 10), np.float32),
        TfliteTensor(12, "flat", (1, 120), np.float32),
        TfliteTensor(13, "shape", (2,), np.int32, np.array([1, 120], np.int32)),
    ]
    conv = {"padding": 0, "stride_h": 2, "stride_w": 2, "dilation_h": 1, "dilation_w": 1, "activation": 0}
    ops = [
        TfliteOp("DEQUANTIZE", [1], [2]),
        TfliteOp("CONV_2D", [0, 2, 3], [4], conv),
        TfliteOp("PAD", [4, 5], [6]),
        TfliteOp("PRELU", [6, 7], [8]),
        TfliteOp("CONCATENATION", [8, 4], [9], {"axis": -1, "activation": 0}),
        TfliteOp("MEAN", [9, 10], [11], {"keep_dims": False}),
        TfliteOp("RESHAPE", [8, 13], [12]),
    ]
    g = TfliteGraph(t, ops, [0], [11, 12])
    import onnxruntime as ort

    sess = ort.InferenceSession(convert_graph(g).SerializeToString(), providers=["CPUExecutionProvider"])
    mean, flat = sess.run(["mean", "flat"], {"in": x})
    wq = w.astype(np.float16).astype(np.float32)
    ref_conv = _conv_nhwc(x[0], wq, bias, 2, (0, 0, 1, 1))  # SAME: 8 -> 4 rows, 10 -> 5 cols, the one pad pixel at the end
    padded = np.concatenate([ref_conv, np.zeros((4, 5, 2), np.float32)], axis=-1)
    ref_prelu = np.where(padded > 0, padded, padded * alpha[0, 0])
    ref_cat = np.concatenate([ref_prelu, ref_conv], axis=-1)
    np.testing.assert_allclose(mean[0], ref_cat.mean((0, 1)), atol=1e-4)
    np.testing.assert_allclose(flat[0], ref_prelu.reshape(-1), atol=1e-4)  # TFLite's NHWC element order


def test_an_unknown_op_is_named():
    t = [TfliteTensor(0, "in", (1, 4), np.float32), TfliteTensor(1, "out", (1, 4), np.float32)]
    g = TfliteGraph(t, [TfliteOp("SQUARED_DIFFERENCE", [0, 0], [1])], [0], [1])
    with pytest.raises(UnsupportedOpError, match="SQUARED_DIFFERENCE"):
        convert_graph(g)
    with pytest.raises(UnsupportedOpError, match="not a TFLite model"):
        convert_tflite(b"<html>captive portal</html>")


def test_cache_converts_once_and_redoes_a_damaged_file(tmp_path, hand_model_path, tflite_models):
    from models.integrity import sha256_bytes

    paths = ensure_onnx_models(hand_model_path, tmp_path)
    assert set(paths) == set(HAND_MEMBERS)
    for member, p in paths.items():
        manifest = json.loads(p.with_suffix(".json").read_text())
        assert manifest["source_sha256"] == sha256_bytes(tflite_models[member])  # tied to the verified source
        assert p.name.endswith(manifest["source_sha256"][:12] + ".onnx")
    lm = paths["hand_landmarks_detector.tflite"]
    stamp = lm.stat().st_mtime_ns
    assert ensure_onnx_models(hand_model_path, tmp_path)["hand_landmarks_detector.tflite"].stat().st_mtime_ns == stamp  # not redone
    lm.write_bytes(lm.read_bytes()[:1000])  # truncated: its sha256 no longer matches the manifest
    again = ensure_onnx_models(hand_model_path, tmp_path)["hand_landmarks_detector.tflite"]
    assert again.stat().st_size > 1_000_000


def test_models_fetch_onnx_prints_the_converted_files(capsys, hand_model_path):
    from coach.cli import main

    assert main(["models", "fetch", "--onnx", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "onnx: hand_detector.tflite ->" in out and "onnx: hand_landmarks_detector.tflite ->" in out
