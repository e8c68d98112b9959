"""Summarise a prepared cache and save a contact sheet of its crops with their landmarks drawn.

Prints clips, frames, people, failed clips, skipped frames/files and the cache's size on disk; the PNG
shows, per clip, one crop as cached and the same crop mirrored with its landmark indices permuted:
points 36-41 (red) sit on the eye on the image's left in both, as the iBUG order requires.

    python scripts/cache_report.py CACHE [--out contact_sheet.png]
"""
import argparse
from pathlib import Path

from motiongan.data import Cache
from motiongan.draw import draw_landmarks, grid
from motiongan.landmarks import RIGHT_EYE, mirror


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cache", type=Path)
    ap.add_argument("--out", type=Path, default=Path("contact_sheet.png"))
    args = ap.parse_args()
    cache = Cache(args.cache)
    m = cache.manifest
    size = sum(p.stat().st_size for p in args.cache.rglob("*") if p.is_file())
    print(f"clips {len(m['clips'])}, frames {m['frames']}, people {len(m['persons'])}, "
          f"failed clips {len(m['failed'])}, skipped frames/files {len(m['skipped'])}, "
          f"size {size / 2**20:.1f} MiB ({size / max(m['frames'], 1) / 1024:.1f} KiB per frame)")
    for f in m["failed"]:
        print(f"  failed {f['clip_id']}: {f['reason']}")
    tiles = []
    for i in range(len(cache.clips)):
        clip = cache.clip(i)
        j = len(clip) // 2
        img, pts = clip.frame(j), clip.landmarks[j]
        mimg, mpts = mirror(img, pts)
        for im, p in ((img, pts), (mimg, mpts)):
            t = draw_landmarks(im, p, (0, 255, 0), radius=1)
            tiles.append(draw_landmarks(t, p[list(RIGHT_EYE)], (255, 0, 0), radius=2, lines=False))  # points 36-41
    from motiongan.media import write_image

    write_image(args.out, grid(tiles, 12))
    print(f"wrote {args.out}: pairs of (crop, mirrored crop); red = points 36-41 (the image-left eye)")


if __name__ == "__main__":
    main()
