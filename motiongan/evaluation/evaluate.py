"""``motiongan evaluate``: generate every clip of a split from its first frame and all its target
landmarks (frame by frame, recurrent state carried), score it, and write the paper's Table 1 with three
reference rows: "real video" (the real frames: the upper bound), "copy source" (the source frame repeated:
what a model that ignores the landmarks scores) and "landmark warp" (the source's own pixels moved by the
thin-plate spline of its landmarks onto the target's, no network: what a generator must beat to be worth
its weights; ``--checkpoint warp`` is this row).

With ``--mouths own``, each generator row also has a row "NAME + own mouths": the same frames with the
opened mouth and closing eyes filled from the same person's own real frames (:mod:`motiongan.mouths`),
the bank of each clip built from that clip's frames AFTER the scored window, never a scored one. A clip
with fewer than ``MIN_DONORS`` such frames keeps the plain frames in that row (counted in the metadata as
``clips_without_own_mouths``), so every row covers the same clips and frames.

With ``--mesh``, a fourth reference row "mesh warp": the source's pixels moved by the dense face mesh
(:mod:`motiongan.mesh_motion`, as ``animate --motion mesh``): the 468-point mesh found on the source frame
and on each real target frame (in the box of its target landmarks, as the other rows' landmarks come from
the real frames), the 68-point spline outside the mesh; a frame whose mesh is not found keeps the landmark
warp's frame (counted in the metadata as ``mesh_fallback_frames``). Scored by the same registry as every
row; with ``--mouths own`` as well, its twin "mesh warp + own mouths" (the same donors, put on the target's 68
points: ``python benchmarks/mesh_tradeoffs.py`` measures where the mesh put the lips as worse). The table then
also has a column "face PSNR" (:data:`FACE_PSNR`): PSNR inside the target's 68-point
face hull (the convex hull of its landmarks), where dense motion differs from the spline, for every row
with pixels.

The columns are the registered metrics of :mod:`motiongan.evaluation.registry`, pooled from the per-frame
series of :mod:`motiongan.evaluation.scoring` (how each is measured is written there). Scores of a row and
clip that were computed before are read from the score cache (:mod:`motiongan.evaluation.score_cache`).
The dlib half of the scoring (most of the CPU time) runs in ``--workers`` processes while this one
generates the next clip and runs V; a script that calls :func:`evaluate` needs the usual
``if __name__ == "__main__":`` guard for them to start (without it, everything runs in this process).
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from ..checkpoint import CheckpointError
from ..convention import to_pixels, to_tensor
from ..data import Cache, EvalClips, SplitOptions
from ..draw import draw_landmarks
from ..errors import ConfigError
from ..filtering import SETTINGS, filter_track
from ..inference.model import MotionGAN
from ..landmarks import CLOSING_EYE, EYE_BOX, MOUTH_GROW, OPEN_MOUTH
from ..media import VideoWriter, atomic_write_bytes
from ..models import load_generator
from ..motion import warp
from ..mouths import MouthBank, RealMouths
from ..networks import LandmarkWarp
from ..options import check_ranges, option
from . import metrics as M
from .registry import COUNTS, METRICS, Metric, fmt, summarise
from .score_cache import ScoreCache, file_digest, generator_identity, source_digest
from .scoring import Scorer

__all__ = ["EvaluateOptions", "ScoringOptions", "evaluate", "summarise", "Scorer", "COLUMNS", "REFERENCE_ROWS"]

REAL, COPY, WARP_ROW = REFERENCE_ROWS = ("real video", "copy source", "landmark warp")
MESH_ROW = "mesh warp"  # the reference row of dense motion (--mesh)
# PSNR inside the target's 68-point face hull (the series ``face_psnr``, computed here, with --mesh): pooled
# by the registry's rules, but not registered (a column of --mesh tables only)
FACE_PSNR = Metric("face PSNR", "face_psnr", lambda x: x.mean(), images=True, finite=True)
MESH_SOURCES = ("mesh_motion.py", "face/mesh.py", "motion.py", "landmarks.py", "convention.py")
COLUMNS = [*METRICS, *COUNTS]  # the table's columns, in order (the registry's)
OWN_MOUTHS = " + own mouths"  # the suffix of a generator row's twin with own mouths
MIN_DONORS = 20  # a clip needs this many frames after the scored window for its own-mouth bank


@dataclass
class Row:
    """A row of the table: a reference made of the real frames (``model`` None), or a generator's frames.
    ``identity``: what its scores depend on besides the clip (the score cache's key)."""

    name: str
    identity: str
    model: MotionGAN | None = None
    filter_targets: bool = False  # drive the generator with the One Euro filtered landmarks
    own_mouths: bool = False  # fill mouths and closing eyes from the clip's frames after the scored window
    mesher: object | None = None  # the mesh warp row: its MeshLandmarker

    def frames(self, clip: dict, real: np.ndarray, lms: np.ndarray, bank: MouthBank | None = None,
               plain: np.ndarray | None = None) -> np.ndarray:
        """The row's frames of a clip. A row with own mouths fills ``plain`` (its plain twin's frames, when
        already made; else it generates them) from ``bank`` (the clip's frames after the scored window; None:
        too few, the plain frames as they are)."""
        if self.name == REAL:
            return real
        targets = filter_track(lms) if self.filter_targets else lms
        if self.mesher is not None:
            frames = plain if plain is not None else mesh_frames(real, lms, self.mesher)[0]
        elif self.model is None:
            return np.repeat(real[:1], len(real), 0)
        else:
            frames = plain if plain is not None else \
                _images(torch.stack(list(self.model.generate(clip["frames"][0], lms[0], targets))))
        if not self.own_mouths or bank is None:
            return frames
        fill = RealMouths(real[0], lms[0], bank)
        return np.stack([fill(f, t) for f, t in zip(frames, targets)])


def mesh_frames(real: np.ndarray, lms: np.ndarray, mesher) -> tuple[np.ndarray, int]:
    """The mesh warp of a clip: ``real[0]`` moved by its mesh onto each real frame's (self-reenactment, the
    meshes found in the boxes of the frames' landmarks), the 68-point spline outside the mesh; and how many
    frames kept the landmark warp because a mesh was not found (all of them when the source's was not)."""
    from ..face.mesh import MIRROR, MeshError, topology
    from ..mesh_motion import mesh_warp

    triangles, out, lost = topology()[0], [], 0
    try:
        source = mesher(real[0], lms[0], "source frame")
    except MeshError:
        source = None
    for frame, target in zip(real, lms):
        try:
            mesh = None if source is None else mesher(frame, target, "target frame")
        except MeshError:
            mesh = None
        if mesh is None:
            lost += 1
            out.append(_images(warp(to_tensor(real[0])[None], torch.from_numpy(lms[:1]).float(),
                                    torch.from_numpy(target[None]).float(), real.shape[1]))[0])
        else:
            out.append(mesh_warp(real[0], source, mesh, lms[0], target, triangles, mirror=MIRROR))
    return np.stack(out), lost


def face_psnr(frames: np.ndarray, real: np.ndarray, lms: np.ndarray) -> list[float]:
    """PSNR of each frame against the real one inside the target's 68-point face hull (the series of
    :data:`FACE_PSNR`)."""
    out = []
    for g, r, t in zip(frames, real, lms):
        mask = np.zeros(g.shape[:2], np.uint8)
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(t).astype(np.int32)), 1)
        inside = mask.astype(bool)
        out.append(M.psnr(g[inside], r[inside]) if inside.any() else float("nan"))
    return out


def _images(x: torch.Tensor) -> np.ndarray:
    """(T, 3, H, W) in [-1, 1] -> (T, H, W, 3) uint8, as :func:`motiongan.convention.to_image` frame by frame."""
    return to_pixels(x.detach().float().clamp(-1, 1)).round().byte().movedim(-3, -1).cpu().numpy()


@dataclass
class ScoringOptions(SplitOptions):
    """What ``evaluate`` and ``compare`` both take: the test people, the frames per clip, the videos, the score
    cache and the scoring workers (their flags are made from these fields)."""

    max_frames: int | None = option(None, "evaluate at most this many frames per clip")
    videos: bool = option(True, "write each clip's videos for every generator row",
                          negative="write no per-clip videos (only metrics.json and the target landmarks): faster")
    score_cache: str | None = option("auto", "where scores are kept between runs and read again: 'auto' "
                                             "($MOTIONGAN_CACHE/scores, else ~/.cache/motiongan/scores), 'none', "
                                             "or a folder")
    workers: int | None = option(None, "processes that run the dlib half of the scores beside this one (default: "
                                       "the CPU count, at most 8; 0: none)", range=(0, 64))

    def __post_init__(self):
        if self.max_frames is not None and self.max_frames < 1:
            raise ConfigError(f"--max-frames {self.max_frames}: need at least 1 frame per clip")
        check_ranges(self)


@dataclass
class EvaluateOptions(ScoringOptions):
    """Which clips and frames ``evaluate`` scores (the CLI's flags are made from these fields)."""

    split: str = option("test", "all: every clip (for a cache that holds only test people)",
                        choices=["train", "test", "all"])
    filter_targets: bool = option(False, "drive the generator rows with the target landmarks through the One Euro "
                                         "filter, as animate drives with a video (scored against the real frames "
                                         "and their own landmarks all the same)")
    mouths: str = option("none", "own: add a row per generator with its mouths and closing eyes filled from the "
                                 "same clip's frames after the scored window (needs --max-frames)",
                         choices=["none", "own"])
    mesh: bool = option(False, "add the reference row 'mesh warp' (the source moved by the face mesh found on each "
                               "real frame, as animate --motion mesh; needs the mesh extra, ai-edge-litert) and the "
                               "column 'face PSNR' (inside the target's 68-point face hull)")

    def __post_init__(self):
        super().__post_init__()
        if self.mouths == "own" and self.max_frames is None:
            raise ConfigError("--mouths own takes its donors from the frames after the scored window: give "
                              "--max-frames (e.g. 40)", path="--mouths")


def evaluate(checkpoints: list[str], data: str, out: str, options: EvaluateOptions | None = None,
             device: str = "cpu", progress: bool = True) -> dict:
    """Score every checkpoint (``warp``: the landmark warp) and the reference rows on the same clips and
    frames; write the tables to ``out``. Returns the table, its metadata, each row's per-clip scores and
    the row name of each checkpoint."""
    o, out = options or EvaluateOptions(), Path(out)
    cache = Cache(data)
    rows, names = _rows(checkpoints, cache, device, o.filter_targets, o.mouths == "own", o.mesh)  # checked first
    clips = EvalClips(cache, o.split, max_frames=o.max_frames, people=o)
    store = ScoreCache.from_option(o.score_cache, device)
    per_row, pending, lost = {r.name: [] for r in rows}, [], []
    workers = min(os.cpu_count() or 1, 8) if o.workers is None else o.workers
    with Scorer(device, workers) as scorer:  # clip i is generated while the workers score clip i - 1
        for i in tqdm(range(len(clips)), desc="evaluate", unit="clip", disable=not progress):
            pending.append(_start_clip(clips, i, rows, scorer, store, out, o.videos, o.mesh, lost))
            while len(pending) > (1 if i + 1 < len(clips) else 0):
                for name, scores in pending.pop(0)().items():
                    per_row[name].append(scores)
    table = {name: summarise(per) for name, per in per_row.items()}
    if o.mesh:
        for name, per in per_row.items():
            table[name][FACE_PSNR.name], table[name]["covers"][FACE_PSNR.name] = FACE_PSNR(per) if name != REAL \
                else (None, 0)
    short = [clips.clip_id(i) for i in range(len(clips)) if clips.after_window_count(i) < MIN_DONORS] \
        if o.mouths == "own" else []
    meta = {"data": str(data), "split": o.split, "filter_targets": o.filter_targets, "clips": len(clips),
            "mouths": o.mouths, "clips_without_own_mouths": short,
            "mesh": o.mesh, "mesh_fallback_frames": sum(lost) if o.mesh else None,
            "frames": table[REAL]["frames"],
            "max_frames": o.max_frames, "checkpoints": dict(zip(names, map(str, checkpoints))),
            "detector": "dlib 68-point shape predictor (iBUG 300-W), target-landmark box, frames x2",
            "identity": "SFace cosine to the real first frame; dlib ResNet descriptor distance < 0.6",
            "psnr_ssim": "RGB 0-255; SSIM Gaussian sigma 1.5",
            "mouth": f"the bounding box of target points 48-67 grown by {MOUTH_GROW:g} of its size on each side",
            "open_mouth": f"frames whose target inner-lip opening exceeds the source's (frame 0) by more than "
                          f"{OPEN_MOUTH:g} inter-ocular distance",
            "sharpness": "Laplacian variance of the grey face box (target landmarks' bounding box), generated "
                         "over real, averaged over frames; open-mouth sharpness: the same in the mouth box on "
                         "open-mouth frames",
            "mouth_flicker": "per clip, the mean frame-to-frame change of the mouth box's pixels, generated over "
                             "real, averaged over clips",
            "closing_eye": f"both eye boxes ({EYE_BOX[0]:g} x and {EYE_BOX[1]:g} x the eye corners' distance each "
                           f"side of their centre) on frames where a target eye opens less than {CLOSING_EYE:g} of "
                           f"the source's",
            "face_psnr": "PSNR inside the convex hull of the target's 68 landmarks (--mesh tables)",
            "score_cache": None if store.folder is None else str(store.folder),
            "cached_clips": store.hits, "scored_clips": len(clips) * len(rows) - store.hits,
            "skipped": "LPIPS, FID, FVD: need backbone weights that cannot be downloaded here; not computed"}
    _write_tables(out, table, meta, per_row)
    return {"table": table, "meta": meta, "rows": per_row, "names": names}


def _rows(checkpoints: list[str], cache: Cache, device: str, filter_targets: bool = False,
          own_mouths: bool = False, mesh: bool = False) -> tuple[list[Row], list[str]]:
    """The reference rows, then one row per checkpoint (``warp`` is the reference row, not a second one);
    and the row name of each checkpoint. With ``filter_targets`` the generator rows are driven by filtered
    landmarks (their score-cache identity says so); with ``own_mouths`` each generator row has a twin with
    own mouths (``NAME + own mouths``); with ``mesh``, the reference row "mesh warp" after the landmark warp."""
    def row(name, model):
        identity = generator_identity(model) + (f":one-euro{SETTINGS}" if filter_targets else "")
        out = [Row(name, identity, model, filter_targets)]
        if own_mouths:
            twin = identity + f":own-mouths:{MIN_DONORS}:" + source_digest(("mouths.py", "motion.py"))
            out.append(Row(name + OWN_MOUTHS, twin, model, filter_targets, own_mouths=True))
        return out

    warp = MotionGAN.landmark_warp(device, size=cache.size)
    rows = [Row(REAL, REAL), Row(COPY, COPY), *row(WARP_ROW, warp)]
    if mesh:
        from ..face.mesh import MODEL, MeshLandmarker

        identity = f"{MESH_ROW} {file_digest(MODEL)} {source_digest(MESH_SOURCES)}"
        mesher = MeshLandmarker(threads=1)
        rows.append(Row(MESH_ROW, identity, mesher=mesher))
        if own_mouths:  # the mesh's pixels with the same donors as the landmark warp's twin
            rows.append(Row(MESH_ROW + OWN_MOUTHS, identity + f":own-mouths:{MIN_DONORS}:" +
                            source_digest(("mouths.py",)), mesher=mesher, own_mouths=True))
    names = []
    for c in checkpoints:
        m = load_generator(c, device, size=cache.size)
        if type(m.G) is LandmarkWarp:  # the landmark warp itself (a warp generator is its subclass)
            names.append(WARP_ROW)
            continue
        if m.size != cache.size:
            raise CheckpointError(f"{c}: generates {m.size} x {m.size} frames but {cache.root} holds {cache.size} x "
                                  f"{cache.size} crops; evaluate on a cache prepared at --size {m.size}")
        names.append(_unique(m.name, [r.name for r in rows]))
        rows.extend(row(names[-1], m))
    return rows, names


def _unique(name: str, taken: list[str]) -> str:
    n, out = 1, name
    while out in taken:
        n += 1
        out = f"{name}-{n}"
    return out


def _start_clip(clips: EvalClips, i: int, rows: list[Row], scorer: Scorer, store: ScoreCache, out: Path,
                videos: bool, face: bool = False, lost: list | None = None):
    """Begin clip ``i``: rows the score cache has are read, the others generated and handed to the scorer.
    Returns a function that waits for their scores, keeps them, writes each generator row's
    ``metrics.json`` and target landmarks (and with ``videos`` its videos) and gives ``{row: scores}``.
    With ``face``, every row with pixels also gets the series ``face_psnr`` (a cached row without it: its
    frames made again for it alone, not scored again); ``lost`` gets the mesh row's fallback frames."""
    clip = clips[i]
    real, lms = _images(clip["frames"]), clip["landmarks"].numpy()
    digest = file_digest(clips.cache.root / "clips" / clips.cache.clips[clips.clip_ids[i]]["file"]) \
        if store.folder is not None else ""
    keys = {r.name: store.key(r.identity, digest, len(real), clips.size) for r in rows}
    result = {r.name: store.get(keys[r.name]) for r in rows}
    faceless = {r.name for r in rows if face and r.name != REAL and result[r.name] is not None
                and "face_psnr" not in result[r.name]}
    todo_rows = [r for r in rows if result[r.name] is None or (videos and r.model is not None) or r.name in faceless]
    bank = own_bank(clips, i) if any(r.own_mouths for r in todo_rows) else None
    frames = {}
    for r in todo_rows:  # a twin with own mouths fills its plain row's frames (rows come plain first)
        plain = frames.get(r.name[:-len(OWN_MOUTHS)]) if r.own_mouths else None
        if r.name == MESH_ROW:
            frames[r.name], mesh_lost = mesh_frames(real, lms, r.mesher)
        else:
            frames[r.name] = r.frames(clip, real, lms, bank, plain)
    extra = {name: {"face_psnr": face_psnr(f, real, lms)} for name, f in frames.items() if face and name != REAL}
    if face and any(r.name == MESH_ROW for r in todo_rows):
        extra[MESH_ROW]["mesh_lost"] = mesh_lost
    for name in faceless:
        result[name] = {**result[name], **extra[name]}
        store.put(keys[name], result[name])
    todo = {r.name: (frames[r.name], r.name != REAL) for r in rows if result[r.name] is None}
    scoring = scorer.start(todo, real, lms) if todo else dict

    def finish() -> dict:
        for name, scores in scoring().items():
            scores.update(extra.get(name, {}))
            store.put(keys[name], scores)
            result[name] = scores
        if lost is not None and MESH_ROW in result:
            lost.append(int(result[MESH_ROW].get("mesh_lost", 0)))
        for r in rows:
            if r.model is not None:
                _write_clip(out / r.name / clip["clip_id"], frames.get(r.name) if videos else None, real, lms,
                            clip["fps"], result[r.name])
        return result
    return finish


def own_bank(clips: EvalClips, i: int) -> MouthBank | None:
    """Clip ``i``'s own mouths: a bank of its frames after the scored window (None: fewer than MIN_DONORS)."""
    frames, lms, idx = clips.after_window(i)
    if len(frames) < MIN_DONORS:
        return None
    return MouthBank.build(zip(frames, lms), indices=idx, source=clips.clip_id(i))


def _write_clip(folder: Path, gen, real, lms, fps, scores):
    """A generator row's clip: ``metrics.json`` and ``target_landmarks.npy``; with ``gen``, the videos."""
    folder.mkdir(parents=True, exist_ok=True)
    if gen is not None:
        with VideoWriter(folder / "generated.mp4", fps) as vg, VideoWriter(folder / "real.mp4", fps) as vr, \
                VideoWriter(folder / "side_by_side.mp4", fps) as vs:
            for g, r, t in zip(gen, real, lms):
                vg.write(g)
                vr.write(r)
                vs.write(np.concatenate([r, draw_landmarks(np.zeros_like(r), t, radius=1), g], 1))
    buf = io.BytesIO()
    np.save(buf, lms.astype(np.float32))
    atomic_write_bytes(folder / "target_landmarks.npy", buf.getvalue())
    atomic_write_bytes(folder / "metrics.json", json.dumps({**summarise([scores]), "per_frame": scores}).encode())


def _write_tables(out: Path, table: dict, meta: dict, rows: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    columns = COLUMNS + ([FACE_PSNR.name] if meta.get("mesh") else [])
    show = lambda v, k: f"{v:.2f}" if k == FACE_PSNR.name and v is not None else fmt(v, k)  # noqa: E731
    md = ["| row | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, r in table.items():
        md.append(f"| {name} | " + " | ".join(show(r[k], k) for k in columns) + " |")
    md.append("")
    if meta.get("mesh"):
        md.append(f"Mesh warp: the face mesh found on the source and on each real target frame; "
                  f"{meta['mesh_fallback_frames']} frames without a mesh keep the landmark warp's frame. "
                  f"face PSNR: {meta['face_psnr']}.")
        md.append("")
    if meta.get("mouths") == "own":
        md.append(f"Own mouths: each clip's bank holds its frames after the scored window; "
                  f"{len(meta['clips_without_own_mouths'])} clips have fewer than {MIN_DONORS} and keep the plain "
                  f"frames in the own-mouth rows.")
        md.append("")
    md.append(f"{meta['clips']} clips, {meta['frames']} frames of the '{meta['split']}' split of {meta['data']}. "
              f"AUC x100 and failure rate % of the normalised landmark error ({meta['detector']}); "
              f"PSNR/SSIM on {meta['psnr_ssim']}; mouth: {meta['mouth']}; open-mouth: {meta['open_mouth']}; "
              f"sharpness: {meta['sharpness']}; mouth flicker: {meta['mouth_flicker']} (1: as the real video); "
              f"closing-eye PSNR: {meta['closing_eye']}; identity: {meta['identity']}. PSNR leaves out frames equal to "
              f"the real ones (infinite). {meta['skipped']}.")
    atomic_write_bytes(out / "table.md", ("\n".join(md) + "\n").encode())
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["row"] + columns)
    for name, r in table.items():
        w.writerow([name] + [r[k] for k in columns])
    atomic_write_bytes(out / "table.csv", buf.getvalue().encode())
    atomic_write_bytes(out / "table.json", json.dumps({"rows": table, **meta}, indent=1).encode())
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, per in rows.items():
        x, y = M.ced(np.concatenate([p["landmark_error"] for p in per]), 0.1)
        ax.plot(x, y * 100, label=f"{name} (AUC {table[name]['AUC@0.1']:.1f})")
    ax.set_xlabel("point-to-point error / inter-ocular distance")
    ax.set_ylabel("frames (%)")
    ax.set_xlim(0, 0.1)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = out / ".ced.tmp.png"
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, out / "ced.png")
