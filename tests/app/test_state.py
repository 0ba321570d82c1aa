"""The state every route reads: built once per app, from a label-map checkpoint only."""

import pytest

from ..conftest import require_module
from .conftest import FakeTranslator, photo, scene

require_module("fastapi")
from cocosnet.app.gallery import GalleryItem  # noqa: E402
from cocosnet.app.state import AppSettings, AppState, class_list, gallery_entry  # noqa: E402
from cocosnet.presets import get_model_config  # noqa: E402


def test_settings_size_the_body_for_three_images():
    settings = AppSettings(max_upload_bytes=300)
    assert settings.max_body_bytes == 3 * (400 + 4) + 64 * 1024


def test_build_makes_an_empty_gallery_and_a_queue_of_the_settings(fake_translator):
    state = AppState.build(fake_translator, settings=AppSettings(slots=2, waiting=3, timeout=7.5))
    assert len(state.gallery) == 0 and state.cfg is fake_translator.cfg
    assert (state.queue.slots, state.queue.waiting, state.queue.timeout) == (2, 3, 7.5)
    assert [c.name for c in state.classes][:3] == ["unlabeled", "road", "rock"]
    state.queue.shutdown()


def test_dense_checkpoints_are_refused():
    with pytest.raises(ValueError, match="the painter needs a label-map checkpoint; preset 'celebahq_edge' takes "
                                         "dense 15-channel maps"):
        AppState.build(FakeTranslator(get_model_config("celebahq_edge")))


def test_classes_without_names_are_numbered():
    classes = class_list(get_model_config("ade20k"))
    assert len(classes) == 151 and classes[0].name == "class 0" and classes[150].name == "class 150"
    assert all(c.color.startswith("#") and len(c.color) == 7 for c in classes)
    assert len({c.color for c in classes}) == 151


def test_a_gallery_entry_names_its_pictures_by_id_and_rounds_the_score():
    item = GalleryItem(id="lake", name="a lake", image=photo(8), label=scene(6, 3, size=8))
    entry = gallery_entry(item, 0.123456)
    assert entry.score == 0.1235 and entry.image == "/api/gallery/lake/image.png"
    assert gallery_entry(item).score is None
