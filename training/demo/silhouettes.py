"""The eight product silhouettes of the synthetic catalog, drawn in a unit box.

Why a unit box: the same shapes draw the packshot (colour mask and neutral
details) and the mask of the product's visible surface, at any image size,
mirrored or not; ``UnitPen`` turns unit coordinates (x right, y down) into the
pixel box a product fills.

Each category draws with two pens: ``fill`` marks the coloured (patterned)
product surface, ``detail`` draws neutral parts on top.

Pure core: PIL only.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import ImageDraw

Point = tuple[float, float]
Box = tuple[float, float, float, float]


def _tshirt(fill, detail) -> None:
    fill.polygon(
        [(0.36, 0.06), (0.44, 0.13), (0.56, 0.13), (0.64, 0.06), (0.95, 0.22), (0.85, 0.43),
         (0.75, 0.37), (0.75, 0.95), (0.25, 0.95), (0.25, 0.37), (0.15, 0.43), (0.05, 0.22)]
    )  # fmt: skip
    detail.line([(0.36, 0.06), (0.44, 0.13), (0.56, 0.13), (0.64, 0.06)], width=0.02)
    detail.line([(0.25, 0.37), (0.25, 0.3)], width=0.01)
    detail.line([(0.75, 0.37), (0.75, 0.3)], width=0.01)


def _mug(fill, detail) -> None:
    fill.ring((0.58, 0.32, 0.94, 0.74), width=0.08)
    fill.rounded_rectangle((0.12, 0.19, 0.7, 0.92), radius=0.06)
    fill.ellipse((0.12, 0.14, 0.7, 0.24))
    detail.ellipse_outline((0.12, 0.14, 0.7, 0.24), width=0.015)


def _shoe(fill, detail) -> None:
    fill.polygon(
        [(0.05, 0.56), (0.08, 0.36), (0.33, 0.38), (0.45, 0.24), (0.6, 0.2), (0.66, 0.38),
         (0.9, 0.54), (0.96, 0.7), (0.05, 0.7)]
    )  # fmt: skip
    detail.rounded_rectangle((0.03, 0.68, 0.97, 0.8), radius=0.04, colour=(245, 245, 245))
    for step in range(4):
        x = 0.5 + 0.05 * step
        detail.line([(x, 0.3 + 0.05 * step), (x + 0.06, 0.34 + 0.05 * step)], width=0.015)


def _lamp(fill, detail) -> None:
    fill.polygon([(0.3, 0.06), (0.7, 0.06), (0.86, 0.45), (0.14, 0.45)])
    fill.ellipse((0.28, 0.86, 0.72, 0.97))
    detail.rectangle((0.47, 0.45, 0.53, 0.9), colour=(70, 70, 72))


def _backpack(fill, detail) -> None:
    fill.ring((0.38, 0.02, 0.62, 0.24), width=0.04)
    fill.rounded_rectangle((0.2, 0.13, 0.8, 0.96), radius=0.14)
    detail.rounded_outline((0.3, 0.56, 0.7, 0.88), radius=0.06, width=0.015)
    detail.line([(0.3, 0.66), (0.7, 0.66)], width=0.012)


def _watch(fill, detail) -> None:
    fill.rectangle((0.38, 0.0, 0.62, 1.0))
    fill.ellipse((0.2, 0.27, 0.8, 0.73))
    detail.ellipse((0.29, 0.35, 0.71, 0.65), colour=(246, 246, 244))
    detail.line([(0.5, 0.5), (0.5, 0.39)], width=0.02)
    detail.line([(0.5, 0.5), (0.6, 0.53)], width=0.02)
    detail.rectangle((0.8, 0.46, 0.85, 0.54), colour=(160, 160, 160))


def _chair(fill, detail) -> None:
    fill.rounded_rectangle((0.26, 0.04, 0.74, 0.48), radius=0.05)
    fill.polygon([(0.2, 0.5), (0.8, 0.5), (0.84, 0.62), (0.16, 0.62)])
    for left in (0.18, 0.76, 0.3, 0.64):
        bottom = 0.96 if left in (0.18, 0.76) else 0.86
        fill.rectangle((left, 0.6, left + 0.06, bottom))
    detail.line([(0.2, 0.5), (0.8, 0.5)], width=0.012)


def _bottle(fill, detail) -> None:
    fill.rectangle((0.42, 0.11, 0.58, 0.24))
    fill.polygon([(0.42, 0.22), (0.58, 0.22), (0.7, 0.34), (0.3, 0.34)])
    fill.rounded_rectangle((0.3, 0.32, 0.7, 0.97), radius=0.06)
    detail.rectangle((0.4, 0.02, 0.6, 0.11), colour=(60, 60, 62))
    detail.line([(0.36, 0.4), (0.36, 0.88)], width=0.02, colour=(255, 255, 255))


SILHOUETTES = {
    "t-shirt": _tshirt,
    "mug": _mug,
    "shoe": _shoe,
    "lamp": _lamp,
    "backpack": _backpack,
    "watch": _watch,
    "chair": _chair,
    "bottle": _bottle,
}


class UnitPen:
    """Draws unit-box shapes into a pixel box of an image (mask or detail layer)."""

    def __init__(
        self, draw: ImageDraw.ImageDraw, box: Box, ink, mirrored: bool, force_ink: bool = False
    ) -> None:
        self.draw, self.ink, self.mirrored, self.force_ink = draw, ink, mirrored, force_ink
        self.x0, self.y0 = box[0], box[1]
        self.side = box[2] - box[0]

    def _point(self, point: Point) -> Point:
        x = 1 - point[0] if self.mirrored else point[0]
        return (self.x0 + x * self.side, self.y0 + point[1] * self.side)

    def _box(self, box: Box) -> Box:
        (ax, ay), (bx, by) = self._point(box[:2]), self._point(box[2:])
        return (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))

    def _px(self, length: float) -> int:
        return max(1, round(length * self.side))

    def _ink(self, colour):
        return self.ink if colour is None or self.force_ink else colour

    def polygon(self, points: Sequence[Point], colour=None) -> None:
        self.draw.polygon([self._point(p) for p in points], fill=self._ink(colour))

    def rectangle(self, box: Box, colour=None) -> None:
        self.draw.rectangle(self._box(box), fill=self._ink(colour))

    def rounded_rectangle(self, box: Box, radius: float, colour=None) -> None:
        self.draw.rounded_rectangle(self._box(box), radius=self._px(radius), fill=self._ink(colour))

    def rounded_outline(self, box: Box, radius: float, width: float, colour=None) -> None:
        self.draw.rounded_rectangle(
            self._box(box),
            radius=self._px(radius),
            outline=self._ink(colour),
            width=self._px(width),
        )

    def ellipse(self, box: Box, colour=None) -> None:
        self.draw.ellipse(self._box(box), fill=self._ink(colour))

    def ellipse_outline(self, box: Box, width: float, colour=None) -> None:
        self.draw.ellipse(self._box(box), outline=self._ink(colour), width=self._px(width))

    def ring(self, box: Box, width: float, colour=None) -> None:
        self.ellipse_outline(box, width, colour)

    def line(self, points: Sequence[Point], width: float, colour=None) -> None:
        self.draw.line(
            [self._point(p) for p in points], fill=self._ink(colour), width=self._px(width)
        )
