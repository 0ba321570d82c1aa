from PIL import Image

from cocosnet.cli import main


def test_demo_writes_a_grid_of_pairs_across_style_families(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--checkpoint", str(tiny_checkpoint), "--out", str(out), "--num", "3", "--device", "cpu"]) == 0
    grid = Image.open(out / "grid.png")
    # 5 columns (layout | exemplar | warped | output | oracle) and 3 rows of 64x64 cells with 2-px padding
    assert grid.size == (5 * 66 + 2, 3 * 66 + 2)
    outputs = sorted(p.name for p in out.glob("*_output.png"))
    families = [name.split("_")[1] for name in outputs]
    assert len(outputs) == 3 and len(set(families)) == 3
    assert len(list((out / "examples").glob("*_layout.png"))) == 3
    assert "cocosnet serve" in capsys.readouterr().out
