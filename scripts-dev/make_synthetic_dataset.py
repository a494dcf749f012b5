"""Write a small, learnable, dog-breed-shaped image dataset (PIL only, deterministic).

Layout, like the Udacity dogImages set the project was built on:
    OUT/train/001.Affenpinscher/001_0000.jpg
    OUT/valid/002.Afghan_hound/...
    OUT/test/...

Each class has its own background hue and foreground shape (the signal); position, size, colour
jitter, blotches and pixel noise vary per image (the noise), so a small CNN learns it in a few
epochs but not from a single pixel.

    python3 scripts-dev/make_synthetic_dataset.py --out /tmp/dogs --classes 5 \
        --train-per-class 20 --valid-per-class 5 --test-per-class 5 --size 64 --seed 0
    python3 scripts-dev/make_synthetic_dataset.py --sample assets/sample.jpg --size 224
"""
from __future__ import annotations

import argparse
import colorsys
import os
import random
import sys

from PIL import Image, ImageDraw

#: The first breeds of the Udacity dogImages set, in its order; later classes get generic names.
BREEDS = (
    "Affenpinscher", "Afghan_hound", "Airedale_terrier", "Akita", "Alaskan_malamute",
    "American_eskimo_dog", "American_foxhound", "American_staffordshire_terrier",
    "American_water_spaniel", "Anatolian_shepherd_dog", "Australian_cattle_dog",
    "Australian_shepherd", "Australian_terrier", "Basenji", "Basset_hound", "Beagle",
    "Bearded_collie", "Beauceron", "Bedlington_terrier", "Belgian_malinois", "Belgian_sheepdog",
    "Belgian_tervuren", "Bernese_mountain_dog", "Bichon_frise", "Black_and_tan_coonhound",
)
SHAPES = ("ellipse", "rectangle", "triangle", "cross", "diamond", "ring")
SPLITS = ("train", "valid", "test")


def class_folder(index: int) -> str:
    """``001.Affenpinscher`` for index 0."""
    name = BREEDS[index] if index < len(BREEDS) else "Breed_{:03d}".format(index + 1)
    return "{:03d}.{}".format(index + 1, name)


def _rgb(h, s, v):
    return tuple(int(255 * c) for c in colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0), 1), min(max(v, 0), 1)))


def _noise(rng: random.Random, size, mode="L"):
    """Uniform noise image from ``rng`` (PIL's effect_noise cannot be seeded)."""
    n = size[0] * size[1] * len(mode)
    return Image.frombytes(mode, size, rng.getrandbits(8 * n).to_bytes(n, "little"))


def _draw_shape(draw, shape, box, colour, width):
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if shape == "ellipse":
        draw.ellipse(box, fill=colour)
    elif shape == "rectangle":
        draw.rectangle(box, fill=colour)
    elif shape == "triangle":
        draw.polygon([(cx, y0), (x1, y1), (x0, y1)], fill=colour)
    elif shape == "cross":
        draw.rectangle((cx - width, y0, cx + width, y1), fill=colour)
        draw.rectangle((x0, cy - width, x1, cy + width), fill=colour)
    elif shape == "diamond":
        draw.polygon([(cx, y0), (x1, cy), (cx, y1), (x0, cy)], fill=colour)
    else:  # ring
        draw.ellipse(box, outline=colour, width=max(2, int(width)))


def render_image(class_index: int, num_classes: int, size: int, rng: random.Random) -> Image.Image:
    """One image of ``class_index``: class hue + class shape, everything else random."""
    hue = class_index / max(num_classes, 1) + rng.uniform(-0.03, 0.03)
    img = Image.new("RGB", (size, size), _rgb(hue, 0.6 + rng.uniform(-0.15, 0.15), 0.7 + rng.uniform(-0.2, 0.2)))
    # Low-frequency blotches, like a background that is not a studio wall.
    blotch = _noise(rng, (max(2, size // 16),) * 2, "RGB").resize((size, size), Image.BILINEAR)
    img = Image.blend(img, blotch, 0.25)
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(0, 2)):  # distractors in random colours
        r = rng.uniform(0.05, 0.12) * size
        x, y = rng.uniform(0, size), rng.uniform(0, size)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=_rgb(rng.random(), 0.3, rng.uniform(0.3, 0.9)))
    extent = rng.uniform(0.35, 0.6) * size
    x0, y0 = rng.uniform(0, size - extent), rng.uniform(0, size - extent)
    colour = _rgb(hue + 0.5, 0.8, 0.95 + rng.uniform(-0.1, 0.05))
    _draw_shape(draw, SHAPES[class_index % len(SHAPES)], (x0, y0, x0 + extent, y0 + extent), colour, extent / 8)
    return Image.blend(img, _noise(rng, (size, size), "RGB"), 0.15)


def write_dataset(out: str, classes: int, per_split: dict, size: int, seed: int) -> int:
    """Write every split; returns the number of images written."""
    written = 0
    for split_index, split in enumerate(SPLITS):
        for c in range(classes):
            folder = os.path.join(out, split, class_folder(c))
            os.makedirs(folder, exist_ok=True)
            for i in range(per_split[split]):
                # One seeded stream per image: the same flags always write the same bytes.
                rng = random.Random("{}/{}/{}/{}".format(seed, split_index, c, i))
                render_image(c, classes, size, rng).save(
                    os.path.join(folder, "{:03d}_{:04d}.jpg".format(c + 1, i)), "JPEG", quality=90)
                written += 1
    return written


def parse_args(argv):
    p = argparse.ArgumentParser(description="Write a small learnable dog-breed-shaped dataset.")
    p.add_argument("--out", help="output folder (gets train/ valid/ test/)")
    p.add_argument("--classes", type=int, default=5)
    p.add_argument("--train-per-class", type=int, default=20)
    p.add_argument("--valid-per-class", type=int, default=5)
    p.add_argument("--test-per-class", type=int, default=5)
    p.add_argument("--size", type=int, default=64, help="image side in pixels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sample", metavar="FILE", help="write one image of class 1 to FILE and stop")
    args = p.parse_args(argv)
    if not args.out and not args.sample:
        p.error("give --out DIR (or --sample FILE)")
    if args.classes < 1 or args.size < 8:
        p.error("--classes must be >= 1 and --size >= 8")
    if min(args.train_per_class, args.valid_per_class, args.test_per_class) < 0:
        p.error("per-class counts must not be negative")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.sample:
        os.makedirs(os.path.dirname(os.path.abspath(args.sample)), exist_ok=True)
        render_image(0, max(args.classes, 1), args.size, random.Random(args.seed)).save(
            args.sample, "JPEG", quality=85)
        print("wrote {}".format(args.sample))
        return 0
    per_split = {"train": args.train_per_class, "valid": args.valid_per_class, "test": args.test_per_class}
    n = write_dataset(args.out, args.classes, per_split, args.size, args.seed)
    print("wrote {} images in {} classes to {}".format(n, args.classes, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
