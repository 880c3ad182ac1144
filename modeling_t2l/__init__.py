"""Zero-shot video action recognition for Hugging Face transformers: T2L and its peers, one harness.

The package is lazy, as transformers' own `_LazyModule`: `import modeling_t2l` imports neither torch nor
transformers (so `t2l --help` is instant). The names below are imported on first access, and every model family is
registered with the Auto classes (AutoConfig, AutoModel, AutoModelForVideoClassification, AutoImageProcessor, AutoProcessor)
and the "zero-shot-video-classification" pipeline task by `modeling_t2l._registration` on the first of:

* the first access to any name below (`modeling_t2l.T2LModel`, `from modeling_t2l import T2LConfig`, ...);
* the import of transformers, if it comes after `import modeling_t2l` (an import hook);
* `import modeling_t2l` itself, if transformers is already imported.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"

# name -> module (relative to this package) that defines it
_LAZY = {
    "T2LConfig": ".models.t2l.configuration_t2l",
    "T2LModel": ".models.t2l.modeling_t2l",
    "T2LForVideoClassification": ".models.t2l.modeling_t2l",
    "T2LOutput": ".models.t2l.modeling_t2l",
    "T2LPreTrainedModel": ".models.t2l.modeling_t2l",
    "TCCLIPConfig": ".models.tc_clip.configuration_tc_clip",
    "TCCLIPModel": ".models.tc_clip.modeling_tc_clip",
    "TCCLIPForVideoClassification": ".models.tc_clip.modeling_tc_clip",
    "TCCLIPOutput": ".models.tc_clip.modeling_tc_clip",
    "TCCLIPPreTrainedModel": ".models.tc_clip.modeling_tc_clip",
    "ViFiCLIPConfig": ".models.vifi_clip.configuration_vifi_clip",
    "ViFiCLIPModel": ".models.vifi_clip.modeling_vifi_clip",
    "ViFiCLIPForVideoClassification": ".models.vifi_clip.modeling_vifi_clip",
    "ViFiCLIPOutput": ".models.vifi_clip.modeling_vifi_clip",
    "FrozenCLIPForVideoClassification": ".models.baselines",
    "XCLIPForVideoClassification": ".models.baselines",
    "load_processor": ".processing.checkpoint_processor",
    "Family": ".models.registry",
    "families": ".models.registry",
    "get_family": ".models.registry",
    "ZeroShotVideoModelMixin": ".modeling_utils",
    "T2LImageProcessor": ".processing.image_processing_t2l",
    "T2LProcessor": ".processing.processing_t2l",
    "ZeroShotVideoClassificationPipeline": ".pipelines.zero_shot_video_classification",
    "register_pipeline": ".pipelines.zero_shot_video_classification",
    "VideoDecodeError": ".processing.video_io",
    "read_video": ".processing.video_io",
    "build_zero_shot_classifier": ".zero_shot.classifier",
    "zero_shot_probabilities": ".zero_shot.classifier",
}

__all__ = [name for name in _LAZY if name != "register_pipeline"]


def _register() -> None:
    importlib.import_module("._registration", __name__)


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    _register()
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


def _ours_initializing() -> bool:
    """True while one of this package's modules is still executing (registering then would import it half-done)."""
    return any(
        getattr(getattr(module, "__spec__", None), "_initializing", False)
        for name, module in list(sys.modules.items())
        if name.startswith(__name__ + ".") and module is not None
    )


def _register_when_safe() -> None:
    if _ours_initializing():
        # transformers was first imported by one of our own modules: register at the next import after it is done
        if not any(isinstance(finder, _RegisterAtNextImport) for finder in sys.meta_path):
            sys.meta_path.insert(0, _RegisterAtNextImport())
    else:
        _register()


class _RegisterAtNextImport(importlib.abc.MetaPathFinder):
    """Registers at the first import that happens once none of our modules is mid-execution."""

    def find_spec(self, fullname, path=None, target=None):
        if not _ours_initializing() and self in sys.meta_path:
            sys.meta_path.remove(self)
            _register()
        return None


class _RegisterAfterTransformers(importlib.abc.MetaPathFinder):
    """Runs the registration once `transformers` has been imported (and only then)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "transformers":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            _register_when_safe()

        spec.loader.exec_module = exec_then_register
        return spec


if "transformers" in sys.modules:
    _register_when_safe()
elif not any(isinstance(finder, _RegisterAfterTransformers) for finder in sys.meta_path):
    sys.meta_path.insert(0, _RegisterAfterTransformers())
