"""Palm detector post-processing in NumPy: SSD anchors, box decoding, weighted NMS.

Why a copy of MediaPipe's arithmetic: the ONNX backend must find the same
palms as the MediaPipe graph, so every constant here is the one its hand
detector graph sets (``hand_detector_graph.cc``) and every step follows its
calculator (``ssd_anchors_calculator.cc``, ``tensors_to_detections_calculator.cc``,
``non_max_suppression_calculator.cc``). NumPy only, vectorised over the
2016 anchors.

Example::

    anchors = ssd_anchors(PalmDetectorOptions())            # (2016, 2) x, y centres
    dets = decode(raw_boxes[0], raw_scores[0, :, 0], anchors, PalmDetectorOptions())
    palms = weighted_nms(dets, 0.3)                          # best first
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PalmDetectorOptions:
    """MediaPipe's palm detection settings (``hand_detector_graph.cc``)."""

    input_size: int = 192  # square model input, px
    num_layers: int = 4
    strides: tuple[int, ...] = (8, 16, 16, 16)
    anchor_offset: float = 0.5  # anchor centre inside its grid cell
    anchors_per_layer: int = 2  # aspect ratio 1.0 plus the interpolated scale (MediaPipe's default 1.0)
    num_keypoints: int = 7
    score_clipping: float = 100.0  # raw logits are clipped to +-this before the sigmoid
    min_score: float = 0.5  # min_hand_detection_confidence
    nms_iou: float = 0.3  # weighted NMS merges boxes overlapping more than this (IoU)


@dataclass(frozen=True)
class PalmDetections:
    """Decoded detections, normalised to the model input (0..1)."""

    boxes: np.ndarray  # (n, 4) xmin, ymin, xmax, ymax
    keypoints: np.ndarray  # (n, 7, 2) x, y
    scores: np.ndarray  # (n,) after the sigmoid

    def __len__(self) -> int:
        return int(self.scores.shape[0])


def ssd_anchors(opts: PalmDetectorOptions = PalmDetectorOptions()) -> np.ndarray:
    """(N, 2) anchor centres, in MediaPipe's order (layers of one stride share a grid).

    With ``fixed_anchor_size`` every anchor is 1 x 1, so only the centres matter.
    """
    centres = []
    layer = 0
    while layer < opts.num_layers:
        same = layer
        while same < len(opts.strides) and opts.strides[same] == opts.strides[layer]:
            same += 1
        per_cell = (same - layer) * opts.anchors_per_layer
        side = int(np.ceil(opts.input_size / opts.strides[layer]))
        ys, xs = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
        xy = np.stack([(xs + opts.anchor_offset) / side, (ys + opts.anchor_offset) / side], axis=-1).reshape(-1, 2)
        centres.append(np.repeat(xy, per_cell, axis=0))
        layer = same
    return np.concatenate(centres).astype(np.float32)


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray,
           opts: PalmDetectorOptions = PalmDetectorOptions()) -> PalmDetections:
    """One image's model outputs -> detections above ``min_score``.

    ``raw_boxes`` (N, 18): x, y, w, h, then 7 keypoints (x, y), in input
    pixels relative to the anchor (``reverse_output_order``); ``raw_scores`` (N,) logits.
    """
    logits = np.clip(raw_scores.astype(np.float32), -opts.score_clipping, opts.score_clipping)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = np.nonzero(scores >= opts.min_score)[0]
    s = float(opts.input_size)
    r = raw_boxes[keep].astype(np.float32)
    a = anchors[keep]
    cx = r[:, 0] / s + a[:, 0]
    cy = r[:, 1] / s + a[:, 1]
    w = r[:, 2] / s
    h = r[:, 3] / s
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kp = r[:, 4 : 4 + 2 * opts.num_keypoints].reshape(-1, opts.num_keypoints, 2) / s + a[:, None, :]
    return PalmDetections(boxes, kp, scores[keep])


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (4,) box against (n, 4) boxes (xmin, ymin, xmax, ymax); 0 where they do not intersect."""
    ix0 = np.maximum(box[0], boxes[:, 0])
    iy0 = np.maximum(box[1], boxes[:, 1])
    ix1 = np.minimum(box[2], boxes[:, 2])
    iy1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where((inter > 0) & (union > 0), inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(dets: PalmDetections, iou_threshold: float = 0.3) -> PalmDetections:
    """MediaPipe's WEIGHTED non-max suppression: each cluster becomes its score-weighted mean.

    The best remaining detection collects every detection overlapping it by
    more than ``iou_threshold`` (itself included); box and keypoints are the
    score-weighted averages, the score stays the best one's.
    """
    if len(dets) == 0:
        return dets
    order = np.argsort(-dets.scores, kind="stable")
    boxes, kps, scores = dets.boxes[order], dets.keypoints[order], dets.scores[order]
    remaining = np.arange(len(scores))
    out_b, out_k, out_s = [], [], []
    while remaining.size:
        top = remaining[0]
        sim = iou(boxes[top], boxes[remaining])
        cand = remaining[sim > iou_threshold]
        if cand.size == 0:  # a zero-area box overlaps nothing, not even itself: kept as it is, and MediaPipe stops
            out_b.append(boxes[top]), out_k.append(kps[top]), out_s.append(scores[top])
            break
        w = scores[cand][:, None]
        total = float(w.sum())
        out_b.append((boxes[cand] * w).sum(0) / total)
        out_k.append((kps[cand] * w[:, :, None]).sum(0) / total)
        out_s.append(scores[top])
        remaining = remaining[sim <= iou_threshold]
    return PalmDetections(np.array(out_b, np.float32), np.array(out_k, np.float32), np.array(out_s, np.float32))
