"""The demo page: a Gradio app over the zero-shot pipeline (`t2l serve --model M`, or `app.py` as a Hugging Face Space).

Upload a video or give its URL, type the labels (or pick a bundled label set), and get the scores as a bar chart;
a video longer than one window also gets its timeline (segments and the score curves, `modeling_t2l.timeline`).
Errors (an unreadable video, no labels, a bad URL) are written on the page in words.

gradio is an optional extra (`pip install "modeling-t2l[demo]"`): it is imported only by `build_app`, so nothing
else in the package (and not `import modeling_t2l`) needs it. `answer` holds the page's logic without gradio, so it
is tested like any function.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

INSTALL_HINT = 'pip install "modeling-t2l[demo]"'
CUSTOM_LABELS = "(my own labels)"
# Display name -> bundled label file (modeling_t2l/data/files/labels/).
LABEL_SETS = {
    "UCF-101 (101 actions)": "labels/ucf_101_labels.csv",
    "HMDB-51 (51 actions)": "labels/hmdb_51_labels_fixed.csv",
    "Kinetics-400 (400 actions)": "labels/kinetics_400_labels.csv",
    "Kinetics-600 (600 actions)": "labels/kinetics_600_labels.csv",
    "Something-Something v2 (174 actions)": "labels/ssv2_labels.csv",
}
MAX_BARS = 10


@dataclass
class PageResult:
    """What the page shows for one request."""

    status: str
    scores: dict[str, float] = field(default_factory=dict)
    timeline_png: str | None = None
    segments: list[list] = field(default_factory=list)

    @property
    def top_label(self) -> str | None:
        return max(self.scores, key=self.scores.get) if self.scores else None


def label_set(name: str) -> list[str]:
    """The class names of a bundled label set (a key of `LABEL_SETS`)."""
    from .data.lists import bundled_file, read_labels

    if name not in LABEL_SETS:
        raise ValueError(f"unknown label set {name!r}; choose one of {', '.join(LABEL_SETS)}")
    return read_labels(bundled_file(LABEL_SETS[name]))


def parse_labels(text: str | None) -> list[str]:
    """One label per line; a single line is split on commas ("archery, surfing water")."""
    text = (text or "").strip()
    if not text:
        raise ValueError("type at least one label (one per line, or comma-separated), or choose a label set")
    parts = text.splitlines() if "\n" in text else text.split(",")
    labels = list(dict.fromkeys(part.strip() for part in parts if part.strip()))  # duplicates would be rejected
    if not labels:
        raise ValueError("type at least one label (one per line, or comma-separated), or choose a label set")
    return labels


def _error(error: Exception) -> PageResult:
    reason = getattr(error, "reason", None)
    source = getattr(error, "source", None)
    text = f"cannot read the video {source}: {reason}" if reason and source else str(error)
    return PageResult(status=f"**Error:** {text}")


def answer(pipe, video_path: str | None, url: str | None, labels_text: str | None, window_s: float = 4.0,
           stride_s: float = 2.0, template: str | None = None, workdir: str | os.PathLike | None = None) -> PageResult:
    """Score one uploaded file or URL against the typed labels; a video longer than one window gets its timeline.

    `template` (e.g. "a video of {}") scores the labels with that prompt; empty uses the pipeline's automatic choice
    (the bundled descriptions when every label has one, else the ActionCLIP templates).
    """
    from .timeline import check_window_lengths, iter_windows, local_video, merge_segments
    from .processing.video_io import VideoDecodeError

    try:
        labels = parse_labels(labels_text)
        window_s, stride_s = check_window_lengths(window_s, stride_s)
        url = (url or "").strip()
        if video_path and url:
            raise ValueError("give either an uploaded video or a URL, not both")
        if not video_path and not url:
            raise ValueError("upload a video or give its URL")
        if url and not url.startswith(("http://", "https://")):
            raise ValueError(f"the URL must start with http:// or https://, got {url!r}")
        with local_video(video_path or url, timeout=30.0) as local:
            stats: dict = {}
            # A video no longer than one window is one window over all its frames: the plain pipeline's scores.
            texts = {"hypothesis_template": template.strip()} if template and template.strip() else {}
            windows = list(iter_windows(pipe, local, candidate_labels=labels, chunk_length_s=window_s,
                                        stride_length_s=stride_s, stats=stats, **texts))
        duration = stats["duration"]
        if len(windows) == 1:
            scores = windows[0]["scores"]
            return PageResult(
                status=f"Top label: **{scores[0]['label']}** ({scores[0]['score']:.3f}); {len(labels)} labels, "
                f"{duration:.1f} s video",
                scores={item["label"]: item["score"] for item in scores[:MAX_BARS]},
            )
    except (VideoDecodeError, ValueError, TypeError, KeyError) as error:
        return _error(error)
    segments = merge_segments(windows)
    mean = {label: 0.0 for label in labels}
    for window in windows:
        for item in window["scores"]:
            mean[item["label"]] += item["score"] / len(windows)
    ranked = dict(sorted(mean.items(), key=lambda pair: -pair[1])[:MAX_BARS])
    top = next(iter(ranked))
    status = (f"Top label: **{top}** ({ranked[top]:.3f}, the mean over {len(windows)} windows of {window_s:g} s); "
              f"{len(segments)} segments in {duration:.1f} s")
    png = None
    try:
        from .timeline_plot import plot_timeline

        directory = Path(workdir or tempfile.mkdtemp(prefix="t2l-demo-"))
        png = str(plot_timeline(directory / "timeline.png", windows, segments, title="Timeline"))
    except ImportError as error:
        status += f". No timeline picture: {error}"
    rows = [[round(s["start"], 2), round(s["end"], 2), s["label"], round(s["score"], 3)] for s in segments]
    return PageResult(status=status, scores=ranked, timeline_png=png, segments=rows)


def build_app(pipe, title: str = "Zero-shot video action recognition"):
    """The Gradio Blocks page for `pipe` (a `ZeroShotVideoClassificationPipeline`)."""
    try:
        import gradio as gr
    except ImportError as error:
        raise ImportError(f"the demo page needs gradio: {INSTALL_HINT}") from error

    def fill_labels(name):
        return gr.update() if name == CUSTOM_LABELS else "\n".join(label_set(name))

    def submit(video, url, labels_text, template, window_s, stride_s):
        result = answer(pipe, video, url, labels_text, window_s, stride_s, template)
        return (
            result.status,
            result.scores or None,
            gr.update(value=result.timeline_png, visible=result.timeline_png is not None),
            gr.update(value=result.segments, visible=bool(result.segments)),
        )

    with gr.Blocks(title=title) as app:
        gr.Markdown(f"# {title}\nUpload a video (or give its URL) and type the actions to look for. Videos longer "
                    "than one window are also scored window by window, with a timeline.")
        with gr.Row():
            with gr.Column():
                video = gr.Video(label="Video", sources=["upload"], height=280, elem_id="video")
                url = gr.Textbox(label="...or a video URL", placeholder="https://.../video.mp4", elem_id="url")
                choice = gr.Dropdown([CUSTOM_LABELS, *LABEL_SETS], value=CUSTOM_LABELS, label="Label set",
                                     elem_id="label-set")
                labels = gr.Textbox(label="Labels (one per line, or comma-separated)", lines=4, elem_id="labels",
                                    placeholder="archery, juggling balls, surfing water")
                template = gr.Textbox(label="Prompt template (optional, with {} for the label)",
                                      placeholder="a video of {}", elem_id="template")
                with gr.Row():
                    window = gr.Number(value=4.0, label="window (s)", minimum=0.1, elem_id="window")
                    stride = gr.Number(value=2.0, label="stride between windows (s)", minimum=0.1, elem_id="stride")
                button = gr.Button("Classify", variant="primary", elem_id="classify")
            with gr.Column():
                status = gr.Markdown(elem_id="status")
                scores = gr.Label(label="Scores", num_top_classes=MAX_BARS, elem_id="scores")
                timeline = gr.Image(label="Timeline", type="filepath", visible=False, elem_id="timeline")
                segments = gr.Dataframe(headers=["start (s)", "end (s)", "label", "score"], label="Segments",
                                        visible=False, elem_id="segments")
        choice.change(fill_labels, choice, labels)
        button.click(submit, [video, url, labels, template, window, stride], [status, scores, timeline, segments])
    return app


def load_demo_pipeline(model: str, device=None):
    """The pipeline `t2l serve` and `app.py` serve (the same loader as `t2l classify`)."""
    from .commands.classify import load_pipeline

    return load_pipeline(model, device)
