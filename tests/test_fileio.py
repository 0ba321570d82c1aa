"""Output paths: every writer goes through `fileio.atomic_write`, which writes only regular files (symlinks
followed) and refuses devices, FIFOs, directories and paths under files with `OutputPathError`; the commands check
their outputs before loading a model and exit 2 with the message, without a traceback."""

import os
import stat

import numpy as np
import pytest
from PIL import Image

from cocosnet.cli import main
from cocosnet.data.io import save_image
from cocosnet.fileio import OutputPathError, atomic_write_text, check_output_dir, check_output_path


def _not_a_regular_file(tmp_path):
    """A character device like /dev/null where we may create one (root), else a FIFO: both are not regular files."""
    path = tmp_path / "device"
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        return path, "a character device"
    except PermissionError:
        os.mkfifo(path)
        return path, "a FIFO"


def test_a_new_path_is_written_with_its_missing_folders_and_no_temp_file_stays(tmp_path):
    out = tmp_path / "a" / "b" / "t.txt"
    assert check_output_path(out) == out
    assert atomic_write_text(out, "hello") == out and out.read_text() == "hello"
    assert atomic_write_text(out, "again") == out and out.read_text() == "again"  # a regular file is replaced
    assert [p.name for p in out.parent.iterdir()] == ["t.txt"]


def test_an_existing_file_keeps_its_permission_bits(tmp_path):
    out = tmp_path / "t.txt"
    out.write_text("old")
    out.chmod(0o640)
    atomic_write_text(out, "new")
    assert out.read_text() == "new" and stat.S_IMODE(out.stat().st_mode) == 0o640


def test_a_symlink_to_a_file_rewrites_the_target_and_keeps_the_link(tmp_path):
    target, link = tmp_path / "target.txt", tmp_path / "link.txt"
    target.write_text("old")
    link.symlink_to(target)
    assert check_output_path(link) == target
    atomic_write_text(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new" and link.read_text() == "new"


def test_a_dangling_symlink_into_an_existing_folder_is_written_through(tmp_path):
    (tmp_path / "dir").mkdir()
    target, link = tmp_path / "dir" / "new.png", tmp_path / "link.png"
    link.symlink_to(target)
    save_image(link, np.full((4, 5, 3), 7, np.uint8))
    assert link.is_symlink() and target.is_file()
    assert np.asarray(Image.open(target)).shape == (4, 5, 3)


def test_a_device_or_fifo_is_refused_and_left_as_it_is(tmp_path):
    path, kind = _not_a_regular_file(tmp_path)
    before = os.lstat(path)
    with pytest.raises(OutputPathError, match=f"cannot write {path}: it is {kind}; outputs are written only as"):
        save_image(path, np.zeros((2, 2, 3), np.uint8))
    after = os.lstat(path)
    assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode) and after.st_ino == before.st_ino
    assert sorted(p.name for p in tmp_path.iterdir()) == ["device"]  # no temp file left beside it


def test_a_fifo_behind_a_symlink_is_refused_and_named(tmp_path):
    fifo, link = tmp_path / "fifo", tmp_path / "out.png"
    os.mkfifo(fifo)
    link.symlink_to(fifo)
    with pytest.raises(OutputPathError, match=f"{link}: it is a FIFO \\(it resolves to {fifo}\\)"):
        check_output_path(link)
    assert link.is_symlink() and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_directory_is_refused(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(OutputPathError, match=f"cannot write {tmp_path / 'd'}: it is a directory"):
        atomic_write_text(tmp_path / "d", "x")
    with pytest.raises(OutputPathError, match="names a directory \\(it ends with a slash\\)"):
        check_output_path(f"{tmp_path}/new/")
    assert (tmp_path / "d").is_dir() and not list((tmp_path / "d").iterdir())


def test_a_path_under_a_regular_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("keep")
    for out in (tmp_path / "file" / "x.png", tmp_path / "file" / "deeper" / "x.png"):
        with pytest.raises(OutputPathError, match=f"cannot write {out}: {tmp_path / 'file'} is a regular file, "
                                                  "so nothing can be created under it"):
            save_image(out, np.zeros((2, 2, 3), np.uint8))
    assert (tmp_path / "file").read_text() == "keep"


def test_a_symlink_loop_is_refused(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(OutputPathError, match="a symlink that cannot be resolved"):
        atomic_write_text(tmp_path / "a", "x")


def test_output_directories(tmp_path):
    assert check_output_dir(tmp_path) == tmp_path
    assert check_output_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputPathError, match=f"{tmp_path / 'file'}: it is a regular file, not a directory"):
        check_output_dir(tmp_path / "file")
    with pytest.raises(OutputPathError, match="is a regular file, so nothing can be created under it"):
        check_output_dir(tmp_path / "file" / "run")
    assert issubclass(OutputPathError, ValueError)  # the CLI's user errors: exit 2, no traceback


# ------------------------------------------------------------------------------------------------------- the CLI
@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    label = np.full((64, 64), 6, np.uint8)
    label[40:] = 7
    Image.fromarray(label).save(folder / "label.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / "photo.png")
    return folder


def translate(checkpoint, inputs, *outputs) -> int:
    return main(["translate", "--checkpoint", str(checkpoint), "--device", "cpu", "--input", str(inputs / "label.png"),
                 "--exemplar", str(inputs / "photo.png"), "--exemplar-label", str(inputs / "label.png"), *outputs])


def test_translate_writes_through_a_symlink(tiny_checkpoint, inputs, tmp_path, capsys):
    target, link = tmp_path / "target.png", tmp_path / "out.png"
    target.write_bytes(b"old")
    link.symlink_to(target)
    assert translate(tiny_checkpoint, inputs, "--out", str(link)) == 0
    assert link.is_symlink() and Image.open(target).size == (64, 64)
    assert capsys.readouterr().out == f"wrote {link}\n"


@pytest.mark.parametrize("bad", ["device", "directory", "under_file", "same_as_out"])
def test_translate_refuses_a_bad_warp_out_before_writing_out(bad, tiny_checkpoint, inputs, tmp_path, capsys,
                                                            monkeypatch):
    out = tmp_path / "out.png"
    warp, problem = {
        "device": lambda: _not_a_regular_file(tmp_path),
        "directory": lambda: (tmp_path, "it is a directory"),
        "under_file": lambda: (out.with_name("file") / "warp.png", "is a regular file, so nothing can be created"),
        "same_as_out": lambda: (out, "it is the same file as --out"),
    }[bad]()
    (tmp_path / "file").write_text("")
    loaded = []
    monkeypatch.setattr("cocosnet.commands.translate.load_translator", lambda args: loaded.append(args))
    assert translate(tiny_checkpoint, inputs, "--out", str(out), "--warp-out", str(warp)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cocosnet translate: error: cannot write {warp}: ") and problem in err
    assert "Traceback" not in err and err.count("\n") == 1
    assert not out.exists() and loaded == []  # refused before the model was loaded


def test_translate_refuses_a_bad_out(tiny_checkpoint, inputs, tmp_path, capsys):
    device, kind = _not_a_regular_file(tmp_path)
    assert translate(tiny_checkpoint, inputs, "--out", str(device)) == 2
    assert capsys.readouterr().err == (f"cocosnet translate: error: cannot write {device}: it is {kind}; outputs are "
                                       "written only as regular files\n")
    assert stat.S_IFMT(os.lstat(device).st_mode) in (stat.S_IFCHR, stat.S_IFIFO)


def test_disk_full_mid_write_is_a_clear_error_and_the_old_file_stays(tmp_path, monkeypatch):
    import errno

    import cocosnet.fileio as fileio

    out = tmp_path / "out.txt"
    atomic_write_text(out, "old")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(fileio.os, "fsync", full)
    with pytest.raises(OutputPathError, match=f"cannot write {out}: No space left on device; the partial write "
                                              f"was removed and the previous file, if any, is unchanged"):
        atomic_write_text(out, "new")
    assert out.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
