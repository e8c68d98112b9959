"""``motiongan prepare``: detect/read landmarks, crop and resize every frame, and cache it.

Layouts: ``300vw`` (``NNN/vid.avi`` + ``NNN/annot/*.pts``, ground-truth landmarks), ``videos`` (any
folder of videos; pseudo landmarks from the detector, as the paper does for GRID) and ``images`` (a folder
of face images; one clip per person, an optional expression label from the file name). Preparation runs
in parallel over clips, resumes (finished clips are kept), and every clip file is complete or absent.
"""
from __future__ import annotations

import ctypes
import json
import multiprocessing
import os
import re
import signal
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..crop import CROP_SCALE, box_to_affine, crop, crop_box
from ..errors import MotionGANError, note
from ..landmarks import LandmarkFileError, apply_affine, read_pts, smooth
from ..media import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    MediaError,
    WriteError,
    atomic_write_bytes,
    check_output_folder,
    has_audio,
    iter_video,
    read_image,
    remove_stale_temporaries,
    video_info,
)
from ..options import Checked, option
from .cache import FORMAT_VERSION, CacheError, write_clip
from .split import image_person_and_label, person_aliases


@dataclass
class Settings(Checked):
    """How a cache is made (recorded in it; the CLI's flags are made from these fields; ranges checked when
    made, before anything is read)."""

    size: int = option(128, "side of the cached face crops, pixels", range=(16, 4096))
    scale: float = option(CROP_SCALE, "crop side / larger landmark extent", range=(1.0, 4.0))
    box_sigma: float = option(3.0, "temporal smoothing of crop boxes, frames", range=(0, None))
    landmark_sigma: float = option(0.0, "temporal smoothing of detected landmarks, frames (0: raw, as the paper)",
                                   range=(0, None))
    quality: int = option(95, "JPEG quality of cached frames", range=(1, 100))
    max_frames: int | None = option(None, "at most this many frames per video", range=(1, None))


@dataclass
class Item:
    """One clip to prepare."""

    clip_id: str
    layout: str
    person: str
    paths: list[str]
    labels: list[str] = field(default_factory=list)


def _safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def discover(src: Path, layout: str) -> list[Item]:
    """The clips of a source folder for a layout, in a stable order."""
    src = Path(src)
    if not src.is_dir():
        raise MediaError(f"{src}: no such folder")
    items: list[Item] = []
    if layout == "300vw":
        for d in sorted(p for p in src.iterdir() if p.is_dir()):
            vids = [p for p in d.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES]
            if vids:
                items.append(Item(_safe_id(d.name), layout, d.name, [str(vids[0])]))
    elif layout == "videos":
        for p in sorted(src.rglob("*")):
            if p.suffix.lower() in VIDEO_SUFFIXES:
                rel = p.relative_to(src).with_suffix("")
                person = str(rel.parent) if str(rel.parent) != "." else rel.name
                items.append(Item(_safe_id(str(rel)), layout, person, [str(p)]))
    elif layout == "images":
        groups: dict[str, list[tuple[str, str]]] = {}
        for p in sorted(src.rglob("*")):
            if p.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            folder = str(p.parent.relative_to(src))
            person, label = image_person_and_label(p.stem)
            key = person if folder == "." else f"{folder}/{person}"
            groups.setdefault(key, []).append((str(p), label))
        for key, members in groups.items():
            items.append(Item(_safe_id(key), layout, key, [m[0] for m in members], [m[1] for m in members]))
    else:
        raise MotionGANError(f"unknown layout {layout!r} (300vw, videos or images)")
    aliases = person_aliases()
    for it in items:  # several sources can share one cache: names are qualified by the source folder
        it.clip_id = _safe_id(f"{src.name}-{it.clip_id}")
        it.person = f"{src.name}/{it.person}"
        it.person = aliases.get(it.person, it.person)  # one id per real person across folders
    return items


_LANDMARKER = None


def _landmarker():
    global _LANDMARKER
    if _LANDMARKER is None:
        from ..face import FaceLandmarker

        _LANDMARKER = FaceLandmarker()
    return _LANDMARKER


def _landmarks(item: Item, st: Settings):
    """Landmarks per frame (None where missing), labels, skip notes and, for images, the paths of the images
    with a face, of one item. No decoded frame is kept: frames are decoded again when cropped, so memory
    does not grow with a video's length or resolution."""
    skipped: list[dict] = []
    if item.layout == "images":
        from ..face import NoFaceError

        found, lms, labels = [], [], []
        for path, label in zip(item.paths, item.labels):
            try:
                rgb = read_image(path)
                pts = _landmarker()(rgb, path)
            except MediaError as e:
                skipped.append({"path": path, "reason": str(e)})
                continue
            except NoFaceError:
                skipped.append({"path": path, "reason": "no frontal face (profile or no face): dropped"})
                continue
            found.append(path)
            lms.append(pts)
            labels.append(label)
        return lms, labels, skipped, found
    if item.layout == "300vw":
        annot = Path(item.paths[0]).parent / "annot"
        lms = []
        for i in range(sum(1 for _ in iter_video(item.paths[0], st.max_frames))):
            f = annot / f"{i + 1:06d}.pts"
            try:
                lms.append(read_pts(f))
            except LandmarkFileError as e:
                lms.append(None)
                skipped.append({"path": str(f), "frame": i, "reason": str(e)})
    else:
        lms = _landmarker().track(iter_video(item.paths[0], st.max_frames), name=item.paths[0])
        skipped += [{"path": item.paths[0], "frame": i, "reason": "face lost"} for i, p in enumerate(lms) if p is None]
    return lms, [""] * len(lms), skipped, None


def _crops(frames, keep: list[int], boxes: np.ndarray, size: int):
    """The crops of the kept frames, one at a time."""
    where = {i: k for k, i in enumerate(keep)}
    n = 0
    for i, rgb in enumerate(frames):
        if i in where:
            yield crop(rgb, boxes[where[i]], size)[0]
            n += 1
    if n != len(keep):
        raise MediaError(f"decoded {n} of the {len(keep)} frames found the first time")


def prepare_item(item: Item, out: Path, st: Settings) -> dict:
    """Prepare one clip into ``out/clips``; returns its manifest entry (or its failure)."""
    target = out / "clips" / f"{item.clip_id}.npz"
    try:
        lms, labels, skipped, image_paths = _landmarks(item, st)
        keep = [i for i, p in enumerate(lms) if p is not None]
        if not keep:
            reason = "no face in any frame" if lms else "no readable frames"
            return {"clip_id": item.clip_id, "failed": reason, "skipped": skipped, "paths": item.paths}
        pts = np.stack([lms[i] for i in keep])
        if item.layout == "videos" and st.landmark_sigma > 0:
            pts = smooth(pts, st.landmark_sigma)
        boxes = np.stack([crop_box(p, st.scale) for p in pts])
        if item.layout != "images":
            boxes = smooth(boxes, st.box_sigma)
        crop_lms = np.stack([apply_affine(p, box_to_affine(b, st.size)) for p, b in zip(pts, boxes)])
        frames = map(read_image, image_paths) if image_paths is not None else iter_video(item.paths[0], st.max_frames)
        fps = video_info(item.paths[0])["fps"] if item.layout != "images" else 0.0
        audio = item.layout != "images" and has_audio(item.paths[0])
        meta = {"clip_id": item.clip_id, "person": item.person, "layout": item.layout, "source": item.paths,
                "fps": fps, "audio": item.paths[0] if audio else None, "size": st.size, "scale": st.scale}
        write_clip(target, _crops(frames, keep, boxes, st.size), crop_lms, boxes, np.array(keep), meta, st.quality,
                   [labels[i] for i in keep])
        return {"clip_id": item.clip_id, "file": target.name, "person": item.person, "frames": len(keep),
                "fps": fps, "audio": meta["audio"], "source": item.paths, "labels": sorted(set(labels) - {""}),
                "skipped": skipped, "layout": item.layout}
    except WriteError:  # the cache cannot take more: every other clip would fail alike
        raise
    except (MediaError, ValueError, OSError) as e:
        return {"clip_id": item.clip_id, "failed": str(e), "skipped": [], "paths": item.paths}
    except Exception as e:  # keep going: one bad clip must not stop the others; the reason is one line
        where = traceback.extract_tb(e.__traceback__)[-1]
        reason = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
        return {"clip_id": item.clip_id, "failed": f"{reason} (at {Path(where.filename).name}:{where.lineno})",
                "skipped": [], "paths": item.paths}


def prepare(src: Path, layout: str, out: Path, settings: Settings | None = None, workers: int | None = None,
            progress: bool = True) -> dict:
    """Prepare every clip of ``src`` into the cache ``out`` and write its manifest; returns the manifest."""
    st = settings or Settings()
    out = Path(out)
    items = discover(src, layout)
    if not items:
        wanted = {"300vw": "NNN/ folders holding a video", "videos": "video files (" + " ".join(sorted(VIDEO_SUFFIXES))
                  + ")", "images": "image files (" + " ".join(sorted(IMAGE_SUFFIXES)) + ")"}[layout]
        raise MediaError(f"{src}: nothing to prepare with --layout {layout} (looked for {wanted})")
    for folder in (out, out / "clips", out / "records"):  # before any work: a read-only cache is refused
        check_output_folder(folder)
    (out / "clips").mkdir(parents=True, exist_ok=True)
    settings_file = out / "settings.json"
    if settings_file.exists():
        old = json.loads(settings_file.read_text())
        if (old["size"] != st.size or old["scale"] != st.scale) and any((out / "clips").glob("*.npz")):
            raise CacheError(f"{out}: prepared with size {old['size']} and scale {old['scale']}; "
                             f"use another --out for size {st.size}, scale {st.scale}")
        if old["size"] != st.size or old["scale"] != st.scale:  # no clip was ever prepared with them
            note(f"{out}: holds no prepared clip; its settings (size {old['size']}, scale {old['scale']}) are "
                 f"replaced by size {st.size}, scale {st.scale}")
            atomic_write_bytes(settings_file, json.dumps(asdict(st)).encode())
    else:
        atomic_write_bytes(settings_file, json.dumps(asdict(st)).encode())
    records_dir = out / "records"
    records_dir.mkdir(exist_ok=True)
    for folder in (out, out / "clips", records_dir):  # what a killed preparation left
        remove_stale_temporaries(folder)
    todo = [it for it in items if not (out / "clips" / f"{it.clip_id}.npz").exists()
            or not (records_dir / f"{it.clip_id}.json").exists()]
    workers = workers or min(len(todo), os.cpu_count() or 1) or 1
    bar = tqdm(total=len(items), initial=len(items) - len(todo), desc=f"prepare {Path(src).name}",
               unit="clip", disable=not progress)

    def record(rec):
        atomic_write_bytes(records_dir / f"{rec['clip_id']}.json", json.dumps(rec).encode())
        bar.update(1)

    if workers <= 1:
        for it in todo:
            record(prepare_item(it, out, st))
    else:
        _in_workers(todo, out, st, workers, record)
    bar.close()
    manifest = write_manifest(out)
    if not manifest["clips"]:  # nothing usable: no manifest, so nothing reads this folder as a cache
        (out / "manifest.json").unlink(missing_ok=True)
        first = manifest["failed"][0] if manifest["failed"] else None
        raise MediaError(f"no clip could be prepared ({len(manifest['failed'])} failed"
                         + (f"; {first['clip_id']}: {first['reason']}" if first else "") + ")", path=src)
    return manifest


def _in_workers(todo: list[Item], out: Path, st: Settings, workers: int, record) -> None:
    """``record`` each clip's entry, prepared by ``workers`` processes. On an interruption the workers are
    killed at once (a long clip could keep them for minutes) and their temporary files removed."""
    before = set(multiprocessing.active_children())
    pool = ProcessPoolExecutor(workers, initializer=_die_with_parent)
    try:
        for fut in as_completed([pool.submit(prepare_item, it, out, st) for it in todo]):
            record(fut.result())
    except BaseException:
        for proc in set(multiprocessing.active_children()) - before:
            proc.kill()
            proc.join()
        remove_stale_temporaries(out / "clips")
        raise
    finally:  # no queued clip starts, no worker outlives this
        pool.shutdown(wait=True, cancel_futures=True)


def _die_with_parent() -> None:
    """A worker process is killed when the parent dies, even by SIGKILL (Linux prctl PR_SET_PDEATHSIG)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def write_manifest(out: Path) -> dict:
    """Gather every clip record of the cache (all preparation runs into it) into ``manifest.json``."""
    st = json.loads((out / "settings.json").read_text())
    records = [json.loads(p.read_text()) for p in sorted((out / "records").glob("*.json"))]
    clips = [r for r in records if "failed" not in r and (out / "clips" / r["file"]).exists()]
    manifest = {
        "format": FORMAT_VERSION, "settings": st,
        "clips": [{k: r[k] for k in ("clip_id", "file", "person", "frames", "fps", "audio", "source", "labels",
                                     "layout")} for r in clips],
        "persons": sorted({r["person"] for r in clips}),
        "frames": int(sum(r["frames"] for r in clips)),
        "failed": [{"clip_id": r["clip_id"], "paths": r["paths"], "reason": r["failed"]}
                   for r in records if "failed" in r],
        "skipped": [s for r in records for s in r["skipped"]],
    }
    atomic_write_bytes(out / "manifest.json", json.dumps(manifest, indent=1).encode())
    return manifest
