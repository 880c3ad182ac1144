"""Packaging for modeling-t2l: T2L zero-shot video action recognition for Hugging Face transformers."""
import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).parent
PLOTS = ["matplotlib>=3.8"]  # PNG charts: confusion matrices, benchmark and timeline plots
DEMO = ["gradio>=5", *PLOTS]  # `t2l serve` and app.py
SEARCH = ["faiss-cpu>=1.8"]  # `t2l search` ranks with FAISS (an exact matrix product without it; same results)


class BuildWithRecipes(build_py):
    """Copy the recipes of `configuration/` (their one source) into the package as `modeling_t2l/recipes/`, so a
    wheel can run `t2l train --config <name>` without the repository (modeling_t2l/training/recipes.py)."""

    def run(self):
        super().run()
        source = HERE / "configuration"
        if source.is_dir() and not self.editable_mode:
            target = Path(self.build_lib) / "modeling_t2l" / "recipes"
            for path in source.rglob("*.yaml"):
                destination = target / path.relative_to(source)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, destination)

setup(
    name="modeling-t2l",
    version="0.1.0",
    description="T2L (Temporal Token Learning) zero-shot video action recognition for Hugging Face transformers",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["modeling_t2l", "modeling_t2l.*"]),
    include_package_data=True,
    package_data={
        "modeling_t2l": [
            "processing/tokenizer/*.json",
            "processing/tokenizer/*.txt",
            "data/files/**/*",
            "metrics/**/*.py",
            "models/*/cards/*",
        ]
    },
    install_requires=[
        "torch>=2.4",
        "transformers>=5.23,<6",
        "datasets>=5.2",
        "accelerate>=1.15",
        "peft>=0.21",
        "evaluate>=0.4.6",
        "av>=14",
        "pillow>=10",
        "safetensors>=0.4",
        "huggingface_hub>=2.4",
        "ftfy>=6.1",
        "numpy",
        "pyyaml",
        "tqdm",
    ],
    extras_require={
        "plots": PLOTS,
        "demo": DEMO,
        "search": SEARCH,
        # the tests cover every optional feature (charts, the demo page in a real browser, FAISS search)
        "test": ["pytest>=8", "pytest-timeout", "parameterized", "selenium>=4.10", *PLOTS, *DEMO, *SEARCH],
    },
    entry_points={"console_scripts": ["t2l = modeling_t2l.cli:main"]},
    cmdclass={"build_py": BuildWithRecipes},
)
