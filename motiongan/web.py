"""``motiongan web``: a page to animate, edit and make faces speak in the browser (Gradio Blocks).

The page calls the same library functions as the command line (``Animator.animate``, ``load_source``,
``edit_image``, ``motiongan.speech.speak.speak``, all rendering through ``Animator.render``) and shows the
command line's messages for bad input (no face, several faces, unreadable files, bad audio), from the
errors' fields (:class:`motiongan.errors.MotionGANError`) with each file called by the name it was
uploaded under, plus a limit on the driver's or recording's length. Gradio is an
optional extra (``pip install 'motiongan[web]'``) imported only here, only when the page is served.

Everything the page writes (uploads, Gradio's cache, results) lives in one temporary folder, made when
the server starts and removed when it stops (Ctrl-C or SIGTERM); results older than an hour are pruned
while it runs. Requests go through Gradio's queue: each user gets their own result, and the generator runs
one request at a time (``concurrency_id="model"``).
"""
from __future__ import annotations

import html
import importlib.util
import os
import shutil
import signal
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ConfigError, MotionGANError, collecting_notes
from .media import IMAGE_SUFFIXES, TRACK_SUFFIX, VIDEO_SUFFIXES
from .models import ModelOptions
from .options import Checked, add_options, option, options_from

INSTALL_HINT = "the web page needs Gradio: pip install 'motiongan[web]' (or: pip install -r requirements-web.txt)"
IMAGE_TYPES = sorted(IMAGE_SUFFIXES)  # what the upload fields offer: what the commands read
DRIVER_TYPES = sorted(VIDEO_SUFFIXES) + [TRACK_SUFFIX]
KEEP_RESULTS_S = 3600
PAGE_NAMES = {"--size": "output size", "--mouths": "mouths", "--motion": "motion"}  # settings as the page names them


@dataclass
class WebOptions(Checked):
    """Where the page listens and what it accepts (``motiongan web``'s flags are made from these fields)."""

    host: str = option("127.0.0.1", "address to listen on (0.0.0.0: every interface)")
    port: int = option(7860, "port to listen on (0: any free one)", range=(0, 65535))
    max_frames: int = option(750, "refuse drivers and recordings longer than this many frames (750 is 30 s at "
                                  "25 fps)", range=(1, None))


def add_commands(sub) -> None:
    p = sub.add_parser("web", help="serve a web page to animate and edit faces in the browser")
    add_options(p, WebOptions)
    add_options(p, ModelOptions)
    p.set_defaults(func=_serve)


def _serve(args) -> None:
    if importlib.util.find_spec("gradio") is None:
        raise SystemExit(f"motiongan web: error: {INSTALL_HINT}")
    o = options_from(args, WebOptions)
    check_address(o.host, o.port)
    model = options_from(args, ModelOptions).load()  # before anything is written: a bad checkpoint leaves none
    root = Path(tempfile.mkdtemp(prefix="motiongan-web-"))
    # Gradio reads its upload folder when it is imported, so set it first
    os.environ["GRADIO_TEMP_DIR"] = str(root / "gradio")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    signal.signal(signal.SIGTERM, _interrupt)  # stop as on Ctrl-C, so the folder is removed
    try:
        demo = build_page(model, root / "results", max_frames=o.max_frames)
        print(f"motiongan web: model {model.name} ({model.size} px), drivers up to {o.max_frames} frames, "
              f"temporary folder {root}", flush=True)
        try:
            demo.launch(server_name=o.host, server_port=o.port, allowed_paths=[str(root)], ssr_mode=False,
                        footer_links=[], theme=_theme(), max_file_size="500mb")
        except OSError as e:  # port taken since it was checked
            raise MotionGANError(f"cannot listen here: {e}", path=f"{o.host}:{o.port}") from None
    finally:
        shutil.rmtree(root, ignore_errors=True)


def check_address(host: str, port: int) -> None:
    """Refuse an address the page cannot listen on (a port in use, an address not this machine's) before
    anything loads."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does: TIME_WAIT is no obstacle
            s.bind(infos[0][4])
    except OSError as e:
        raise MotionGANError(f"cannot listen here: {e.strerror or e}", path=f"{host}:{port}",
                             hint="choose another --port or --host") from None


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _gradio():
    try:
        import gradio as gr
    except ImportError:
        raise SystemExit(f"motiongan web: error: {INSTALL_HINT}") from None
    return gr


def _theme():
    gr = _gradio()
    # system fonts: the default theme fetches web fonts, and the page must work offline
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                             font_mono=["ui-monospace", "monospace"])


@contextmanager
def page_names():
    """A ConfigError of a setting (the command line's check, message and all) named as the page names it,
    not by the command line's flag (:data:`PAGE_NAMES`)."""
    try:
        yield
    except ConfigError as e:
        if e.path not in PAGE_NAMES:
            raise
        raise ConfigError(e.reason, path=PAGE_NAMES[e.path], hint=e.hint) from None


def speech_function():
    """``motiongan.speech.speak.speak`` (what ``motiongan speak`` calls), or None if it cannot be imported."""
    try:
        from .speech.speak import speak
    except ImportError:
        return None
    return speak


class Page:
    """What the page's buttons do, on the library's functions; results go to folders under ``results``."""

    def __init__(self, model, results: Path, max_frames: int = 750, expressions: str | None = None):
        from .face import FaceLandmarker
        from .inference import edit as E
        from .inference.animate import Animator

        self.model, self.results, self.max_frames = model, Path(results), max_frames
        self.animator = Animator(model)  # its landmarker runs inside the model's queue
        self.preview_landmarker = FaceLandmarker()  # previews on upload do not wait for the model (own queue)
        self.expressions = E.load_expressions(expressions)
        self._speech_model = None
        self.results.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------------------------------ helpers
    def job_folder(self) -> Path:
        """A fresh folder for one request's files; folders older than an hour are removed."""
        now = time.time()
        for old in self.results.iterdir():
            if now - old.stat().st_mtime > KEEP_RESULTS_S:
                shutil.rmtree(old, ignore_errors=True)
        out = self.results / uuid.uuid4().hex
        out.mkdir()
        return out

    def detect(self, photo, landmarker=None, size=None):
        """The source face as the CLI loads it (cropped at the model's size and at the output ``size``,
        ``AnimateOptions.size``), the photo with what was detected drawn on it, and the warnings (several
        faces) as text; messages call the photo by the name it was uploaded under."""
        from .inference.animate import load_source
        from .media import read_image

        with collecting_notes() as notes:
            source = load_source(read_image(photo), self.model.size, landmarker or self.animator.landmarker,
                                 Path(photo).name, size, self.model.default_output)
        return source, self.overlay(source), notes

    @staticmethod
    def overlay(source, target=None) -> np.ndarray:
        """The full photo with the detected landmarks (green), the crop the model sees (yellow) and, if
        given, target landmarks (red, crop coordinates)."""
        import cv2

        from .draw import draw_landmarks
        from .landmarks import apply_affine, invert_affine

        back = invert_affine(source.matrix)
        img = draw_landmarks(source.image, apply_affine(source.landmarks, back))
        size = source.crop.shape[0]
        corners = apply_affine(np.array([[0, 0], [size, 0], [size, size], [0, size]], np.float32) - 0.5, back)
        cv2.polylines(img, [np.round(corners).astype(np.int32)], True, (255, 220, 0),
                      max(1, round(max(img.shape[:2]) / 300)), cv2.LINE_AA)
        if target is not None:
            img = draw_landmarks(img, apply_affine(target, back), color=(255, 40, 40))
        return img

    def driver_frames(self, driving) -> int:
        """The driver's length in frames (a video's or a track's), checked against the page's limit."""
        from .inference.animate import load_driving
        from .media import video_info

        p = Path(driving)
        n = len(load_driving(p, name=p.name).track) if p.suffix.lower() == TRACK_SUFFIX else video_info(p)["frames"]
        if n > self.max_frames:
            raise MotionGANError(f"{n} frames, more than this page's limit of {self.max_frames}", path=p,
                                 hint="whoever runs the page can raise it: motiongan web --max-frames N")
        return n

    # ------------------------------------------------------------------------------------------ actions
    def animate(self, photo, driving, retarget=True, side_by_side=False, paste=False, progress=None, size=None,
                mouths="auto", motion="tps"):
        """Animate ``photo`` from ``driving`` as ``motiongan animate`` does (the same call: a video driver is
        followed frame by frame, a track read whole), with the output face ``size`` of ``--size`` (None: the
        model's, a number of pixels, or ``native``), the real mouths of ``--mouths`` (``auto``, ``none``,
        ``driver`` or a file: a video or image of the person, or a bank) and the ``--motion`` (``tps`` or
        ``mesh``); returns (overlay, video path, status text)."""
        from .inference.animate import AnimateOptions, check_options
        from .inference.mesh_driver import check_motion
        from .inference.output import check_size

        if not photo:
            raise MotionGANError("upload a photo of a face first")
        if not driving:
            raise MotionGANError("upload a driving video or a .npy landmark track (N x 68 x 2) first")
        with page_names():  # the command line's checks, before anything is read
            options = AnimateOptions(retarget=retarget, side_by_side=side_by_side, paste=paste, size=_size(size),
                                     mouths=str(mouths or "auto"), motion=str(motion or "tps"))
            video = Path(driving).suffix.lower() != TRACK_SUFFIX
            check_options(options, video)
            check_motion(options.motion, self.model, video)
            check_size(options.size, self.model)
        self.driver_frames(driving)
        size = options.size
        source, shown, notes = self.detect(photo, size=size)
        if progress is not None:
            progress(0, desc="starting")
        out = self.job_folder() / f"{Path(photo).stem}_animated.mp4"
        res = self.animator.animate(source, driving, out, options, progress=progress is not None)
        at = ""  # the output size, said when one was asked for
        if source.detail is not None and size is not None:
            side = source.detail.shape[0]
            at = f", face at {side} x {side} px" + (" (its resolution in the photo)" if size == "native" else "")
        status = (f"**{out.name}**: {res['frames']} frames at {res['fps']:g} fps{at}"
                  + (", with the driver's audio" if res["audio"] else "") + "".join(f"\n\n{n}" for n in notes))
        return shown, str(out), status

    def edit(self, photo, mode, expression, target, target_neutral, strength=1.0, paste=False, size=None):
        """Change the expression of ``photo`` (``edit_image``) with the output face ``size`` of ``--size`` (as
        :meth:`animate`); returns (overlay with target landmarks, image path, status)."""
        from .inference import edit as E
        from .inference.output import check_size

        if not photo:
            raise MotionGANError("upload a photo of a face first")
        if mode == "target photo" and not target:
            raise MotionGANError("upload a target photo whose expression to copy (or choose a named expression)")
        chosen = dict(target=target, target_neutral=target_neutral or None) if mode == "target photo" \
            else dict(expression=expression)
        with page_names():  # the command line's checks, before anything is read
            options = E.EditOptions(**chosen, strength=strength, paste=paste, size=_size(size))
            check_size(options.size, self.model)
        what = f"the expression of {Path(target).name}" if mode == "target photo" else f"{expression!r}"
        source, _, notes = self.detect(photo, size=options.size)
        out = self.job_folder() / f"{Path(photo).stem}_edited.png"
        goal = E.edit_image(self.animator, source, out, options, self.expressions)
        status = f"**{out.name}**: {what} at strength {strength:g}" + "".join(f"\n\n{n}" for n in notes)
        return self.overlay(source, goal), str(out), status

    def speak(self, photo, audio, fps=25.0, paste=False, progress=None, size=None):
        """A talking face from ``photo`` (or a video, dubbed) and the recording ``audio`` (``motiongan
        speak``), the face at ``size`` (as :meth:`animate`; a video keeps its own); returns (overlay, video
        path, status). Recordings longer than the page's frame limit at ``fps`` are refused."""
        fn = speech_function()
        if fn is None:
            raise MotionGANError("speech is not available in this installation of MotionGAN")
        if not photo:
            raise MotionGANError("upload a photo of a face first")
        if not audio:
            raise MotionGANError("upload a recording (wav, mp3, m4a, or a video with sound) first")
        if not fps or not fps > 0:
            raise MotionGANError(f"frames per second must be positive, got {fps}")
        from .speech.speak import SpeakOptions, check_source, is_video

        with page_names():  # the command line's checks, before anything is read
            options = SpeakOptions(fps=fps, paste=paste, size=_size(size), max_seconds=self.max_frames / fps)
            check_source(photo, options, self.model)
        if is_video(photo):  # a video is dubbed (speak VIDEO AUDIO): its own frames, at its own frame rate
            from .speech.dub import check_source_video

            check_source_video(photo)
            shown, notes = None, []
        else:
            _, shown, notes = self.detect(photo)
        if self._speech_model is None:
            from .models import load_speech_model

            self._speech_model = load_speech_model()
        if progress is not None:
            progress(0, desc="reading the recording")
        out = self.job_folder() / f"{Path(photo).stem}_speaking.mp4"
        from .speech.audio import TooLongError

        try:
            res = fn(photo, audio, out, options=options, model=self.model, speech_model=self._speech_model,
                     landmarker=self.animator.landmarker, progress=progress is not None)
        except TooLongError as e:  # the page's limit, and who can raise it, in place of the CLI's flag
            raise TooLongError(e.reason, e.path, hint=f"this page's limit is {self.max_frames} frames at {fps:g} "
                               "fps; whoever runs the page can raise it: motiongan web --max-frames N") from None
        status = (f"**{out.name}**: {res['frames']} frames at {res['fps']:g} fps, {res['seconds']:.2f} s of "
                  "speech, with its audio" + "".join(f"\n\n{n}" for n in notes))
        return shown, str(out), status


def _size(size) -> str | None:
    """The output size as the page's field gives it (blank or None: the model's default)."""
    return None if size is None else str(size).strip().lower() or None


def message_of(e: Exception) -> str:
    """An error as the page says it: the command line's message, with the file at fault called by the name
    it was uploaded under (its path is a temporary upload folder)."""
    if isinstance(e, MotionGANError):
        return e.message(Path(e.path).name if e.path else None)
    return str(e)


QUEUED = dict(concurrency_limit=1, concurrency_id="model")  # model work: one request at a time
PREVIEW = dict(concurrency_limit=1, concurrency_id="preview")


class Handlers:
    """The page's event handlers: the :class:`Page` calls, with the CLI's messages shown in the page."""

    user_errors = (MotionGANError, FileNotFoundError)  # what the command line reports in one line

    def __init__(self, gr, page: Page):
        self.gr, self.page = gr, page

    def refuse(self, message: str, title: str):
        """The message in the page (until closed) and one line in the server's log, no traceback."""
        print(f"motiongan web: refused: {message}", flush=True)
        return self.gr.Error(html.escape(message), duration=None, title=title, print_exception=False)

    def run(self, fn, *args):
        """``fn(*args)`` -> (shown, result, result, status) with its notes as warnings."""
        try:
            shown, result, status = fn(*args)
        except self.user_errors as e:
            raise self.refuse(message_of(e), "Cannot do that") from None
        for note in status.split("\n\n")[1:]:
            self.gr.Warning(html.escape(note))
        return shown, result, result, status

    def preview(self, photo):
        if not photo:
            return None, ""
        try:
            _, shown, notes = self.page.detect(photo, self.page.preview_landmarker)
        except self.user_errors as e:
            raise self.refuse(message_of(e), "Cannot use this photo") from None
        for n in notes:
            self.gr.Warning(html.escape(n))
        return shown, f"**{Path(photo).name}**: face found (green: landmarks; yellow: what the model sees)"


def _video_outputs(gr, tab: str):
    """What a tab that makes a video shows: the detected landmarks, the video, a download, a status."""
    return (gr.Image(label="What was detected", interactive=False, height=360, elem_id=f"{tab}-detected"),
            gr.Video(label="Result", interactive=False, height=360, elem_id=f"{tab}-video"),
            gr.File(label="Download", interactive=False, elem_id=f"{tab}-download"),
            gr.Markdown(elem_id=f"{tab}-status"))


def size_choices(model_size: int, default: int | None = None, warps: bool = True) -> list[str]:
    """The output sizes the Animate, Edit and Speak tabs offer (``--size``): the default first (None: the
    model's ``default_output``), then for a warp generator (``warps``) other sizes from the model's up and the
    face's own resolution (a fixed-size network renders at its own size alone); any other number can be
    typed, and is checked as the command line checks it."""
    default = default or model_size
    if not warps:
        return [f"default ({default})"]
    return ([f"default ({default})"] + [n for n in ("128", "256", "512") if int(n) >= model_size and int(n) != default]
            + ["native"])


def _size_field(gr, model, tab: str):
    """The output size dropdown of a tab, and a function that turns its value into ``--size`` (None: the
    default; Page's methods check and normalise the rest)."""
    sizes = size_choices(model.size, model.default_output, getattr(model.G, "warps", False))
    field = gr.Dropdown(sizes, value=sizes[0], allow_custom_value=True, elem_id=f"{tab}-size",
                        label="Output size in pixels (or native: the face's own resolution in the photo)")
    return field, lambda size: None if size == sizes[0] else size


OWN_CHOICE = "own (the file below)"
# --mouths as the page offers it; "own" takes the uploaded file (a video of the person, or a bank)
MOUTH_CHOICES = ["auto (the driver's, for a video)", "none", "driver", OWN_CHOICE]
# --motion as the page offers it
MOTION_CHOICES = {"68 landmarks (any driver)": "tps", "face mesh (a driving video; the landmark warp)": "mesh"}


def _animate_tab(gr, h: Handlers) -> None:
    def animate(photo, driving, retarget, side_by_side, paste, size, mouths, own, motion,
                progress=gr.Progress(track_tqdm=True)):  # noqa: B008 (Gradio's idiom)
        size = chosen_size(size)
        mouths = (own or "own") if mouths == OWN_CHOICE else mouths.split(" ")[0]  # "own" alone: refused
        return h.run(h.page.animate, photo, driving, retarget, side_by_side, paste, progress, size, mouths,
                     MOTION_CHOICES[motion])

    with gr.Row():
        with gr.Column():
            photo = gr.File(label="Photo (one face)", file_types=IMAGE_TYPES, elem_id="animate-photo")
            driving = gr.File(label="Driving video or .npy landmark track (N x 68 x 2)",
                              file_types=DRIVER_TYPES, elem_id="animate-driving")
            retarget = gr.Checkbox(True, label="Retarget the driver's motion onto the photo's face "
                                   "(off: use the driving landmarks as given)")
            sbs = gr.Checkbox(False, label="Side by side (photo | driver | result)")
            paste = gr.Checkbox(False, label="Paste the face back into the photo")
            size, chosen_size = _size_field(gr, h.page.model, "animate")
            mouths = gr.Radio(MOUTH_CHOICES, value=MOUTH_CHOICES[0], elem_id="animate-mouths",
                              label="Real mouths and eyes where the warp has no pixels")
            own = gr.File(label="A video or image of the photo's person (for their own mouths)",
                          file_types=DRIVER_TYPES + IMAGE_TYPES + [".safetensors"], elem_id="animate-own")
            motion = gr.Radio(list(MOTION_CHOICES), value=next(iter(MOTION_CHOICES)), elem_id="animate-motion",
                              label="Motion")
            button = gr.Button("Animate", variant="primary", elem_id="animate-run")
        with gr.Column():
            outputs = _video_outputs(gr, "animate")
    photo.change(h.preview, photo, [outputs[0], outputs[3]], **PREVIEW)
    button.click(animate, [photo, driving, retarget, sbs, paste, size, mouths, own, motion], list(outputs),
                 **QUEUED)


def _edit_tab(gr, h: Handlers) -> None:
    def edit(photo, mode, expression, target, target_neutral, strength, paste, size):
        return h.run(h.page.edit, photo, mode, expression, target, target_neutral, strength, paste, chosen_size(size))

    names = list(h.page.expressions["expressions"])
    with gr.Row():
        with gr.Column():
            photo = gr.File(label="Photo (one face)", file_types=IMAGE_TYPES, elem_id="edit-photo")
            mode = gr.Radio(["named expression", "target photo"], value="named expression",
                            label="Expression from", elem_id="edit-mode")
            expr = gr.Dropdown(names, value=names[0] if names else None, label="Named expression",
                               elem_id="edit-expression")
            target = gr.File(label="Target photo (its expression is copied)", file_types=IMAGE_TYPES,
                             elem_id="edit-target")
            neutral = gr.File(label="Target person's neutral photo (optional)", file_types=IMAGE_TYPES,
                              elem_id="edit-target-neutral")
            strength = gr.Slider(0.0, 2.0, 1.0, step=0.05, label="Strength", elem_id="edit-strength")
            paste = gr.Checkbox(False, label="Paste the face back into the photo")
            size, chosen_size = _size_field(gr, h.page.model, "edit")
            button = gr.Button("Edit", variant="primary", elem_id="edit-run")
        with gr.Column():
            seen = gr.Image(label="Detected (green) and target (red) landmarks", interactive=False,
                            height=360, elem_id="edit-detected")
            image = gr.Image(label="Result", interactive=False, height=360, elem_id="edit-image")
            file = gr.File(label="Download", interactive=False, elem_id="edit-download")
            status = gr.Markdown(elem_id="edit-status")
    photo.change(h.preview, photo, [seen, status], **PREVIEW)
    button.click(edit, [photo, mode, expr, target, neutral, strength, paste, size], [seen, image, file, status],
                 **QUEUED)


def _speak_tab(gr, h: Handlers) -> None:
    def speak(photo, audio, fps, paste, size, progress=gr.Progress(track_tqdm=True)):  # noqa: B008 (Gradio's idiom)
        return h.run(h.page.speak, photo, audio, fps, paste, progress, chosen_size(size))

    if speech_function() is None:
        gr.Markdown("**Not available here:** the speech module (`motiongan.speech`) cannot be imported "
                    "in this installation.", elem_id="speak-missing")
        return
    with gr.Row():
        with gr.Column():
            photo = gr.File(label="Photo (one face), or a video of the person to dub", elem_id="speak-photo",
                            file_types=IMAGE_TYPES + sorted(VIDEO_SUFFIXES))
            audio = gr.File(label="Speech (wav, mp3, m4a, flac, or a video with sound)", elem_id="speak-audio")
            fps = gr.Number(25, label="Frames per second", minimum=1, maximum=60, elem_id="speak-fps")
            paste = gr.Checkbox(False, label="Paste the face back into the photo")
            size, chosen_size = _size_field(gr, h.page.model, "speak")
            button = gr.Button("Speak", variant="primary", elem_id="speak-run")
            gr.Markdown("Only the mouth and jaw move (the shipped speech model); the video keeps the "
                        "recording's sound.")
        with gr.Column():
            outputs = _video_outputs(gr, "speak")
    photo.change(h.preview, photo, [outputs[0], outputs[3]], **PREVIEW)
    button.click(speak, [photo, audio, fps, paste, size], list(outputs), **QUEUED)


def build_page(model, results: Path, max_frames: int = 750, expressions: str | None = None):
    """The Gradio Blocks page (queued; launch it with ``.launch()``): the Animate, Edit and Speak tabs."""
    gr = _gradio()
    h = Handlers(gr, Page(model, results, max_frames, expressions))
    with gr.Blocks(title="MotionGAN", delete_cache=(600, KEEP_RESULTS_S)) as demo:
        gr.Markdown(f"# MotionGAN\nAnimate a face photo from a driving video or landmark track, change its "
                    f"expression, or make it speak a recording. Model: `{model.name}` ({model.size} x "
                    f"{model.size}); videos up to {max_frames} frames.")
        for name, tab in (("Animate", _animate_tab), ("Edit", _edit_tab), ("Speak", _speak_tab)):
            with gr.Tab(name, id=name.lower()):
                tab(gr, h)
    return demo.queue(max_size=32, default_concurrency_limit=1)
