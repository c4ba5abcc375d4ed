"""Translators' PO round trip: export, edit in a PO file, import back into the YAML."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace
from html import unescape
from pathlib import Path

import polib
import pytest
from conftest import SECRET_KEYS
from starlette.testclient import TestClient

from widget_server.app import create_app
from widget_server.cli import main
from widget_server.i18n import LOCALES_DIR, load_messages
from widget_server.problems import ProblemsError
from widget_server.settings import PROJECT_ROOT, Settings
from widget_server.signing import Signer
from widget_server.translations import importing, po
from widget_server.translations.record import Record
from widget_server.translations.sources import (
    SOURCE_LOCALE,
    TARGET_LOCALES,
    WIDGET_FOLDERS,
    collect,
    load,
    round_trip_yaml,
)
from widget_server.translations.writer import _dump
from widget_server.trees.compiler import compile_folder

QUESTION = "entry.yaml:nodes.who.text"


@pytest.fixture
def trees(tmp_path: Path) -> Path:
    folder = tmp_path / "trees"
    shutil.copytree(PROJECT_ROOT / "trees", folder)
    return folder


def digests(*folders: Path) -> dict[Path, str]:
    return {
        path: hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def export(trees: Path, out: Path, *locales: str) -> None:
    flags = [arg for locale in locales for arg in ("--locale", locale)]
    assert main(["trees", "export-po", *flags, "--out", str(out), "--trees", str(trees)]) == 0


def edit(path: Path, context: str, text: str) -> int:
    """Set one entry's translation in a PO file; the line of that entry."""
    catalog = polib.pofile(str(path))
    entry = next(e for e in catalog if e.msgctxt == context)
    entry.msgstr = text
    catalog.save(str(path))
    return next(e.linenum for e in polib.pofile(str(path)) if e.msgctxt == context)


def test_every_file_a_translator_writes_dumps_back_byte_for_byte() -> None:
    """The guard of the writer holds for every shipped file it may write."""
    files = sorted((PROJECT_ROOT / "trees").glob("*.yaml"))
    files += [
        folder / f"{locale}.yaml" for folder in WIDGET_FOLDERS.values() for locale in TARGET_LOCALES
    ]
    for path in files:
        assert _dump(load(path)) == path.read_text(encoding="utf-8"), path


def test_every_text_has_one_context_and_every_translation_is_current() -> None:
    units = collect(PROJECT_ROOT / "trees")
    contexts = [unit.context for unit in units]
    assert len(contexts) == len(set(contexts))
    assert len(units) > 700
    assert {c.split(":")[0] for c in contexts} >= {
        "entry.yaml",
        "alerts.yaml",
        "widget",
        "widget/report",
    }
    record = Record.read(PROJECT_ROOT / "trees")
    stale = [u.context for u in units for locale in TARGET_LOCALES if not record.current(locale, u)]
    assert stale == [], "run: widget-server trees translations --confirm, after checking them"


def test_a_round_trip_without_edits_changes_no_byte(
    trees: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = digests(trees, LOCALES_DIR)
    export(trees, tmp_path / "po", *TARGET_LOCALES)
    files = [str(tmp_path / "po" / f"{locale}.po") for locale in TARGET_LOCALES]
    capsys.readouterr()
    assert main(["trees", "import-po", *files, "--trees", str(trees)]) == 0
    assert "0 translations written in 0 files" in capsys.readouterr().out
    assert digests(trees, LOCALES_DIR) == before


def test_the_po_file_names_its_source_and_context(trees: Path, tmp_path: Path) -> None:
    export(trees, tmp_path, "ar")
    catalog = polib.pofile(str(tmp_path / "ar.po"))
    assert catalog.metadata["Language"] == "ar"
    entry = next(e for e in catalog if e.msgctxt == QUESTION)
    assert entry.msgid == load(trees / "entry.yaml")["nodes"]["who"]["text"][SOURCE_LOCALE]
    assert entry.msgstr == load(trees / "entry.yaml")["nodes"]["who"]["text"]["ar"]
    [(file, line)] = entry.occurrences
    assert file.endswith("entry.yaml")
    assert (trees / "entry.yaml").read_text().splitlines()[int(line) - 1].strip().startswith("fr:")
    assert "English: Who is the victim?" in entry.comment
    choice = next(e for e in catalog if e.msgctxt == "entry.yaml:nodes.who.choices[me].label")
    assert choice.msgid.startswith("Moi")
    widget = next(e for e in catalog if e.msgctxt == "widget:frame_title")
    assert "{partner}" in widget.msgid and "{partner}" in widget.msgstr


def test_an_arabic_edit_is_imported_and_shown_in_the_frame(
    trees: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = (trees / "entry.yaml").read_text(encoding="utf-8").splitlines()
    export(trees, tmp_path, "ar")
    new = "من الضحية في ما حدث: أنت أم شخص آخر؟"
    edit(tmp_path / "ar.po", QUESTION, new)
    capsys.readouterr()
    assert main(["trees", "import-po", str(tmp_path / "ar.po"), "--trees", str(trees)]) == 0
    printed = capsys.readouterr().out
    assert f"{QUESTION} [ar] changed" in printed
    assert "1 translation written in 1 file" in printed

    # Only the Arabic line changed, comments and all the rest kept.
    after = (trees / "entry.yaml").read_text(encoding="utf-8").splitlines()
    changed = [i for i, (a, b) in enumerate(zip(original, after, strict=True)) if a != b]
    assert len(changed) == 1 and after[changed[0]].strip().startswith("ar:")
    assert load(trees / "entry.yaml")["nodes"]["who"]["text"]["ar"] == new
    compile_folder(trees)

    settings = Settings(
        secret_keys=SECRET_KEYS,
        data_dir=tmp_path / "data",
        partners_file=PROJECT_ROOT / "embed" / "partners.yaml",
    )
    app = create_app(replace(settings, trees_dir=trees, reload_interval=0))
    token = Signer(SECRET_KEYS, 7200).embed_token("demo")
    with TestClient(app) as client:
        page = client.get(f"/w/{token}?lang=ar")
    assert page.status_code == 200
    assert new in unescape(page.text)


def test_a_missing_translation_is_listed_then_imported_in_its_place(
    trees: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = trees / "entry.yaml"
    original = path.read_text(encoding="utf-8")
    lines = original.splitlines(keepends=True)
    dutch = next(i for i, line in enumerate(lines) if line.strip() == "nl: Wie is het slachtoffer?")
    path.write_text("".join(lines[:dutch] + lines[dutch + 1 :]), encoding="utf-8")
    capsys.readouterr()
    assert main(["trees", "translations", "--locale", "nl", "--list", "--trees", str(trees)]) == 0
    listed = capsys.readouterr().out
    assert f"{QUESTION} [nl] missing" in listed
    assert listed.splitlines()[1].split()[3] == "1"  # nl's missing count

    export(trees, tmp_path, "nl")
    entry = next(e for e in polib.pofile(str(tmp_path / "nl.po")) if e.msgctxt == QUESTION)
    assert entry.msgstr == ""
    edit(tmp_path / "nl.po", QUESTION, "Wie is het slachtoffer?")
    assert main(["trees", "import-po", str(tmp_path / "nl.po"), "--trees", str(trees)]) == 0
    assert f"{QUESTION} [nl] added" in capsys.readouterr().out
    assert path.read_text(encoding="utf-8") == original


def test_a_changed_french_text_is_out_of_date_and_its_old_po_refused(
    trees: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export(trees, tmp_path, "ar")
    line = edit(tmp_path / "ar.po", QUESTION, "من الضحية؟")
    path = trees / "entry.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "fr: Qui est victime ?", "fr: Qui est la victime ?"
        ),
        encoding="utf-8",
    )
    before = digests(trees)
    capsys.readouterr()
    assert main(["trees", "import-po", str(tmp_path / "ar.po"), "--trees", str(trees)]) == 1
    err = capsys.readouterr().err
    assert f"ar.po:{line}:1: the French text of {QUESTION!r} changed since the export" in err
    assert digests(trees) == before

    assert main(["trees", "translations", "--list", "--trees", str(trees)]) == 0
    listed = capsys.readouterr().out
    for locale in TARGET_LOCALES:
        assert f"{QUESTION} [{locale}] out of date" in listed
    export(trees, tmp_path / "again", "ar")
    entry = next(
        e for e in polib.pofile(str(tmp_path / "again" / "ar.po")) if e.msgctxt == QUESTION
    )
    assert entry.fuzzy and entry.msgid == "Qui est la victime ?"
    assert po.OUT_OF_DATE.split(",")[0] in entry.comment

    # Still fuzzy: left out. Checked and cleared: the translation is current again.
    assert (
        main(["trees", "import-po", str(tmp_path / "again" / "ar.po"), "--trees", str(trees)]) == 0
    )
    assert "1 empty or fuzzy left out" in capsys.readouterr().out
    catalog = polib.pofile(str(tmp_path / "again" / "ar.po"))
    next(e for e in catalog if e.msgctxt == QUESTION).flags.remove("fuzzy")
    catalog.save(str(tmp_path / "again" / "ar.po"))
    assert (
        main(["trees", "import-po", str(tmp_path / "again" / "ar.po"), "--trees", str(trees)]) == 0
    )
    assert "1 confirmed unchanged" in capsys.readouterr().out
    assert main(["trees", "translations", "--list", "--locale", "ar", "--trees", str(trees)]) == 0
    assert "out of date" not in capsys.readouterr().out.split("\n", 2)[2]


@pytest.mark.parametrize(
    ("context", "text", "said"),
    [
        (QUESTION, "<b>من</b> الضحية؟", "HTML"),
        ("entry.yaml:nodes.who.choices[me].label", "أنا\n\n- وحدي", "one paragraph"),
        ("widget:frame_title", "مساعدة الضحايا", "placeholders"),
        (QUESTION, "من\u202e الضحية؟", "U+202E"),
    ],
)
def test_a_translation_the_widget_would_refuse_is_refused_with_its_po_line(
    trees: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    context: str,
    text: str,
    said: str,
) -> None:
    export(trees, tmp_path, "ar")
    line = edit(tmp_path / "ar.po", context, text)
    before = digests(trees, LOCALES_DIR)
    capsys.readouterr()
    assert main(["trees", "import-po", str(tmp_path / "ar.po"), "--trees", str(trees)]) == 1
    err = capsys.readouterr().err
    assert f"ar.po:{line}:1: " in err and said in err
    assert digests(trees, LOCALES_DIR) == before


def test_a_widget_string_goes_into_its_locale_file(trees: Path, tmp_path: Path) -> None:
    folders = {}
    for prefix, folder in WIDGET_FOLDERS.items():
        copy = tmp_path / prefix.replace("/", "-")
        shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("report"))
        folders[prefix] = copy
    units = collect(trees, folders)
    catalog = po.export("nl", units, Record.read(trees))
    entry = next(e for e in catalog if e.msgctxt == "widget:frame_title")
    entry.msgstr = "{partner}: hulp bij online misdrijven"
    catalog.save(str(tmp_path / "nl.po"))
    result = importing.apply([po.read(tmp_path / "nl.po")], units, Record.read(trees))
    assert [change.unit.context for change in result.changes] == ["widget:frame_title"]
    assert load_messages(folders["widget"]).get("nl", "frame_title", partner="X") == (
        "X: hulp bij online misdrijven"
    )


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ('msgid ""\nmsgstr ""\n"Language: fr\\n"\n', "its Language header is 'fr'"),
        ('msgid ""\nmsgstr ""\n', "its Language header is 'missing'"),
        ('msgid "a"\nmsgstr "b"\nbogus\n', "not a PO file we can read"),
    ],
)
def test_a_po_file_that_cannot_be_used_is_refused(tmp_path: Path, content: str, said: str) -> None:
    path = tmp_path / "x.po"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ProblemsError) as raised:
        po.read(path)
    assert said in str(raised.value.problems[0])


def test_a_missing_po_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProblemsError) as raised:
        po.read(tmp_path / "nowhere.po")
    assert "not a PO file we can read" in str(raised.value.problems[0])


def test_a_file_laid_out_otherwise_is_refused_not_reformatted(
    trees: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = trees / "alerts.yaml"
    export(trees, tmp_path, "en")
    context = next(
        e.msgctxt
        for e in polib.pofile(str(tmp_path / "en.po"))
        if e.msgctxt.startswith("alerts.yaml")
    )
    edit(tmp_path / "en.po", context, "A new English text")
    data = load(path)
    yaml = round_trip_yaml()
    yaml.indent(mapping=4, sequence=6, offset=4)
    with path.open("w", encoding="utf-8") as stream:
        yaml.dump(data, stream)
    before = path.read_bytes()
    capsys.readouterr()
    assert main(["trees", "import-po", str(tmp_path / "en.po"), "--trees", str(trees)]) == 1
    assert "not laid out the way the translation tools write YAML" in capsys.readouterr().err
    assert path.read_bytes() == before
