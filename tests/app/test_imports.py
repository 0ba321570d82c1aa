"""The app talks to the inference API only: none of its modules imports the data layer (exemplar retrieval
excepted: numpy and torch only), training, the networks or the commands."""

import ast
from pathlib import Path

import cocosnet

from ..conftest import require_module

APP = Path(cocosnet.__file__).parent / "app"  # read, not imported: FastAPI may be absent
FORBIDDEN = ("cocosnet.data", "cocosnet.training", "cocosnet.model", "cocosnet.correspondence", "cocosnet.generator",
             "cocosnet.discriminator", "cocosnet.nn", "cocosnet.losses", "cocosnet.vgg", "cocosnet.commands",
             "cocosnet.cli", "cocosnet.evaluation", "cocosnet.metrics")
ALLOWED = ("cocosnet.data.retrieval",)


def imports(tree: ast.AST):
    """Every module an import statement names, except inside the lazy `__getattr__` of moved names."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_the_app_imports_only_the_inference_api_and_its_own_modules():
    files = sorted(APP.rglob("*.py"))
    assert {"server.py", "state.py", "schemas.py", "admission.py", "worker.py", "codec.py", "gallery.py"} <= \
        {f.name for f in files}
    bad = {}
    for path in files:
        for name in imports(ast.parse(path.read_text())):
            if name.startswith(FORBIDDEN) and not name.startswith(ALLOWED):
                bad.setdefault(str(path.relative_to(APP)), []).append(name)
    assert not bad, f"the app imports past the inference API: {bad}"


def test_retrieval_needs_nothing_of_the_data_layer_but_itself():
    import cocosnet.data.retrieval as retrieval

    names = set(imports(ast.parse(Path(retrieval.__file__).read_text())))
    assert not {n for n in names if n.startswith("cocosnet")}, names


def test_moved_names_stay_importable_from_the_app():
    require_module("fastapi")
    from cocosnet.app import builtin_gallery
    from cocosnet.commands.serve import builtin_gallery as new_home

    assert builtin_gallery is new_home
