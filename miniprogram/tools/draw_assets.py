"""Draw the mini-program's image assets (tab bar icons, demo category icons, empty states).

Simple flat shapes in the shop's red theme, drawn 4x and scaled down for smooth edges.
Run from the repository: .venv/bin/python miniprogram/tools/draw_assets.py (Pillow, dev extra).
The PNGs are committed; rerun only to change them.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "assets"
RED = (228, 57, 60, 255)
PALE = (253, 236, 236, 255)
GREY = (102, 102, 102, 255)
LIGHT = (221, 221, 221, 255)
WHITE = (255, 255, 255, 255)
SS = 4  # supersampling


def canvas(w: int, h: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.new("RGBA", (w * SS, h * SS), (0, 0, 0, 0))
    return img, ImageDraw.Draw(img)


def save(img: Image.Image, w: int, h: int, rel: str) -> None:
    path = OUT / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    img.resize((w, h), Image.LANCZOS).save(path, optimize=True)


def s(*v: float) -> list[float]:
    return [x * SS for x in v]


# --- tab bar: 81 x 81, outline when normal, filled when selected ---------------------------
def tab_home(d: ImageDraw.ImageDraw, c: tuple[int, ...], fill: bool) -> None:
    w = 6
    d.line(s(12, 40, 40.5, 14, 69, 40), fill=c, width=w * SS, joint="curve")
    body = s(20, 36, 61, 68)
    d.rounded_rectangle(body, radius=4 * SS, outline=c, width=w * SS, fill=c if fill else None)
    d.rounded_rectangle(s(34, 50, 47, 68), radius=2 * SS, fill=WHITE if fill else c)


def tab_category(d: ImageDraw.ImageDraw, c: tuple[int, ...], fill: bool) -> None:
    for x, y in ((14, 14), (44, 14), (14, 44)):
        d.rounded_rectangle(s(x, y, x + 23, y + 23), radius=6 * SS, outline=c, width=6 * SS,
                            fill=c if fill else None)
    d.ellipse(s(44, 44, 67, 67), outline=c, width=6 * SS, fill=c if fill else None)


def tab_cart(d: ImageDraw.ImageDraw, c: tuple[int, ...], fill: bool) -> None:
    d.line(s(8, 16, 18, 16, 26, 52, 64, 52), fill=c, width=6 * SS, joint="curve")
    d.polygon(s(20, 24, 72, 24, 66, 46, 25, 46), outline=c, width=6 * SS, fill=c if fill else None)
    for x in (30, 58):
        d.ellipse(s(x - 6, 58, x + 6, 70), fill=c)


def tab_me(d: ImageDraw.ImageDraw, c: tuple[int, ...], fill: bool) -> None:
    d.ellipse(s(26, 10, 55, 39), outline=c, width=6 * SS, fill=c if fill else None)
    d.chord(s(12, 44, 69, 100), 180, 360, outline=c, width=6 * SS, fill=c if fill else None)


TABS = {"home": tab_home, "category": tab_category, "cart": tab_cart, "me": tab_me}


# --- demo category icons: 96 x 96, red glyph on a pale round tile ---------------------------
def cat_fruit(d: ImageDraw.ImageDraw) -> None:
    d.ellipse(s(24, 30, 72, 78), fill=RED)
    d.line(s(48, 32, 50, 20), fill=(120, 72, 40, 255), width=4 * SS)
    d.ellipse(s(50, 14, 68, 26), fill=(76, 175, 80, 255))
    d.ellipse(s(32, 40, 42, 50), fill=(255, 255, 255, 120))


def cat_snack(d: ImageDraw.ImageDraw) -> None:
    d.ellipse(s(20, 20, 76, 76), fill=(230, 160, 90, 255))
    for x, y in ((36, 36), (56, 40), (42, 58), (60, 60), (30, 50)):
        d.ellipse(s(x - 4, y - 4, x + 4, y + 4), fill=(110, 60, 30, 255))


def cat_tea(d: ImageDraw.ImageDraw) -> None:
    d.rounded_rectangle(s(22, 40, 62, 76), radius=8 * SS, fill=RED)
    d.arc(s(54, 46, 76, 66), -90, 90, fill=RED, width=5 * SS)
    for x in (32, 44):
        d.arc(s(x - 6, 18, x + 6, 36), 90, 270, fill=(228, 57, 60, 160), width=3 * SS)


def cat_home(d: ImageDraw.ImageDraw) -> None:
    d.polygon(s(48, 18, 80, 46, 16, 46), fill=RED)
    d.rectangle(s(24, 44, 72, 78), fill=RED)
    d.rectangle(s(42, 56, 54, 78), fill=WHITE)


CATEGORIES = {"cat_fruit": cat_fruit, "cat_snack": cat_snack, "cat_tea": cat_tea,
              "cat_home": cat_home}


def category_other(d: ImageDraw.ImageDraw) -> None:
    for x, y in ((32, 32), (64, 32), (32, 64), (64, 64)):
        d.ellipse(s(x - 9, y - 9, x + 9, y + 9), fill=RED)


# --- empty states: 240 x 180, a pale disc behind a grey-and-red picture ---------------------
def empty_base(d: ImageDraw.ImageDraw) -> None:
    d.ellipse(s(60, 14, 180, 134), fill=PALE)
    d.ellipse(s(70, 150, 170, 166), fill=(238, 238, 238, 255))


def empty_cart(d: ImageDraw.ImageDraw) -> None:
    d.line(s(72, 46, 88, 46, 100, 108, 156, 108), fill=GREY, width=6 * SS, joint="curve")
    d.polygon(s(92, 60, 170, 60, 162, 94, 98, 94), outline=RED, width=6 * SS,
              fill=WHITE)
    for x in (108, 148):
        d.ellipse(s(x - 8, 116, x + 8, 132), fill=GREY)


def empty_orders(d: ImageDraw.ImageDraw) -> None:
    d.rounded_rectangle(s(88, 34, 152, 126), radius=8 * SS, fill=WHITE, outline=GREY,
                        width=5 * SS)
    d.rounded_rectangle(s(104, 26, 136, 42), radius=5 * SS, fill=RED)
    for y in (62, 80, 98):
        d.line(s(102, y, 138, y), fill=LIGHT, width=5 * SS)
    d.line(s(102, 62, 116, 62), fill=RED, width=5 * SS)


def empty_search(d: ImageDraw.ImageDraw) -> None:
    d.ellipse(s(84, 38, 140, 94), fill=WHITE, outline=GREY, width=7 * SS)
    d.line(s(132, 88, 158, 116), fill=RED, width=10 * SS)
    d.line(s(102, 66, 122, 66), fill=LIGHT, width=5 * SS)


def empty_network(d: ImageDraw.ImageDraw) -> None:
    for r, col in ((46, GREY), (32, GREY), (18, RED)):
        d.arc(s(120 - r, 96 - r, 120 + r, 96 + r), 215, 325, fill=col, width=7 * SS)
    d.ellipse(s(113, 100, 127, 114), fill=RED)
    d.line(s(80, 40, 160, 120), fill=WHITE, width=11 * SS)
    d.line(s(80, 40, 160, 120), fill=GREY, width=5 * SS)


def empty_box(d: ImageDraw.ImageDraw) -> None:
    d.polygon(s(80, 60, 120, 44, 160, 60, 120, 76),
              fill=WHITE, outline=GREY, width=5 * SS)
    d.polygon(s(80, 60, 120, 76, 120, 124, 80, 108),
              fill=WHITE, outline=GREY, width=5 * SS)
    d.polygon(s(160, 60, 120, 76, 120, 124, 160, 108),
              fill=PALE, outline=GREY, width=5 * SS)
    d.line(s(100, 52, 140, 68), fill=RED, width=5 * SS)


EMPTY = {"cart": empty_cart, "orders": empty_orders, "search": empty_search,
         "network": empty_network,
         "box": empty_box}


def main() -> None:
    for name, draw in TABS.items():
        for selected in (False, True):
            img, d = canvas(81, 81)
            draw(d, RED if selected else GREY, selected)
            save(img, 81, 81, f"tab/{name}{'-active' if selected else ''}.png")
    for name, glyph in list(CATEGORIES.items()) + [("other", category_other)]:
        img, d = canvas(96, 96)
        d.ellipse(s(0, 0, 96, 96), fill=PALE)
        glyph(d)
        save(img, 96, 96, f"category/{name}.png")
    for name, pic in EMPTY.items():
        img, d = canvas(240, 180)
        empty_base(d)
        pic(d)
        save(img, 240, 180, f"empty/{name}.png")


if __name__ == "__main__":
    main()
