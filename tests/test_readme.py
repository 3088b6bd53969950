"""README.md's results are generated from the committed result set: `python -m reports readme --check`."""

import pathlib

from reports import readme

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_readme_results_match_the_committed_set(capsys):
    assert readme.run(check=True) == 0, capsys.readouterr().out


def test_a_hand_edited_block_is_caught_and_regenerated(tmp_path, monkeypatch):
    monkeypatch.setattr(readme, "FIGURES", tmp_path / "docs" / "figures")
    monkeypatch.setattr(readme, "ROOT", tmp_path)
    text = (ROOT / "README.md").read_text()
    start = text.index("<!-- BEGIN generated: main-table -->\n") + len("<!-- BEGIN generated: main-table -->\n")
    edited = text[:start] + "| typed by hand | 99.9 |\n" + text[start:]
    copy = tmp_path / "README.md"
    copy.write_text(edited)
    assert readme.run(check=True, readme=copy) == 1
    assert copy.read_text() == edited  # --check writes nothing
    assert readme.run(readme=copy) == 0
    assert copy.read_text() == text  # regenerated; everything outside the blocks untouched
