"""Hugging Face Space entry point for the zero-shot video demo page (Space SDK: gradio).

The model is the `T2L_MODEL` environment variable (a Hub repo id or a local directory; a Space sets it under
Settings -> Variables). Locally: `T2L_MODEL=path/to/model python app.py`, or `t2l serve --model path/to/model`.
"""
import os
import sys

from modeling_t2l.demo_app import build_app, load_demo_pipeline

MODEL = os.environ.get("T2L_MODEL")
if not MODEL:
    sys.exit("app.py: set T2L_MODEL to a model directory or Hub repo id (e.g. T2L_MODEL=my-org/t2l-vit-b16-k400)")

demo = build_app(load_demo_pipeline(MODEL))

if __name__ == "__main__":
    demo.launch()  # honours GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (a Space sets them)
