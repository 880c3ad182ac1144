"""Find a training recipe by name (`k400_zero_shot`, `tc_clip/zero_shot_k400`) or path
(`configuration/t2l/k400_zero_shot.yaml`).

The recipes' one source is the repository's `configuration/` folder (ARCHITECTURE.md). A wheel carries a copy as
package data, `modeling_t2l/recipes/`, written by setup.py's build step, so `t2l train --config k400_zero_shot`
works after `pip install` from a wheel, where there is no `configuration/` folder to read.
"""
from __future__ import annotations

from pathlib import Path

PACKAGE_RECIPES = Path(__file__).resolve().parents[1] / "recipes"  # in an installed wheel
SOURCE_RECIPES = Path(__file__).resolve().parents[2] / "configuration"  # in a source checkout (editable install)


def recipe_dirs() -> list[Path]:
    return [folder for folder in (PACKAGE_RECIPES, SOURCE_RECIPES) if folder.is_dir()]


def available_recipes() -> dict[str, Path]:
    """{"<family>/<name>": file} of every bundled recipe (`configuration/<family>/<name>.yaml`)."""
    found: dict[str, Path] = {}
    for folder in recipe_dirs():
        for path in sorted(folder.rglob("*.yaml")):
            found.setdefault(path.relative_to(folder).with_suffix("").as_posix(), path)
    return found


def resolve_recipe(name_or_path) -> Path:
    """An existing file as given, else the bundled recipe `<family>/<name>`, or `<name>` when one family has it."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    recipes = available_recipes()
    key = path.with_suffix("").as_posix() if path.suffix == ".yaml" else path.as_posix()
    if key in recipes:
        return recipes[key]
    matches = sorted(name for name in recipes if name.rpartition("/")[2] == key)
    if len(matches) == 1:
        return recipes[matches[0]]
    if matches:
        raise FileNotFoundError(f"recipe {name_or_path} is ambiguous: name one of {', '.join(matches)}")
    names = ", ".join(sorted(recipes)) or "none found"
    raise FileNotFoundError(f"recipe {name_or_path} does not exist: give a YAML file or a bundled recipe ({names})")


__all__ = ["available_recipes", "recipe_dirs", "resolve_recipe"]
