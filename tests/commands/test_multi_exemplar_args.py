"""`cocosnet translate` with several exemplars: --assign / --region-mask round trips and their errors."""

import numpy as np
import pytest
from PIL import Image

from cocosnet.cli import main
from cocosnet.data.io import load_image
from cocosnet.inference import Translator
from tests.commands.test_translate import cocosnet_without_torch, torch_was_imported


@pytest.fixture(scope="module")
def tiny(tiny_checkpoint):
    return Translator.from_pretrained(tiny_checkpoint, device="cpu"), tiny_checkpoint


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    label = np.full((64, 64), 6, np.uint8)  # sky over water
    label[32:] = 3
    Image.fromarray(label).save(d / "label.png")
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(d / f"{name}.png")
    mask = np.zeros((64, 64), np.uint8)
    mask[:16, :16] = 1
    Image.fromarray(mask).save(d / "mask.png")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(d / "small_mask.png")
    return d


def translate(folder, files, *extra):
    args = ["translate", "--checkpoint", str(folder), "--input", str(files / "label.png"),
            "--exemplar", str(files / "a.png"), "--exemplar-label", str(files / "label.png"),
            "--exemplar", str(files / "b.png"), "--exemplar-label", str(files / "label.png"), "--device", "cpu"]
    return main(args + list(extra))


def test_assign_and_region_mask_round_trip_through_the_cli(tiny, files, tmp_path, capsys):
    tr, folder = tiny
    rc = translate(folder, files, "--assign", "sky=1", "--region-mask", f"{files / 'mask.png'}=0",
                   "--out", str(tmp_path / "out.png"), "--warp-out", str(tmp_path / "warp.png"))
    assert rc == 0, capsys.readouterr().err
    mask = np.asarray(Image.open(files / "mask.png")) > 0
    want = tr.translate_multi(files / "label.png", [files / "a.png", files / "b.png"], [files / "label.png"] * 2,
                              assign={"sky": 1}, region_masks=[(mask, 0)])
    expected = np.zeros((64, 64), np.int64)
    expected[:32] = 1
    expected[:16, :16] = 0
    assert np.array_equal(want.assignment[0].numpy(), expected)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), np.asarray(want.images()[0]))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "warp.png")), np.asarray(want.warped_images()[0]))
    # auto: sky and water are in both label maps equally, so exemplar 0 everywhere = one exemplar alone
    rc = translate(folder, files, "--assign", "auto", "--out", str(tmp_path / "auto.png"))
    assert rc == 0
    rc = main(["translate", "--checkpoint", str(folder), "--input", str(files / "label.png"), "--exemplar",
               str(files / "a.png"), "--exemplar-label", str(files / "label.png"), "--out",
               str(tmp_path / "single.png"), "--device", "cpu"])
    assert rc == 0
    single = tr.translate(files / "label.png", files / "a.png", files / "label.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "single.png")), np.asarray(single.images()[0]))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "auto.png")), np.asarray(single.images()[0]))
    assert load_image(tmp_path / "auto.png", 64).shape == (3, 64, 64)


@pytest.mark.parametrize(("extra", "message"), [
    (["--assign", "sky=2"], "--assign sky=2: exemplar index 2 out of range: 2 --exemplar given (0..1)"),
    (["--assign", "sky"], "--assign 'sky': expected CLASS=K"),
    (["--assign", "sky=b"], "--assign sky=b: exemplar index 'b' is not an integer"),
    (["--assign", "skyy=1"], "--assign skyy=1: unknown class 'skyy'; the model's classes: unlabeled, road, rock, "
                             "water, sand, sea, sky, grass, mountain, tree"),
    (["--region-mask", "/nope.png=1"], "--region-mask: mask not found: /nope.png"),
    (["--region-mask", "{d}/small_mask.png=1"], "--region-mask {d}/small_mask.png is 32x32 but --input is 64x64"),
    (["--exemplar-label", "{d}/label.png"], "2 --exemplar but 3 --exemplar-label"),
])
def test_bad_assignments_are_refused_before_torch_loads(files, tmp_path, extra, message):
    extra = [e.format(d=files) for e in extra]
    done = cocosnet_without_torch(
        "translate", "--input", str(files / "label.png"), "--exemplar", str(files / "a.png"), "--exemplar-label",
        str(files / "label.png"), "--exemplar", str(files / "b.png"), "--exemplar-label", str(files / "label.png"),
        "--out", str(tmp_path / "out.png"), *extra)
    assert done.returncode == 2 and message.format(d=files) in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not torch_was_imported(done.stderr)
    assert not (tmp_path / "out.png").exists()


def test_an_unknown_class_of_a_checkpoint_is_named_after_loading(tiny, files, tmp_path, capsys):
    _, folder = tiny
    rc = translate(folder, files, "--assign", "lava=1", "--out", str(tmp_path / "out.png"))
    assert rc == 2 and "unknown class 'lava' for preset 'tiny'; its classes: unlabeled" in capsys.readouterr().err
    assert not (tmp_path / "out.png").exists()


def test_the_bundled_model_takes_the_sky_from_the_second_exemplar(tmp_path, capsys):
    """End to end with the trained model: a day scene A and a sunset B; `--assign sky=1` gives a sky like the
    output with B alone and the ground like the output with A alone."""
    from cocosnet.data.landscapes_dataset import LandscapesDataset
    from cocosnet.inference import default_checkpoint

    test_split = LandscapesDataset("test", size=128, length=1000)
    a, b, layout = test_split[0], test_split[7], test_split[2]  # the demo's pictures: day, sunset; a day layout
    assert (a["style_family"], b["style_family"]) == ("day", "sunset") and (layout["label"] == 6).float().mean() > 0.2
    for name, value in (("layout", layout["label"]), ("a_label", a["exemplar_label"]),
                        ("b_label", b["exemplar_label"])):
        Image.fromarray(value[0].numpy().astype(np.uint8)).save(tmp_path / f"{name}.png")
    for name, s in (("a", a), ("b", b)):
        Image.fromarray(((s["exemplar"].permute(1, 2, 0).numpy() + 1) * 127.5).round().astype(np.uint8)).save(
            tmp_path / f"{name}.png")
    common = ["translate", "--input", str(tmp_path / "layout.png"), "--device", "cpu"]
    ex_a = ["--exemplar", str(tmp_path / "a.png"), "--exemplar-label", str(tmp_path / "a_label.png")]
    ex_b = ["--exemplar", str(tmp_path / "b.png"), "--exemplar-label", str(tmp_path / "b_label.png")]
    assert main(common + ex_a + ex_b + ["--assign", "sky=1", "--out", str(tmp_path / "mixed.png")]) == 0
    tr = Translator.from_pretrained(default_checkpoint(), device="cpu")
    pics = {"mixed": np.asarray(Image.open(tmp_path / "mixed.png")).astype(np.float64)}
    for name in ("a", "b"):
        out = tr.translate(tmp_path / "layout.png", tmp_path / f"{name}.png", tmp_path / f"{name}_label.png")
        pics[f"with_{name}"] = np.asarray(out.images()[0]).astype(np.float64)
    sky = layout["label"][0].numpy() == 6
    inner = sky & np.roll(sky, 8, 0) & np.roll(sky, -8, 0)  # away from the horizon, where G mixes both
    ground = ~sky & np.roll(~sky, 8, 0) & np.roll(~sky, -8, 0)
    dist = lambda x, y, m: np.abs(pics[x][m] - pics[y][m]).mean()  # noqa: E731
    assert dist("mixed", "with_b", inner) < 0.5 * dist("mixed", "with_a", inner)
    assert dist("mixed", "with_a", ground) < 0.5 * dist("mixed", "with_b", ground)
