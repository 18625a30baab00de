"""The texture refiner's re-references continue the refined trace (vision.hand_motion).

A synthetic hand: a textured patch (smoothed noise, real OpenCV corners and Lucas-Kanade) moving up and
down on a plain background, with 21 "landmarks" riding on it. MediaPipe's point is the true point plus a
bias that JUMPS when the hand's look changes, as measured on the rendered clips when a worn tag is covered
(10-12 px in one frame): here a high-contrast tag on the palm vanishes mid-stroke and the bias jumps 12 px.
The refined point must follow the true motion through it, without the jump.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from vision.hand_motion import HandMotionOptions, HandMotionRefiner, TranslationField

H, W = 480, 640
PATCH = 200  # px, the hand patch's side


def _texture(seed: int, blur_px: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = cv2.GaussianBlur(rng.normal(0, 1, (PATCH, PATCH)).astype(np.float32), (0, 0), blur_px)
    return np.clip(128 + 60 * n / n.std(), 0, 255).astype(np.uint8)


def _landmarks(top_left: np.ndarray) -> np.ndarray:
    """21 points on the patch: wrist at the bottom, knuckles across the middle, fingers above."""
    pts = [(100, 190), (60, 170), (45, 140), (35, 110), (30, 85)]  # wrist, thumb
    for x in (70, 100, 130, 160):
        pts += [(x, 100), (x, 70), (x, 45), (x, 20)]  # MCP .. tip
    return (np.array(pts, float) + top_left)[None]  # (1, 21, 2)


def _frame(tex: np.ndarray, y: float, tag: bool) -> np.ndarray:
    img = np.full((H, W), 90, np.uint8)
    patch = tex.copy()
    if tag:  # a printed tag over the palm: black square with a white inner pattern (strong corners)
        patch[115:165, 75:125] = 0
        patch[125:138, 85:115] = 255
        patch[145:157, 97:115] = 255
    m = np.array([[1.0, 0.0, 220.0], [0.0, 1.0, y]])  # sub-pixel placement
    warped = cv2.warpAffine(patch, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    mask = cv2.warpAffine(np.full((PATCH, PATCH), 255, np.uint8), m, (W, H), flags=cv2.INTER_NEAREST)
    img[mask > 0] = warped[mask > 0]
    return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tag_covered_mid_stroke_no_jump(seed):
    tex = _texture(seed)
    rng = np.random.default_rng(seed + 10)
    # this smoothed-noise texture fits a bridge at 0.57-0.66 of its features (the rendered hands at 0.75-0.84,
    # the gate is 0.7 against motion blur): the mechanism is what is tested here (without the unguided retry, which
    # finds the texture's own features again here, so no bridge is needed: test_mediapipe_jump_while_the_hands_move)
    ref = HandMotionRefiner(HandMotionOptions(bridge_inlier_frac=0.5, retry_unguided=False))
    fps, n = 30.0, 120
    lost_at = 75  # the tag vanishes here, during a stroke (the patch moves ~8 px per frame there)
    errs = []
    for i in range(n):
        t = i / fps
        y = 120.0 + (0.0 if t < 1.0 else 30.0 * (1 - math.cos(2 * math.pi * 1.8 * (t - 1.0))))  # rest, then strokes
        tag = i < lost_at
        tl = np.array([220.0, y])
        true_pt = tl + (100.0, 150.0)
        bias = np.array([0.0, 0.0 if tag else 12.0])  # MediaPipe's look-dependent bias jumps with the look
        mp = true_pt + bias + rng.normal(0, 0.7, 2)
        r = ref.update(_frame(tex, y, tag), int(round(1000 * t)), mp, _landmarks(tl), 100.0)
        assert r is not None
        errs.append(r.xy_px - true_pt)
    errs = np.array(errs)
    settled = errs[40:]  # after the rest hold's first reference
    e = settled - settled[0]
    assert np.max(np.abs(np.diff(e[:, 1]))) < 1.0, "the refined trace stepped"
    assert np.max(np.abs(e)) < 1.5  # it follows the true motion through the lost texture, not MediaPipe's jump
    assert ref.stats["bridged"] >= 1  # the lost texture was bridged, not restarted from MediaPipe's point


@pytest.mark.parametrize("seed", [1, 2])
def test_mediapipe_jump_while_the_hands_move(seed):
    """MediaPipe's point jumps 18 px across and stays level for six frames of a downstroke (the other hand of a stack
    seen from 600 mm, session 31) while the hands go down ~40 px: started from MediaPipe's move, no feature was found,
    the point fell back to MediaPipe's and the bottom read 16 mm shallow. The features are now looked for again from
    where the last frame put them: every frame refined, the error under 1.5 px (off: over 5 px)."""
    errs = {}
    for retry in (True, False):
        tex = _texture(seed)
        rng = np.random.default_rng(seed + 30)
        ref = HandMotionRefiner(HandMotionOptions(retry_unguided=retry))
        fps, out = 30.0, []
        frozen = None
        for i in range(90):
            t = i / fps
            y = 120.0 + (0.0 if t < 1.0 else 30.0 * (1 - math.cos(2 * math.pi * 1.8 * (t - 1.0))))
            tl = np.array([220.0, y])
            true_pt = tl + (100.0, 150.0)
            mp = true_pt + rng.normal(0, 0.7, 2)
            if 62 <= i < 68:  # (the downstroke of the third stroke)
                frozen = mp if frozen is None else frozen
                mp = frozen + (-18.0, 0.0)
            r = ref.update(_frame(tex, y, False), int(round(1000 * t)), mp, _landmarks(tl), 100.0)
            out.append((r.xy_px - true_pt, r.refined))
        e = np.array([o[0] for o in out[40:]])
        errs[retry] = (float(np.max(np.abs(e - e[0]))), all(o[1] for o in out[40:]), ref.stats["unguided"])
    assert errs[True][0] < 1.5 and errs[True][1] and errs[True][2] >= 1, errs
    assert errs[False][0] > 5.0, errs  # (the test sees the jump without the retry)


def _return_after_gap(seed: int, bias_jump_px: float = 0.0, palm_px: float = 100.0, blur_px: float = 2.0,
                      options: HandMotionOptions | None = None, restated: list | None = None):
    """Rest 2 s, strokes 1 s, hands gone 1 s (the breaths), back down onto the chest in 0.4 s, rest 1.6 s.
    MediaPipe's bias settles from 0 to 8 px over the first half second of the rest (the anchor of the first
    reference is taken before it has) and is the same 8 px when the hands land again: the same hands, the same
    place, the same look (``bias_jump_px``: another look, the bias that much larger after the gap). Returns
    (vertical error of each returned point against the refined trace's rest level, px (NaN: no hands), whether it
    was refined, the refiner); ``restated`` collects each ``RefinedPoint.restated`` with the vertical error each
    restated frame's point would then have (same reference)."""
    tex = _texture(seed, blur_px)
    rng = np.random.default_rng(seed + 20)
    ref = HandMotionRefiner(options)
    fps, y0 = 30.0, 120.0
    err, refined = [], []
    out_at: dict[int, float] = {}  # t_ms -> vertical error of the returned point (px)
    for i in range(180):
        t = i / fps
        if t < 2.0:
            y, bias = y0, 8.0 * min(t / 0.5, 1.0)
        elif t < 3.0:
            y, bias = y0 + 30.0 * (1 - math.cos(2 * math.pi * 1.8 * (t - 2.0))) / 2, 8.0
        elif t < 4.0:
            y, bias = math.nan, 8.0
        else:
            y, bias = y0 - 90.0 * (1.0 - min((t - 4.0) / 0.4, 1.0)) ** 2, 8.0 + bias_jump_px  # in fast, slowing to land
        t_ms = int(round(1000 * t))
        if math.isnan(y):
            assert ref.update(np.full((H, W, 3), 90, np.uint8), t_ms, None, None, palm_px) is None
            err.append(math.nan)
            refined.append(False)
            continue
        tl = np.array([220.0, y])
        true_pt = tl + (100.0, 150.0)
        mp = true_pt + (0.0, bias) + rng.normal(0, 0.5, 2)
        r = ref.update(_frame(tex, y, False), t_ms, mp, _landmarks(tl), palm_px)
        assert r is not None
        err.append(r.xy_px[1] - true_pt[1])
        out_at[t_ms] = err[-1]
        refined.append(r.refined)
        if r.restated is not None and restated is not None:
            shifts = np.broadcast_to(r.restated[1], (len(r.restated[0]), 2))  # (one shift, or one per frame)
            restated.append((r.restated, [out_at[k] + d[1] for k, d in zip(r.restated[0], shifts)]))
    err = np.array(err)
    level = np.median(err[45:60])
    if restated is not None:
        restated[:] = [(rs, np.array(e) - level) for rs, e in restated]
    return err - level, np.array(refined), ref


@pytest.mark.parametrize("seed", [1, 2])
def test_hands_back_after_the_breaths_land_on_the_rest_level(seed):
    """Back after a gap, the refiner waits for the hands to be still before it matches the old texture; until then
    MediaPipe's point stands in, carried by the offset the refined point had to it while the hands rested (not a
    bare point: on the rendered stacks at 640x480 that read 15 mm low between landing and stillness, and the step
    back up when the texture matched counted as a compression)."""
    e, refined, ref = _return_after_gap(seed)
    landing = np.flatnonzero(~refined[120:140]) + 120  # back down onto the chest, not yet still: MediaPipe's point
    assert landing.size >= 8 and landing[0] == 120  # stands in
    assert np.max(np.abs(e[landing])) < 2.0, e[landing]  # a bare point: 6-8 px off
    after = e[120:]
    assert np.max(np.abs(np.diff(after))) < 2.0, after  # no step when the old texture is matched again
    assert refined[-30:].all() and np.max(np.abs(e[-30:])) < 0.5  # ... and the same rest level as before
    assert ref.stats["references"] == 1  # the old reference, found again


@pytest.mark.parametrize("seed", [1, 2])
def test_hands_back_with_another_look_are_found_on_their_old_texture(seed):
    """The same, but MediaPipe sees the hands otherwise after the gap: its point 20 px (0.4 palm) lower than while
    they rested. Rendered, blurred stacks at 640x480 (seed 11, real-stroke-like asymmetric waveform) did this: 15 px,
    while the old texture was found where the hands had rested. The refined point was held to 0.35 palm of
    MediaPipe's, so the old texture was refused, a new reference was taken on the biased point, and the set read
    17 mm shallow. Now, while the old texture is looked for again, it may lie 0.6 palm away: the hands are back on
    their rest level, and the frames MediaPipe's point stood in for meanwhile are restated by the offset found."""
    kw = dict(bias_jump_px=20.0, palm_px=50.0, blur_px=6.0)  # coarse texture: Lucas-Kanade converges from 20 px
    rs: list = []
    e, refined, ref = _return_after_gap(seed, restated=rs, **kw)
    assert refined[-30:].all() and np.max(np.abs(e[-30:])) < 0.5  # the old rest level (measured 0.00)
    rs = [r for r in rs if r[0][0][0] >= 4000]  # (not the first frames', tracked back before the bias settled)
    assert len(rs) == 1
    (t_ms, shift), restated_err = rs[0]
    # the landing's stand-ins, 20 px off (and MediaPipe's jitter), each tracked back against the texture found
    assert len(t_ms) >= 8 and abs(float(np.median(np.asarray(shift)[:, 1])) + 20.0) < 1.0
    # restated: on the true point (0.00 px; by one shift for them all, this frame's, they were within 1.0-1.2 px)
    assert np.max(np.abs(restated_err)) < 0.5
    # held to 0.35 palm (the old gate): the old texture refused, the rest of the set 20 px off
    e_old, _, _ = _return_after_gap(seed, options=HandMotionOptions(return_deviation_palm=0.35), **kw)
    assert np.min(np.abs(e_old[-30:])) > 15.0


def _straight_in(seed: int, options: HandMotionOptions | None = None):
    """Hands compressing from the first frame (a rescuer straight in: never still before the first stroke's bottom),
    MediaPipe's point one frame late (it lags in motion). Returns the vertical error of each returned point against the
    trace's later level (px), with
    each frame restated where a ``RefinedPoint.restated`` says, and how many frames were restated."""
    tex = _texture(seed)
    rng = np.random.default_rng(seed + 40)
    ref = HandMotionRefiner(options)
    fps, y0 = 30.0, 120.0
    err: dict[int, float] = {}
    n_restated = 0
    def y_at(t: float) -> float:
        return y0 + 30.0 * (1 - math.cos(2 * math.pi * 1.8 * (t + 0.1))) / 2  # (frame 0 already on the way down)

    for i in range(60):
        t = i / fps
        y = y_at(t)
        tl = np.array([220.0, y])
        true_pt = tl + (100.0, 150.0)
        mp = true_pt + (0.0, y_at(t - 1 / fps) - y) + rng.normal(0, 0.3, 2)
        t_ms = int(round(1000 * t))
        r = ref.update(_frame(tex, y, False), t_ms, mp, _landmarks(tl), 100.0)
        assert r is not None
        err[t_ms] = r.xy_px[1] - true_pt[1]
        if r.restated is not None:
            ts, shift = r.restated
            shifts = np.broadcast_to(shift, (len(ts), 2))
            for k, d in zip(ts, shifts):
                err[k] += d[1]
            n_restated += len(ts)
    e = np.array(list(err.values()))
    return e - np.median(e[30:]), n_restated  # (against the trace's own level: the anchor is MediaPipe's at the bottom)


@pytest.mark.parametrize("seed", [1, 2])
def test_hands_moving_from_the_first_frame_are_tracked_back_once_a_reference_is_taken(seed):
    """Straight in, no reference can be taken before the first still frame (the first stroke's bottom), and MediaPipe's
    point stands in meanwhile, a frame late. Rendered stacks on the side view (seed 12, real strokes) read that first
    downstroke up to 9 mm high, and the short first stroke let two leaning tops into the core's baseline. Now those
    frames are tracked back against the first reference and restated, each by its own shift."""
    e, n = _straight_in(seed)
    assert n >= 5  # the first stroke's frames before its bottom (6)
    assert np.max(np.abs(e)) < 0.3, e  # every frame on the texture's motion (measured: 0.01 px)
    e_old, n_old = _straight_in(seed, HandMotionOptions(unreferenced_frames=0))
    assert n_old == 0 and np.max(np.abs(e_old)) > 2.5  # without: the lag stays in the first downstroke (3.2, 4.1 px)


def _poor_frame(rng: np.random.Generator, draw, y_at, t: float, fps: float) -> np.ndarray:
    """The frame at ``t`` as a poor webcam makes it: half a frame of motion blur (``draw(y)``: a float image of the
    hands at y), flicker, sensor noise, JPEG."""
    img = np.mean([draw(y_at(t + dt)) for dt in np.linspace(-0.25 / fps, 0.25 / fps, 5)], axis=0)
    img = img * (1.0 + 0.08 * rng.uniform(-1, 1))
    img = np.clip(img + rng.normal(0, 4.0, img.shape[:2])[..., None], 0, 255).astype(np.uint8)
    return cv2.imdecode(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 60])[1], cv2.IMREAD_COLOR)


def _degraded_run(seed: int, return_to_key: bool, contrast: float = 0.2, match_gain: bool = False,
                  key_check: bool | None = None) -> tuple[np.ndarray, dict]:
    """10 s: a second at rest, then strokes at 108/min, in frames as a poor webcam makes them: faint texture,
    half a frame of motion blur, flicker, sensor noise, JPEG. Returns the refined point's vertical error at the
    tops of the last 4 s of strokes (px, against the rest frame's) and the refiner's stats."""
    rng = np.random.default_rng(seed + 10)
    tex = np.clip(128 + contrast * (_texture(seed).astype(np.float32) - 128), 0, 255).astype(np.uint8)
    key_check = return_to_key if key_check is None else key_check  # (False, False: a plain chain)
    ref = HandMotionRefiner(HandMotionOptions(return_to_key=return_to_key, match_gain=match_gain, key_check=key_check))
    fps, n = 30.0, 300

    def y_at(t: float) -> float:
        return 120.0 + (0.0 if t < 1.0 else 30.0 * (1 - math.cos(2 * math.pi * 1.8 * (t - 1.0))))

    err = np.zeros(n)
    for i in range(n):
        t = i / fps
        y = y_at(t)
        img = _poor_frame(rng, lambda yy: _frame(tex, yy, False).astype(np.float32), y_at, t, fps)
        tl = np.array([220.0, y])
        true_pt = tl + (100.0, 150.0)
        r = ref.update(img, int(round(1000 * t)), true_pt + rng.normal(0, 0.7, 2), _landmarks(tl), 100.0)
        assert r is not None
        err[i] = r.xy_px[1] - true_pt[1]
    ts = np.arange(n) / fps
    tops = (ts > ts[-1] - 4.0) & (np.cos(2 * math.pi * 1.8 * (ts - 1.0)) > 0.95)
    return err[tops] - err[30], dict(ref.stats)


def test_renewals_return_to_the_rest_reference():
    """Poor frames thin the inliers, so the refiner renews its reference often, each renewal carrying one frame's
    error for good (a random walk in the level). Returning to the reference the hands rested on, whenever a
    renewal is due and that texture matches, keeps the level: with it the tops of the strokes stay within 1 px of
    the rest frame's level; a plain chain of renewals (the comparison) walks off by 2-3 px in the same frames.
    Most of these renewals are the flicker's (Lucas-Kanade's brightness bias): run with the brightness matched, the
    same frames keep their first reference and the tops stay within 0.1 px (measured 0.02-0.10)."""
    worst_key, worst_chain, worst_matched = [], [], []
    for seed in (1, 2, 3):
        tops, stats = _degraded_run(seed, True)  # flicker not matched: the renewals this test is about
        assert stats["returns"] > 0 and stats["references"] > 1, stats
        worst_key.append(float(np.max(np.abs(tops))))
        tops, _ = _degraded_run(seed, False)
        worst_chain.append(float(np.max(np.abs(tops))))
        tops, stats = _degraded_run(seed, True, match_gain=True)
        assert stats["references"] <= 2 and stats["gain_matched"] > 100, stats
        worst_matched.append(float(np.max(np.abs(tops))))
    assert max(worst_key) < 1.0, worst_key
    assert max(worst_chain) > 1.5, worst_chain  # the frames are hard enough that returning matters
    assert max(worst_matched) < 0.2, worst_matched


def test_a_chain_that_still_fits_is_pulled_to_the_rest_level_at_the_tops():
    """A return to the key happens only when a renewal is due; a chain whose last reference still fits kept its
    error through every top (the rendered blurred stacks at 640x480: the level 1-3 mm off for whole sets, and off by
    1.3 mm after the first stroke on the clean stacks). At the tops (the hands near where they rested, slow) the
    frame is also measured against the key, and the level is pulled to it by a gain that weighs the renewals since
    against one check's error. With no returns at all (only the checks) the tops' level (their median) stays within
    0.3 px (measured 0.07-0.21), where the plain chain's walks off by 1.4-2.5 px in the same frames. (A single top
    frame can still be off, e.g. one where MediaPipe's point stands in: seed 2 has one at 2.7 px.)"""
    for seed in (1, 2, 3):
        tops, stats = _degraded_run(seed, False, key_check=True)
        assert stats["returns"] == 0 and stats["key_checks"] > 20 and stats["references"] > 5, stats
        chain, _ = _degraded_run(seed, False, key_check=False)
        assert float(np.median(np.abs(tops))) < 0.3, (seed, tops)
        assert float(np.median(np.abs(chain))) > 1.0, (seed, chain)  # the frames are hard enough for it to matter



def _straight_in_look_changes(seed: int, key_first_after_ms: int, fixed_camera: bool = True) -> tuple[np.ndarray, dict]:
    """10 s of strokes at 108/min from the first frame (no rest at all), in poor frames (faint texture, blur, flicker,
    noise, JPEG) where the hands' look changes with depth (at the bottom 70 % of another texture: a stack seen from
    600 mm changes its look each stroke), so every downstroke renews the reference. Returns the refined point's
    vertical error at the tops of the last 4 s (px, against the first second's tops) and the refiner's stats."""
    rng = np.random.default_rng(seed + 10)
    faint = [np.clip(128 + 0.2 * (_texture(s).astype(np.float32) - 128), 0, 255) for s in (seed, seed + 100)]
    ref = HandMotionRefiner(HandMotionOptions(key_first_after_ms=key_first_after_ms))
    if fixed_camera:  # a calibrated fixed camera has a field (here: image-vertical motion); a moving one has none
        ref.field = TranslationField(900.0, 900.0, 320.0, 240.0, (0.0, 1.0, 0.0))
    fps, n = 30.0, 300

    def y_at(t: float) -> float:
        return 120.0 + 30.0 * (1 - math.cos(2 * math.pi * 1.8 * t))

    def frame(y: float) -> np.ndarray:
        w = 0.7 * (y - 120.0) / 60.0
        return _frame(((1 - w) * faint[0] + w * faint[1]).astype(np.uint8), y, False).astype(np.float32)

    err = np.zeros(n)
    for i in range(n):
        t = i / fps
        img = _poor_frame(rng, frame, y_at, t, fps)
        tl = np.array([220.0, y_at(t)])
        true_pt = tl + (100.0, 150.0)
        r = ref.update(img, int(round(1000 * t)), true_pt + rng.normal(0, 0.7, 2), _landmarks(tl), 100.0)
        assert r is not None
        err[i] = r.xy_px[1] - true_pt[1]
    ts = np.arange(n) / fps
    top = np.cos(2 * math.pi * 1.8 * ts) > 0.95
    return err[top & (ts > ts[-1] - 4.0)] - np.median(err[top & (ts < 1.2)]), dict(ref.stats)


def test_with_no_rest_the_first_reference_becomes_the_key():
    """Straight in, no rest ever makes a key, so a chain of renewals had nothing to return to (a stack filmed from
    600 mm, straight in: 106 re-anchorings, the last set 9-15 mm deep). On a fixed camera the first reference (taken
    at the first still frame) becomes the key 3 s later: the chain returns to it and the tops are checked against it.
    Measured, the tops' level (median |error|) at seeds 1-3: 0.26 / 0.64 / 0.21 px with the key, 0.57 / 2.19 / 1.27
    with none (seeds 4-6: 0.39 / 0.17 / 0.35 against 0.79 / 0.28 / 0.53). A moving camera (no field) keeps the chain:
    its key would have been seen from elsewhere."""
    keyed, chained = [], []
    for seed in (1, 2, 3):
        tops, stats = _straight_in_look_changes(seed, 3000)
        assert stats["returns"] > 5 and stats["references"] > 10, stats  # the look changes enough to renew each stroke
        keyed.append(float(np.median(np.abs(tops))))
        tops, stats = _straight_in_look_changes(seed, -1)
        assert stats["returns"] == 0 and stats["key_checks"] == 0, stats
        chained.append(float(np.median(np.abs(tops))))
    assert all(k < c for k, c in zip(keyed, chained)), (keyed, chained)
    assert np.mean(keyed) < 0.5 and np.mean(chained) > 2.5 * np.mean(keyed), (keyed, chained)
    _, stats = _straight_in_look_changes(1, 3000, fixed_camera=False)
    assert stats["returns"] == 0 and stats["key_checks"] == 0, stats

# ------------------------------------------------------------------ the chest's own motion field, and flicker
def _pinhole(p_cam: np.ndarray, f: float = 900.0, c=(640.0, 360.0)) -> np.ndarray:
    return np.column_stack([f * p_cam[:, 0] / p_cam[:, 2] + c[0], f * p_cam[:, 1] / p_cam[:, 2] + c[1]])


@pytest.mark.parametrize("elev_deg", [20.0, 45.0])
def test_the_field_carries_the_point_as_a_point_at_the_features_depth(elev_deg):
    """Features on two planes (a stack's top hand and the bottom hand's fingers 24 mm lower), a slanted view, a
    50 mm push along the chest normal: the point is carried exactly as a point at the features' harmonic-mean depth
    on its own ray moves. The shift-and-scale fit, the comparison, misses that by much more (its one scale takes
    only part of the depth gradient and extrapolates it to the point at the hull's edge)."""
    from vision.hand_motion import TranslationField, _Fit

    e = math.radians(elev_deg)
    up = np.array([0.0, -math.cos(e), -math.sin(e)])  # the chest normal in the camera (x right, y down, z forward)
    rng = np.random.default_rng(3)
    # 60 features over a 120 x 90 mm hand 900 mm away, a third of them 24 mm lower (along the normal)
    u = np.cross(up, [1.0, 0.0, 0.0])
    u /= np.linalg.norm(u)
    base = np.array([0.0, 0.0, 900.0]) + rng.uniform(-60, 60, (60, 1)) * np.array([1.0, 0.0, 0.0]) \
        + rng.uniform(-45, 45, (60, 1)) * u
    base[:20] -= 24.0 * up
    anchor3d = np.array([0.0, 0.0, 900.0]) + 70.0 * u  # the tracked point, at the hull's edge
    push = -50.0 * up
    src, dst = _pinhole(base), _pinhole(base + push)
    field = TranslationField(900.0, 900.0, 640.0, 360.0, tuple(up))
    ref = HandMotionRefiner()
    ref.field = field
    a_px = _pinhole(anchor3d[None])[0]
    moved, _ = ref._carry(_Fit(np.eye(2, 3), 60, src, dst), a_px, 1.0)
    # the point on the anchor's ray at the features' (harmonic-mean, after the push) depth, pushed the same 50 mm
    depth = 1.0 / np.mean(1.0 / (base[:, 2] + push[2])) - push[2]
    expect = _pinhole((anchor3d / anchor3d[2] * depth + push)[None])[0]
    assert np.linalg.norm(moved - expect) < 1e-3  # px: exact
    # the comparison: shift and scale, as without a calibration
    ref.field = None
    fit = ref._fit(src.astype(np.float32), dst.astype(np.float32), 60, 0.3, 1.0)
    iso, _ = ref._carry(fit, a_px, 1.0)
    assert np.linalg.norm(iso - expect) > 5 * np.linalg.norm(moved - expect)


@pytest.mark.parametrize("elev_deg,tilt_deg", [(20.0, 0.0), (45.0, 0.0), (30.0, 35.0)])
def test_any_corners_on_the_hand_carry_the_motion_at_the_depth_points_scale(elev_deg, tilt_deg):
    """Two references' corners from different parts of one hand (its back a plane, parallel to the chest or turned
    toward the camera, 150 mm long), a 50 mm push along the chest normal: scaled to the depth point's depth on the
    field's plane, both carry the point exactly as a point at the depth point's depth moves, and the depth point as
    itself. Their plain mean depths differ by several %: without the scaling the two carries differ by that much of
    the motion (each renewal's own scale), and a turned hand scaled as if parallel to the chest is off too."""
    from vision.hand_motion import TranslationField, _Fit

    e = math.radians(elev_deg)
    up = np.array([0.0, -math.cos(e), -math.sin(e)])  # the chest normal (camera frame)
    t = math.radians(tilt_deg)
    v = np.cross(up, [1.0, 0.0, 0.0])
    v /= np.linalg.norm(v)  # along the chest, toward the camera's far side
    normal = math.cos(t) * up - math.sin(t) * v  # the hand's back turned toward the camera by tilt_deg
    u = np.cross(normal, [1.0, 0.0, 0.0])
    u /= np.linalg.norm(u)
    rng = np.random.default_rng(5)
    base = np.array([0.0, 0.0, 900.0]) + rng.uniform(-50, 50, (80, 1)) * np.array([1.0, 0.0, 0.0]) \
        + rng.uniform(-75, 75, (80, 1)) * u
    near = base[:, 2] < 900.0
    depth3d = np.array([0.0, 0.0, 900.0]) + 10.0 * u  # the depth point (the first reference's centroid), on the plane
    anchor3d = np.array([0.0, 0.0, 900.0]) + 70.0 * u  # the tracked point
    push = -50.0 * up
    d_px, a_px = _pinhole(depth3d[None])[0], _pinhole(anchor3d[None])[0]
    # the anchor moves as a point at the depth point's depth on its own ray; the depth point as itself
    expect = _pinhole((anchor3d / anchor3d[2] * depth3d[2] + push)[None])[0]
    expect_d = _pinhole((depth3d + push)[None])[0]
    motion = np.linalg.norm(expect - a_px)
    out = {}
    for plane in (tuple(normal), tuple(up), None):
        ref = HandMotionRefiner()
        ref.field = TranslationField(900.0, 900.0, 640.0, 360.0, tuple(up), plane_normal=plane)
        for part in (near, ~near):
            src, dst = _pinhole(base[part]), _pinhole(base[part] + push)
            out[plane, bool(part[0] == near[0])] = ref._carry(_Fit(np.eye(2, 3), int(part.sum()), src, dst), a_px, 1.0,
                                                              d_px)
    for which in (True, False):
        q, q0 = out[tuple(normal), which]
        assert np.linalg.norm(q - expect) < 1e-6 and np.linalg.norm(q0 - expect_d) < 1e-6
    spread = np.linalg.norm(out[None, True][0] - out[None, False][0])
    assert spread > 0.03 * motion  # the plain means: one scale per reference
    if tilt_deg:  # the chest's plane for a turned hand: each part off by much of that
        assert max(np.linalg.norm(out[tuple(up), w][0] - expect) for w in (True, False)) > 0.01 * motion


def _rotation(rx_deg: float, ry_deg: float, rz_deg: float) -> np.ndarray:
    return cv2.Rodrigues(np.radians([rx_deg, ry_deg, rz_deg]))[0]


class _Headset:
    """A headset's two frames of a stack's back (a plane parallel to the chest, 150 mm long): between the reference
    frame and this one the camera moved 30 mm and turned 1 deg while the back was pushed 50 mm along the chest normal.
    Exact pinhole pixels of both frames, and the two views' homography for any plane parallel to the back (the
    caller's ``warp``, from the poses)."""

    k = np.array([[900.0, 0.0, 640.0], [0.0, 900.0, 360.0], [0.0, 0.0, 1.0]])

    def __init__(self, elev_deg: float) -> None:
        e = math.radians(elev_deg)
        self.up = np.array([0.0, -math.cos(e), -math.sin(e)])  # the chest normal in the reference camera's frame
        u = np.cross(self.up, [1.0, 0.0, 0.0])
        self.u = u / np.linalg.norm(u)
        rng = np.random.default_rng(7)
        self.p0 = np.array([0.0, 0.0, 900.0])
        self.base = self.p0 + rng.uniform(-50, 50, (80, 1)) * _E1 + rng.uniform(-75, 75, (80, 1)) * self.u  # the back
        self.anchor3d, self.depth3d = self.p0 + 70.0 * self.u, self.p0 + 10.0 * self.u
        self.push = -50.0 * self.up
        self.r_b, self.t_b = _rotation(0.6, -0.8, 0.3), np.array([18.0, -10.0, 22.0])  # this camera: x_b = r_b x_a + t_b
        self.src, self.dst = self.seen(self.base, False), self.seen(self.base + self.push, True)

    def seen(self, x: np.ndarray, now: bool) -> np.ndarray:
        x = np.atleast_2d(x)
        return _pinhole(x @ self.r_b.T + self.t_b) if now else _pinhole(x)

    def homography(self, through: np.ndarray) -> np.ndarray:
        """Reference px -> this frame's px of the points of the plane through ``through`` parallel to the back."""
        def img_from_plane(r: np.ndarray, t: np.ndarray) -> np.ndarray:
            return self.k @ np.column_stack([r @ _E1, r @ self.u, r @ through + t])

        return img_from_plane(self.r_b, self.t_b) @ np.linalg.inv(img_from_plane(np.eye(3), np.zeros(3)))

    def pushed_at_depth_point(self, p: np.ndarray) -> np.ndarray:
        """Where the field carries the point ``p`` (reference camera's frame): as a point at the depth point's depth on
        p's ray in this camera, pushed."""
        a_b, d_b = self.r_b @ p + self.t_b, self.r_b @ self.depth3d + self.t_b
        return _pinhole((a_b / a_b[2] * d_b[2] + self.r_b @ self.push)[None])[0]

    def refiner(self) -> HandMotionRefiner:
        from vision.hand_motion import TranslationField

        up_b = self.r_b @ self.up
        ref = HandMotionRefiner()
        ref.field = TranslationField(900.0, 900.0, 640.0, 360.0, tuple(up_b), plane_normal=tuple(up_b))
        return ref


_E1 = np.array([1.0, 0.0, 0.0])


@pytest.mark.parametrize("elev_deg", [20.0, 45.0])
def test_a_moving_cameras_own_motion_is_taken_out_before_the_field(elev_deg):
    """A headset (:class:`_Headset`). Carried into this frame through the hands' plane (the two views' homography),
    the rest of the features' motion is the hands' own, and this frame's field carries the point exactly. Without the
    views the field reads the camera's move as depth (5-13 % of the motion); the shift and scale (the moving camera's
    carry before) misses it by 5-7 %."""
    from vision.hand_motion import _Fit

    h = _Headset(elev_deg)
    a_px, d_px = h.seen(h.anchor3d, False)[0], h.seen(h.depth3d, False)[0]
    expect = h.pushed_at_depth_point(h.anchor3d)
    motion = float(np.linalg.norm(expect - a_px))
    ref = h.refiner()
    ref.warp = lambda a, b: (h.homography(h.p0),) * 2  # (the caller's views: any tokens; "ref" -> "now")
    fit = _Fit(np.eye(2, 3), len(h.base), h.src, h.dst)
    q, q0 = ref._carry(fit, a_px, 1.0, d_px, "ref", "now")
    assert np.linalg.norm(q - expect) < 1e-6  # px: exact
    assert np.linalg.norm(q0 - h.seen(h.depth3d + h.push, True)[0]) < 1e-6
    naive, _ = ref._carry(fit, a_px, 1.0, d_px)  # the field with no views: the camera's move read as the hands'
    assert np.linalg.norm(naive - expect) > 0.04 * motion  # (measured 5.5 and 13 %)
    ref.field = None
    fit = ref._fit(h.src.astype(np.float32), h.dst.astype(np.float32), len(h.base), 0.3, 1.0)
    iso, _ = ref._carry(fit, a_px, 1.0)
    assert np.linalg.norm(iso - expect) > 0.04 * motion  # (measured 5.4 and 7.4 %)


@pytest.mark.parametrize("elev_deg", [20.0, 45.0])
def test_a_point_off_the_features_plane_is_carried_on_its_own(elev_deg):
    """The tracked point is not on the features' surface: the geometry puts it on the tracked ray (a flat hand's heel)
    at the features' depth, 11 mm under a flat hand's back and above a stack's. Through the features' plane the
    camera's move carried it as the point of that plane on its ray, a point at another depth, and the parallax read as
    the hands' motion: a headset that goes down with each compression read a flat hand -1.2 mm and a stack +1.5 mm
    (docs/calibration.md, "A headset that goes down with the compressions"). With its own plane (``warp`` gives
    two homographies) it is carried exactly."""
    from vision.hand_motion import _Fit

    h = _Headset(elev_deg)
    # the point 11 mm under the back, on its own ray, at the depth point's depth in the reference camera
    ray = h.anchor3d - 11.0 * h.up
    point3d = ray / ray[2] * h.depth3d[2]
    a_px, d_px = h.seen(point3d, False)[0], h.seen(h.depth3d, False)[0]
    expect = h.pushed_at_depth_point(point3d)
    ref = h.refiner()
    fit = _Fit(np.eye(2, 3), len(h.base), h.src, h.dst)
    ref.warp = lambda a, b: (h.homography(h.p0), h.homography(point3d))
    q, q0 = ref._carry(fit, a_px, 1.0, d_px, "ref", "now")
    assert np.linalg.norm(q - expect) < 1e-6  # px: exact
    assert np.linalg.norm(q0 - h.seen(h.depth3d + h.push, True)[0]) < 1e-6  # (the depth point is the features')
    ref.warp = lambda a, b: (h.homography(h.p0),) * 2  # one plane for both: the features'
    one, _ = ref._carry(fit, a_px, 1.0, d_px, "ref", "now")
    assert np.linalg.norm(one - expect) > 0.3  # px (measured 0.54 and 0.67: 2-4 % of the motion)


def _flicker_run(seed: int, match_gain: bool) -> float:
    """5 s of strokes under mains flicker beating with the frame rate (8 %, a 3-frame period, plus a random part), on
    a hand lit from one side (its texture on a brightness ramp, so brightness and gradient go together, as on real
    hands and at their silhouettes): the refined point's worst vertical error against the true motion (px)."""
    rng = np.random.default_rng(seed + 20)
    ramp = 0.6 * (np.arange(PATCH, dtype=np.float32) - PATCH / 2)[:, None]
    tex = np.clip(0.6 * _texture(seed).astype(np.float32) + 100.0 + ramp, 0, 255).astype(np.uint8)
    ref = HandMotionRefiner(HandMotionOptions(match_gain=match_gain))
    fps, errs = 30.0, []
    for i in range(150):
        t = i / fps
        y = 120.0 + (0.0 if t < 1.0 else 30.0 * (1 - math.cos(2 * math.pi * 1.8 * (t - 1.0))))
        gain = 1.0 + 0.08 * (0.7 * math.sin(2 * math.pi * 10.0 * i / fps) + 0.3 * rng.uniform(-1, 1))
        img = cv2.convertScaleAbs(_frame(tex, y, False), alpha=gain)
        tl = np.array([220.0, y])
        true_pt = tl + (100.0, 150.0)
        r = ref.update(img, int(round(1000 * t)), true_pt + rng.normal(0, 0.7, 2), _landmarks(tl), 100.0)
        assert r is not None
        errs.append(r.xy_px[1] - true_pt[1])
    e = np.array(errs[35:]) - errs[35]
    return float(np.max(np.abs(e)))


def test_flicker_is_matched_before_lucas_kanade():
    """Lucas-Kanade assumes constant brightness; a flickering light breaks it with a bias. Matched to the reference's
    brightness first, the refined point follows the true motion (measured 0.02 px); the unmatched comparison strays
    0.12-0.14 px (on the rendered stacked hands at 640x480 that bias read the depth 4 % low)."""
    matched = [_flicker_run(s, True) for s in (1, 2)]
    plain = [_flicker_run(s, False) for s in (1, 2)]
    assert max(matched) < 0.05, matched
    assert min(plain) > 3 * max(matched), (matched, plain)
