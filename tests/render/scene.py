"""A small ray-casting renderer for a manikin on a floor, with printed markers.

Why ray casting per pixel (NumPy, float32): every surface here is analytic (a
floor plane, a rounded-box torso with a flat chest plate, an ellipsoid head,
flat paper markers), so each pixel's ray is intersected exactly and the image is
an exact perspective view of a known 3D scene. Nearest hit wins (a z-buffer over
the ray parameter). The hand is composited afterwards as a textured planar patch
(:mod:`tests.render.hand`), always in front: the chest gives way under it.

World = manikin frame (x toward the head, y to the manikin's right, z up, mm,
origin at the compression point on the chest plate).
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, fields

import cv2
import numpy as np

from .camera import RenderCamera

INF = np.float32(np.inf)

# Why memos: a test file renders many clips of the same few views, and each began with the same ray-cast background
# (about 2 s at 1280x720, supersampled) and the same textures (0.5 s): kept here, per process, a clip is the same to
# the bit (checked by md5 of the clips) and a rendered case about 5 s cheaper (session 37: CI had reached 24 min)
_TEXTURES: dict[tuple, tuple] = {}  # (seed, floor, floor colour) -> (floor texture, mm per texel, border, skin noise)
_LAYERS: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()  # the last few renders, read-only
_LAYERS_KEPT = 6


def read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _camera_key(cam: RenderCamera) -> tuple:
    return (cam.width, cam.height, cam.fx, cam.cx, cam.cy, np.asarray(cam.rotation, np.float64).tobytes(),
            np.asarray(cam.position, np.float64).tobytes())


def _remap_flat(tex: np.ndarray, mx: np.ndarray, my: np.ndarray, border: int) -> np.ndarray:
    """Bilinear texture lookups at scattered coordinates (cv2.remap wants a 2-D map < 32767 rows)."""
    n = mx.shape[0]
    cols = 1024
    rows = (n + cols - 1) // cols
    pad = rows * cols - n
    fx = np.concatenate([mx.astype(np.float32), np.zeros(pad, np.float32)]).reshape(rows, cols)
    fy = np.concatenate([my.astype(np.float32), np.zeros(pad, np.float32)]).reshape(rows, cols)
    out = cv2.remap(tex, fx, fy, cv2.INTER_LINEAR, borderMode=border)
    ch = 1 if out.ndim == 2 else out.shape[2]
    return out.reshape(rows * cols, ch)[:n]


@dataclass(frozen=True)
class PaperMarker:
    """A printed ArUco marker on white paper lying flat (normal +z) at ``center``.

    ``top_dir`` is the world direction (in the xy plane) of the marker's top edge.
    """

    dictionary: int  # cv2.aruco.DICT_* constant
    marker_id: int
    size_mm: float
    center: tuple[float, float, float]
    top_dir: tuple[float, float] = (1.0, 0.0)
    margin_cells: float = 1.5  # white paper around the black square, in marker cells

    def texture(self, px_per_cell: int = 24) -> tuple[np.ndarray, float]:
        """(gray texture with the paper margin, texture px per mm)."""
        d = cv2.aruco.getPredefinedDictionary(self.dictionary)
        cells = d.markerSize + 2
        side = cells * px_per_cell
        m = cv2.aruco.generateImageMarker(d, self.marker_id, side, borderBits=1)
        pad = int(round(self.margin_cells * px_per_cell))
        paper = np.full((side + 2 * pad, side + 2 * pad), 245, np.uint8)
        paper[pad:pad + side, pad:pad + side] = np.where(m > 127, 245, 20).astype(np.uint8)
        return paper, side / self.size_mm

    def axes(self) -> tuple[np.ndarray, np.ndarray]:
        """(texture u direction = marker right, texture v direction = marker down) in the world."""
        up = np.array([self.top_dir[0], self.top_dir[1], 0.0])
        up /= np.linalg.norm(up)
        right = np.cross(up, np.array([0.0, 0.0, 1.0]))  # marker x = y_m × z_m
        return right, -up

    def corners_world(self) -> np.ndarray:
        """The black square's corners TL, TR, BR, BL in the world (ArUco order)."""
        right, down = self.axes()
        c = np.asarray(self.center, dtype=np.float64)
        h = self.size_mm / 2.0
        return np.array([c - h * right - h * down, c + h * right - h * down, c + h * right + h * down,
                         c - h * right + h * down])


def floor_tile_mm(floor: str) -> int | None:
    """The tile size of a ``ManikinScene.floor`` of tiles ("tiles": 48 mm, "tiles12": 12 mm), else None."""
    if floor == "tiles":
        return 48
    if floor.startswith("tiles") and floor[5:].isdigit() and 4 <= int(floor[5:]) <= 480:
        return int(floor[5:])
    return None


@dataclass
class ManikinScene:
    """Geometry and materials of the scene (mm)."""

    floor_z: float = -200.0
    torso_x: tuple[float, float] = (-260.0, 300.0)
    torso_half_width: float = 170.0
    torso_corner_r: float = 80.0  # rounded edges; the chest plate |y| <= half_width - r is flat at z = 0
    head_center: tuple[float, float, float] = (440.0, 0.0, -70.0)
    head_axes: tuple[float, float, float] = (110.0, 90.0, 95.0)
    skin_bgr: tuple[int, int, int] = (150, 178, 222)
    floor_bgr: tuple[int, int, int] = (120, 110, 95)
    wall_bgr: tuple[int, int, int] = (200, 205, 210)
    light_dir: tuple[float, float, float] = (0.35, -0.45, 1.0)
    markers: list[PaperMarker] = field(default_factory=list)
    seed: int = 7
    floor: str = "mat"  # "mat": mottling and fine grain; "tiles": identical 48 mm tiles with grout lines (a pattern
    # that repeats: what a floor's carry of the anchor's pose may mistake one tile for the next on; "tiles<N>": N mm
    # tiles, e.g. "tiles12"); "plain": the mat's mottling without its grain (little for a tracker to hold on to)

    def __post_init__(self) -> None:
        tile_mm = floor_tile_mm(self.floor)
        if self.floor not in ("mat", "plain") and tile_mm is None:
            raise ValueError(f"ManikinScene.floor: {self.floor!r} is not mat, tiles, tiles<N mm> or plain")
        key = (self.seed, self.floor, tuple(self.floor_bgr))
        if key not in _TEXTURES:
            _TEXTURES[key] = tuple(read_only(a) if isinstance(a, np.ndarray) else a for a in self._textures(tile_mm))
        self._floor_tex, self._floor_mm_per_px, self._floor_border, self._skin_noise = _TEXTURES[key]
        self._marker_tex = [m.texture() for m in self.markers]

    def _textures(self, tile_mm: int | None) -> tuple[np.ndarray, float, int, np.ndarray]:
        """(the floor's texture, its mm per texel, its border mode, the skin's mottling): drawn from ``seed``."""
        rng = np.random.default_rng(self.seed)
        # Floor texture: a mat with low-frequency mottling and fine grain (2 mm per texel, 4 m square).
        n = 2000
        low = cv2.resize(rng.normal(0, 1, (40, 40)).astype(np.float32), (n, n), interpolation=cv2.INTER_CUBIC)
        fine = rng.normal(0, 1, (n, n)).astype(np.float32)
        # (drawn whatever the floor: the skin's mottling below comes from the same stream)
        if tile_mm is not None:  # 1 mm texels, one tile repeated (the lookups wrap around)
            tile = np.empty((tile_mm, tile_mm, 3), np.uint8)
            tile[:] = (196, 198, 190)
            g = max(1, round(tile_mm / 16))  # grout lines 3 mm wide on 48 mm tiles, scaled with the tile
            tile[:g], tile[:, :g] = (105, 108, 110), (105, 108, 110)
            floor_tex = np.tile(tile, (max(1, 480 // tile_mm), max(1, 480 // tile_mm), 1))
            mm_per_px, border = 1.0, cv2.BORDER_WRAP
        else:
            tex = np.empty((n, n, 3), np.float32)
            for k, base in enumerate(self.floor_bgr):
                tex[..., k] = base + 14 * low + (6 * fine if self.floor == "mat" else 0.0)
            floor_tex = np.clip(tex, 0, 255).astype(np.uint8)
            mm_per_px, border = 2.0, cv2.BORDER_REFLECT
        # Skin mottling on the body, indexed by (x, y) -> subtle, view-independent.
        skin = cv2.GaussianBlur(rng.normal(0, 1, (512, 512)).astype(np.float32), (0, 0), 6) * 4.0
        return floor_tex, mm_per_px, border, skin

    # ------------------------------------------------------------------ ray casting

    def _torso_hits(self, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Entry t and normals of the convex rounded-box torso for rays o + t d (d: (N, 3))."""
        x0, x1 = self.torso_x
        w, r, fz = self.torso_half_width, self.torso_corner_r, self.floor_z
        inner = w - r
        t_best = np.full(d.shape[0], INF, np.float32)
        nrm = np.zeros_like(d)
        eps = 1e-6

        def take(t, mask, normal):
            ok = mask & (t > 0) & (t < t_best)
            t_best[ok] = t[ok]
            nrm[ok] = normal[ok] if normal.ndim == 2 else normal

        with np.errstate(divide="ignore", invalid="ignore"):
            # top plate z = 0
            t = (0.0 - o[2]) / d[:, 2]
            p = o + t[:, None] * d
            take(t, (np.abs(p[:, 1]) <= inner) & (p[:, 0] >= x0) & (p[:, 0] <= x1), np.array([0, 0, 1], np.float32))
            # side walls y = ±w for z in [floor, -r]
            for s in (-1.0, 1.0):
                t = (s * w - o[1]) / d[:, 1]
                p = o + t[:, None] * d
                take(t, (p[:, 2] <= -r) & (p[:, 2] >= fz) & (p[:, 0] >= x0) & (p[:, 0] <= x1),
                     np.array([0, s, 0], np.float32))
            # rounded edges: cylinders along x at y = ±inner, z = -r
            for s in (-1.0, 1.0):
                oy, oz = o[1] - s * inner, o[2] + r
                a = d[:, 1] ** 2 + d[:, 2] ** 2
                b = 2 * (oy * d[:, 1] + oz * d[:, 2])
                c = oy * oy + oz * oz - r * r
                disc = b * b - 4 * a * c
                t = (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a + eps)
                p = o + t[:, None] * d
                ok = (disc > 0) & (s * p[:, 1] >= inner) & (p[:, 2] >= -r) & (p[:, 0] >= x0) & (p[:, 0] <= x1)
                n = np.stack([np.zeros_like(t), (p[:, 1] - s * inner) / r, (p[:, 2] + r) / r], axis=1)
                take(t, ok, n.astype(np.float32))
            # end caps x = x0 (feet side), x = x1 (head side)
            for xc, s in ((x0, -1.0), (x1, 1.0)):
                t = (xc - o[0]) / d[:, 0]
                p = o + t[:, None] * d
                y, z = np.abs(p[:, 1]), p[:, 2]
                inside = (z >= fz) & (z <= 0) & (y <= w)
                corner = (y > inner) & (z > -r)
                inside &= ~corner | ((y - inner) ** 2 + (z + r) ** 2 <= r * r)
                take(t, inside, np.array([s, 0, 0], np.float32))
        return t_best, nrm

    def _head_hits(self, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = np.asarray(self.head_center, np.float32)
        ax = np.asarray(self.head_axes, np.float32)
        oo = (o - c) / ax
        dd = d / ax
        a = np.sum(dd * dd, axis=1)
        b = 2 * (dd @ oo)
        cc = float(oo @ oo) - 1.0
        disc = b * b - 4 * a * cc
        with np.errstate(invalid="ignore"):
            t = (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a)
        ok = (disc > 0) & (t > 0)
        t = np.where(ok, t, INF).astype(np.float32)
        p = o + np.where(ok, t, 0)[:, None] * d
        n = (p - c) / (ax * ax)
        n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
        return t, n.astype(np.float32)

    def render(self, cam: RenderCamera, supersample: int = 1) -> np.ndarray:
        """The scene without hands, as a BGR uint8 image of the camera's size."""
        return self.render_layers(cam, supersample)[0]

    def render_layers(self, cam: RenderCamera, supersample: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(the scene without hands as a BGR uint8 image, the body's coverage of each pixel, float32 0-1): fresh
        arrays, the same as the last time this scene was rendered for this camera (kept: see ``_LAYERS``)."""
        key = (tuple((f.name, tuple(v) if isinstance(v, list) else v) for f in fields(self)
                     for v in [getattr(self, f.name)]), _camera_key(cam), supersample)
        if key not in _LAYERS:
            _LAYERS[key] = tuple(read_only(a) for a in self._render_layers(cam, supersample))
            while len(_LAYERS) > _LAYERS_KEPT:
                _LAYERS.popitem(last=False)
        _LAYERS.move_to_end(key)
        return tuple(a.copy() for a in _LAYERS[key])

    def _render_layers(self, cam: RenderCamera, supersample: int) -> tuple[np.ndarray, np.ndarray]:
        if supersample > 1:
            big = RenderCamera(cam.width * supersample, cam.height * supersample, cam.fx * supersample,
                               (cam.cx + 0.5) * supersample - 0.5, (cam.cy + 0.5) * supersample - 0.5,
                               cam.rotation, cam.position)
            img, body = self._render_layers(big, 1)
            size = (cam.width, cam.height)
            return (cv2.resize(img, size, interpolation=cv2.INTER_AREA),
                    cv2.resize(body, size, interpolation=cv2.INTER_AREA))
        h, w = cam.height, cam.width
        body = np.zeros(h * w, np.float32)
        d = cam.pixel_rays_world().reshape(-1, 3)
        o = cam.position.astype(np.float32)
        out = np.empty((h * w, 3), np.float32)
        # Background: wall above the horizon, floor below.
        with np.errstate(divide="ignore", invalid="ignore"):
            tf = (self.floor_z - o[2]) / d[:, 2]
        tf = np.where(tf > 0, tf, INF).astype(np.float32)
        out[:] = np.asarray(self.wall_bgr, np.float32)
        hit_f = np.isfinite(tf)
        pf = o + tf[hit_f, None] * d[hit_f]
        n = self._floor_tex.shape[0]
        mx = (pf[:, 0] / self._floor_mm_per_px + n / 2).astype(np.float32)
        my = (pf[:, 1] / self._floor_mm_per_px + n / 2).astype(np.float32)
        floor_px = _remap_flat(self._floor_tex, mx, my, self._floor_border)
        # distance fog keeps far floor from aliasing into noise
        fog = np.clip((tf[hit_f] - 1500.0) / 3000.0, 0, 1)[:, None]
        out[hit_f] = floor_px * (1 - fog) + np.asarray(self.wall_bgr, np.float32) * fog
        zbuf = tf.copy()
        # Body: only rays inside the body's bounding box projection are cast.
        lo = np.array([self.torso_x[0], -self.torso_half_width, self.floor_z])
        hi = np.array([self.head_center[0] + self.head_axes[0], self.torso_half_width, 30.0])
        box = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        pb = cam.project(box)
        idx = np.arange(h * w)
        if np.all(np.isfinite(pb)):
            x0, y0 = np.floor(pb.min(axis=0)).astype(int)
            x1, y1 = np.ceil(pb.max(axis=0)).astype(int)
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w - 1), min(y1, h - 1)
            if x1 > x0 and y1 > y0:
                yy, xx = np.mgrid[y0:y1 + 1, x0:x1 + 1]
                idx = (yy * w + xx).reshape(-1)
        if idx.size:
            dd = d[idx]
            tt, nt = self._torso_hits(o, dd)
            th, nh = self._head_hits(o, dd)
            use_h = th < tt
            tb = np.where(use_h, th, tt)
            nb = np.where(use_h[:, None], nh, nt)
            front = tb < zbuf[idx]
            sel = idx[front]
            zbuf[sel] = tb[front]
            L = np.asarray(self.light_dir, np.float32)
            L /= np.linalg.norm(L)
            lam = np.clip(nb[front] @ L, 0, 1)
            pbody = o + tb[front, None] * dd[front]
            ni = ((pbody[:, 0] * 0.5).astype(int) % 512, (pbody[:, 1] * 0.5).astype(int) % 512)
            mott = self._skin_noise[ni[1], ni[0]]
            shade = (0.42 + 0.58 * lam)[:, None]
            out[sel] = np.asarray(self.skin_bgr, np.float32) * shade + mott[:, None]
            body[sel] = 1.0
        # Paper markers (flat, just above their surface).
        for m, (tex, px_per_mm) in zip(self.markers, self._marker_tex):
            self._draw_marker(cam, out, zbuf, m, tex, px_per_mm)
        img = np.clip(out, 0, 255).astype(np.uint8).reshape(h, w, 3)
        return img, body.reshape(h, w)

    def render_moved(self, cam: RenderCamera, ref_cam: RenderCamera, ref_img: np.ndarray,
                     ref_body: np.ndarray | None = None) -> np.ndarray:
        """A frame for a camera near ``ref_cam`` (a moving headset), fast.

        The body is the reference image warped by the homography of the chest plane (exact
        for the chest, a little parallax on its sides and the head); the floor by its own
        plane's, exact, where ``ref_body`` (the body's coverage of the reference image) says
        which is which. Without it the floor takes the chest plane's too, tens of px off on a
        head that turns (until session 34, when the anchor's pose began to follow the floor).
        The markers are ray-cast exactly in every frame, since they are what gets measured.
        ``ref_img`` must be rendered for ``ref_cam`` (see :meth:`reference_view`).
        """
        size = (cam.width, cam.height)

        def plane_h(z_mm: float, half_mm: float) -> np.ndarray:
            q = np.array([[-half_mm, -half_mm, z_mm], [half_mm, -half_mm, z_mm], [half_mm, half_mm, z_mm],
                          [-half_mm, half_mm, z_mm]])
            return cv2.getPerspectiveTransform(ref_cam.project(q).astype(np.float32), cam.project(q).astype(np.float32))

        def warp(img: np.ndarray, H: np.ndarray) -> np.ndarray:
            return cv2.warpPerspective(img, H, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

        chest = plane_h(0.0, 400.0)
        img = warp(ref_img, chest).astype(np.float32)
        if ref_body is not None:
            a = warp(ref_body, chest)[..., None]
            img = a * img + (1.0 - a) * warp(ref_img, plane_h(self.floor_z, 300.0)).astype(np.float32)
        out = img.reshape(-1, 3)
        for m, (tex, px_per_mm) in zip(self.markers, self._marker_tex):
            self._draw_marker(cam, out, None, m, tex, px_per_mm, ss=3)
        return np.clip(out, 0, 255).astype(np.uint8).reshape(cam.height, cam.width, 3)

    def reference_view(self, cam: RenderCamera, margin: float = 0.2) -> tuple[RenderCamera, tuple[np.ndarray, np.ndarray]]:
        """A wider render of ``cam`` (``margin`` extra on each side) for :meth:`render_moved`: the camera, (the image,
        the body's coverage)."""
        mx, my = int(cam.width * margin), int(cam.height * margin)
        big = RenderCamera(cam.width + 2 * mx, cam.height + 2 * my, cam.fx, cam.cx + mx, cam.cy + my,
                           cam.rotation, cam.position)
        return big, self.render_layers(big, supersample=2)

    def _draw_marker(self, cam, out, zbuf, m: PaperMarker, tex, px_per_mm, ss: int = 1) -> None:
        h, w = cam.height, cam.width
        right, down = m.axes()
        c = np.asarray(m.center, np.float64)
        pad_mm = (tex.shape[0] / px_per_mm - m.size_mm) / 2.0
        half = m.size_mm / 2.0 + pad_mm
        quad = np.array([c - half * right - half * down, c + half * right - half * down,
                         c + half * right + half * down, c - half * right + half * down])
        pq = cam.project(quad)
        if not np.all(np.isfinite(pq)):
            return
        x0, y0 = np.maximum(np.floor(pq.min(axis=0)).astype(int) - 1, 0)
        x1, y1 = np.minimum(np.ceil(pq.max(axis=0)).astype(int) + 1, [w - 1, h - 1])
        if x1 <= x0 or y1 <= y0:
            return
        if zbuf is None:
            self._warp_marker(out, w, (x0, y0, x1, y1), pq, tex, ss)
            return
        yy, xx = np.mgrid[y0:y1 + 1, x0:x1 + 1]
        idx = (yy * w + xx).reshape(-1)
        n = tex.shape[0]
        o = cam.position
        # rays of just these pixels, in float64, ss x ss samples per pixel averaged: marker edges are what
        # calibration measures, so they are anti-aliased like a sensor integrating light over a pixel
        offs = [(k + 0.5) / ss - 0.5 for k in range(ss)]
        acc = np.zeros(idx.size, np.float32)
        cover = np.zeros(idx.size, np.float32)
        tmin = np.full(idx.size, np.inf)
        for oy in offs:
            for ox in offs:
                dc = np.stack([(xx.reshape(-1) + ox - cam.cx) / cam.fx, (yy.reshape(-1) + oy - cam.cy) / cam.fx,
                               np.ones(idx.size)], axis=1)
                dd = dc @ cam.rotation
                with np.errstate(divide="ignore", invalid="ignore"):
                    t = (c[2] - o[2]) / dd[:, 2]
                p = o + t[:, None] * dd
                rel = p - c
                u = (rel @ right + half) * px_per_mm - 0.5
                v = (rel @ down + half) * px_per_mm - 0.5
                ok = (t > 0) & (u >= -0.5) & (v >= -0.5) & (u <= n - 0.5) & (v <= n - 0.5)
                tl = t * np.linalg.norm(dd, axis=1)
                ok &= tl < zbuf[idx]
                if not np.any(ok):
                    continue
                val = _remap_flat(tex, u[ok], v[ok], cv2.BORDER_REPLICATE).reshape(-1).astype(np.float32)
                acc[ok] += val
                cover[ok] += 1.0
                tmin[ok] = np.minimum(tmin[ok], tl[ok])
        hit = cover > 0
        if not np.any(hit):
            return
        sel = idx[hit]
        frac = (cover[hit] / (ss * ss))[:, None]
        # paper takes a little of the light's shading (matte white under the same lamp); partial pixels blend
        paper = (acc[hit] / cover[hit])[:, None] * np.array([0.97, 0.98, 1.0], np.float32)
        out[sel] = paper * frac + out[sel] * (1.0 - frac)
        zbuf[sel] = tmin[hit]

    @staticmethod
    def _warp_marker(out, w, box, quad_px, tex, ss) -> None:
        """No occlusion test needed (a marker in plain view): the paper is a homography of its texture,
        warped at ``ss`` x the resolution and area-averaged down (anti-aliased edges), then blended."""
        x0, y0, x1, y1 = box
        bw, bh = (x1 - x0 + 1), (y1 - y0 + 1)
        n = tex.shape[0]
        src = np.array([[-0.5, -0.5], [n - 0.5, -0.5], [n - 0.5, n - 0.5], [-0.5, n - 0.5]], np.float32)
        dst = ((quad_px - [x0, y0]) + 0.5) * ss - 0.5
        H = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
        size = (bw * ss, bh * ss)
        paper = cv2.warpPerspective(tex.astype(np.float32), H, size, flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        cover = cv2.warpPerspective(np.ones_like(tex, np.float32), H, size, flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        if ss > 1:
            paper = cv2.resize(paper, (bw, bh), interpolation=cv2.INTER_AREA)
            cover = cv2.resize(cover, (bw, bh), interpolation=cv2.INTER_AREA)
        yy, xx = np.mgrid[y0:y1 + 1, x0:x1 + 1]
        idx = (yy * w + xx).reshape(-1)
        a = np.clip(cover.reshape(-1), 0.0, 1.0)[:, None]
        tint = np.array([0.97, 0.98, 1.0], np.float32)
        out[idx] = paper.reshape(-1)[:, None] * tint + out[idx] * (1.0 - a)
