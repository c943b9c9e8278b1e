"""The scene's stuff: sky, distant skyline, ground (road, sidewalk) and the two rows of facades
with their windows and doors. Whole-image vectorised: one pass of array maths per layer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cityq.objects import object_index
from cityq.synth.canvas import Canvas, smooth_noise
from cityq.synth.palettes import colour
from cityq.synth.street import CAMERA_HEIGHT, Street

SKY, BUILDING, ROAD, SIDEWALK = (object_index(n) for n in ("sky", "building", "road", "sidewalk"))
WINDOW, DOOR = object_index("windowpane"), object_index("door")
SURFACE_LABELS = np.array([BUILDING, BUILDING, WINDOW, DOOR], np.uint8)  # per facade surface code
LANE_PAINT = np.array([[0.9, 0.9, 0.88], [0.85, 0.7, 0.2]], np.float32)  # white or yellow lines


@dataclass
class FacadeRow:
    """The buildings along one side of the street, nearest first, in world units."""

    side: str
    X: float  # lateral position of the facade plane (m)
    starts: np.ndarray  # depth where each building begins (m), ascending
    heights: np.ndarray  # m
    colours: np.ndarray  # (n, 3)
    glass: np.ndarray  # (n, 3) window colour
    floor: np.ndarray  # storey height (m)
    spacing: np.ndarray  # window pitch along the street (m)
    win_w: np.ndarray  # window width as a fraction of the pitch
    win_h: np.ndarray  # window height as a fraction of the storey
    door_every: np.ndarray  # every k-th bay of the ground floor is a door
    light: float  # this side's sun/shadow factor

    @staticmethod
    def sample(rng: np.random.Generator, street: Street, side: str, light: float) -> "FacadeRow":
        X = street.facade_line(side)
        z, starts = street.min_visible_z(X) * 0.8, []
        while z < street.far(side):
            starts.append(z)
            z += rng.uniform(6.0, 24.0)
        n = len(starts)
        kind = rng.random(n)  # mostly low and mid-rise; the odd tall one
        heights = np.where(kind < 0.5, rng.uniform(6, 14, n), np.where(kind < 0.88, rng.uniform(14, 30, n),
                                                                          rng.uniform(30, 55, n)))
        return FacadeRow(
            side=side, X=X, starts=np.array(starts, np.float32), heights=heights.astype(np.float32),
            colours=np.stack([colour(rng, "facade") for _ in range(n)]),
            glass=np.stack([colour(rng, "glass") for _ in range(n)]),
            floor=rng.uniform(2.9, 3.6, n).astype(np.float32),
            spacing=rng.uniform(2.2, 4.0, n).astype(np.float32),
            win_w=rng.uniform(0.35, 0.65, n).astype(np.float32),
            win_h=rng.uniform(0.4, 0.62, n).astype(np.float32),
            door_every=rng.integers(2, 6, n),
            light=light,
        )

    def columns(self, street: Street) -> tuple[int, int, np.ndarray]:
        """The image columns [c0, c1) this row covers and their depth z (m) per column."""
        s = street.size
        x_far = street.vx + street.f * self.X / street.far(self.side)
        if self.side == "left":
            c0, c1 = 0, int(np.clip(np.floor(x_far), 0, s))
        else:
            c0, c1 = int(np.clip(np.ceil(x_far), 0, s)), s
        xs = np.arange(c0, c1, dtype=np.float32) + 0.5
        z = street.f * self.X / np.where(np.abs(xs - street.vx) < 1e-3, 1e-3, xs - street.vx)
        return c0, c1, z

    def building_at(self, z) -> np.ndarray:
        return np.clip(np.searchsorted(self.starts, z, side="right") - 1, 0, len(self.starts) - 1)

    def top_rows(self, street: Street) -> np.ndarray:
        """Per image column, the first row this facade row covers (size where it covers none)."""
        top = np.full(street.size, street.size, np.float32)
        c0, c1, z = self.columns(street)
        if c1 > c0:
            heights = self.heights[self.building_at(z)]
            top[c0:c1] = street.vy + street.f * (CAMERA_HEIGHT - heights) / z
        return top


def draw_sky(canvas: Canvas, rng: np.random.Generator, street: Street) -> None:
    s = canvas.size
    rows = int(np.clip(np.ceil(street.vy) + 2, 1, s))  # the ground covers everything below
    top, bottom = colour(rng, "sky"), colour(rng, "sky")
    t = np.linspace(0, 1, s, dtype=np.float32)[:rows, None, None]
    sky = top * (1 - t) + bottom * t
    cells = int(rng.integers(3, 7))
    clouds = np.clip(smooth_noise(rng, s, s, cells)[:rows] - np.float32(rng.uniform(0.0, 0.6)), 0, 1)[:, :, None]
    canvas.fill_rows(0, rows, sky + clouds * (np.float32(0.76) - 0.8 * sky), SKY)


def draw_ground(canvas: Canvas, rng: np.random.Generator, street: Street) -> None:
    s, vy = canvas.size, street.vy
    y0 = int(np.clip(np.ceil(vy), 0, s))
    if y0 >= s:
        return
    d = np.arange(y0, s, dtype=np.float32)[:, None] + 0.5 - vy
    z = street.f * CAMERA_HEIGHT / d  # (h, 1)
    X = (np.arange(s, dtype=np.float32)[None, :] + 0.5 - street.vx) * (z / street.f)  # (h, w)
    road = (X > street.road_l) & (X < street.road_r)
    tile = np.float32(rng.uniform(0.4, 1.2))
    joints = (np.mod(X, tile) < 0.06 * tile) | (np.mod(z, tile) < 0.06 * tile)
    centre = 0.5 * (street.road_l + street.road_r)
    marking = (np.abs(X - centre) < 0.08) & (np.mod(z, 9.0) < 4.0)
    # Surface code per pixel, then one gather: 0 asphalt, 1 marking, 2 paving, 3 paving joint.
    code = np.where(road, marking.astype(np.int8), 2 + joints.astype(np.int8))
    paving = colour(rng, "ground")
    table = np.stack([colour(rng, "asphalt"), LANE_PAINT[rng.integers(len(LANE_PAINT))], paving, paving * 0.82])
    grain = 1.0 + 0.06 * smooth_noise(rng, s - y0, s, 12)
    canvas.fill_rows(y0, s, table[code] * grain[:, :, None], np.where(road, ROAD, SIDEWALK))


def draw_skyline(canvas: Canvas, rng: np.random.Generator, street: Street) -> None:
    """Distant buildings closing the street, hazy towards the sky colour."""
    z = street.skyline_z
    haze = canvas.rgb[int(np.clip(street.vy - 2, 0, canvas.size - 1)), int(np.clip(street.vx, 0, canvas.size - 1))]
    X = -z * street.vx / street.f - rng.uniform(0, 20)
    x_end = z * (canvas.size - street.vx) / street.f
    while X < x_end:
        width, height = rng.uniform(10, 40), rng.uniform(4, 45)
        if rng.random() < 0.8:
            mix = rng.uniform(0.3, 0.6)
            c = colour(rng, "facade") * (1 - mix) + haze * mix
            x0, y0 = street.project(X, height, z)
            x1, y1 = street.project(X + width, 0, z)
            canvas.rect(x0, y0, x1, y1 + 1, c, BUILDING)
        X += width


def draw_facades(canvas: Canvas, rng: np.random.Generator, street: Street, row: FacadeRow) -> None:
    c0, c1, z = row.columns(street)
    if c1 <= c0:
        return
    s = canvas.size
    b = row.building_at(z)  # (w,)
    top_m = row.heights[b]
    # Only the rows between the highest roof and the lowest facade base can hold facade pixels.
    y_top = street.vy + street.f * (CAMERA_HEIGHT - top_m) / z
    y_base = street.vy + street.f * CAMERA_HEIGHT / z
    r0, r1 = int(np.clip(np.floor(y_top.min()), 0, s)), int(np.clip(np.ceil(y_base.max()) + 1, 0, s))
    if r1 <= r0:
        return
    ys = np.arange(r0, r1, dtype=np.float32)[:, None] + 0.5
    h = CAMERA_HEIGHT - (ys - street.vy) * (z / street.f)[None, :]  # height above ground (m)
    top = top_m[None, :]
    wall = (h >= 0) & (h < top)
    if not wall.any():
        return
    bay = (z - row.starts[b]) / row.spacing[b]  # bays along the street, (w,)
    off_centre = np.abs(np.mod(bay, 1.0) - 0.5)
    floor = row.floor[b][None, :]
    storey = h / floor
    in_storey = np.mod(storey, 1.0)
    window = ((storey >= 1.0) & (h < top - 0.8) & (off_centre < row.win_w[b] / 2)[None, :]
              & (np.abs(in_storey - 0.5) < row.win_h[b][None, :] / 2))
    ground_floor = (h > 0.25) & (h < floor * 0.8)
    is_door_bay = (np.floor(bay).astype(int) % row.door_every[b]) == 0
    door = ground_floor & (h < 2.3) & (is_door_bay & (off_centre < 0.22))[None, :]
    shop = ground_floor & (~is_door_bay & (off_centre < 0.42))[None, :]
    cornice = h > top - 0.5

    # Surface code per pixel, then one gather from a per-building colour table.
    code = np.where(window | shop, 2, np.where(door, 3, cornice.astype(np.int8))).astype(np.int8)
    scene_labels = SURFACE_LABELS[code]
    if canvas.omit & {WINDOW, DOOR}:  # a facade without its windows (or doors): the wall stands behind them
        code = np.where(np.isin(scene_labels, list(canvas.omit)), np.int8(0), code)
    n = len(row.starts)
    table = np.empty((n, 4, 3), np.float32)
    table[:, 0] = row.colours
    table[:, 1] = row.colours * 0.8
    table[:, 2] = row.glass
    table[:, 3] = colour(rng, "paint") * 0.7
    rgb = table[b[None, :], code] * (row.light * (1.0 + 0.05 * smooth_noise(rng, r1 - r0, c1 - c0, 8)))[:, :, None]
    canvas.put(r0, r1, c0, c1, wall, rgb, SURFACE_LABELS[code], scene_labels)
