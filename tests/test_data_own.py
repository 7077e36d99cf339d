"""Your own data: CSV tables, npz arrays, image folders, NumPy arrays and scikit-learn's
bundled tables become datasets that every tool and the CLI accept."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from steepest.cli import app
from steepest.config import parse_config
from steepest.data import from_arrays, load_dataset
from steepest.errors import DataError, InputError

runner = CliRunner()


def _csv(path, rows, header="a,b,label"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_a_csv_with_named_classes(tmp_path):
    rng = np.random.default_rng(0)
    rows = [f"{x:.3f},{y:.3f},{'cat' if x > y else 'dog'}"
            for x, y in rng.standard_normal((60, 2))]
    ds = load_dataset(str(_csv(tmp_path / "pets.csv", rows)))
    assert ds.classes == ["cat", "dog"] and ds.n_features == 2
    assert ds.n_train + ds.n_test == 60 and ds.source["kind"] == "csv"


def test_the_target_column_may_be_anywhere(tmp_path):
    rows = [f"{i % 3},{i},{2 * i}" for i in range(30)]
    ds = load_dataset(str(_csv(tmp_path / "t.csv", rows, "klass,x,y")), target="klass")
    assert ds.classes == ["0", "1", "2"] and ds.n_features == 2


@pytest.mark.parametrize("rows, message", [
    (["1,2,a", "3,,b"], "missing value in column 'b' at row 3"),
    (["1,2,a", "x,4,b"], "column 'a' is not numeric (row 3 holds 'x')"),
    (["1,2,a", "3,4"], "row 3 has 2 values"),
    (["1,2,0.5", "3,4,1.5"], "labels must be classes"),
])
def test_csv_problems_name_the_column_and_row(tmp_path, rows, message):
    path = _csv(tmp_path / "bad.csv", rows)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_dataset(str(path))
    with pytest.raises(DataError, match="no column named 'nope'"):
        load_dataset(str(path), target="nope")


def test_an_npz_of_arrays(tmp_path):
    X = np.random.default_rng(1).random((40, 4, 4))
    np.savez(tmp_path / "d.npz", X=X, y=np.arange(40) % 4)
    ds = load_dataset(str(tmp_path / "d.npz"))
    assert ds.image_shape == (4, 4) and ds.n_classes == 4 and ds.n_features == 16
    np.savez(tmp_path / "bad.npz", X=X)
    with pytest.raises(DataError, match="missing y"):
        load_dataset(str(tmp_path / "bad.npz"))


def test_a_folder_of_class_folders_of_images(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(2)
    for label in ("circles", "squares"):
        (tmp_path / "img" / label).mkdir(parents=True)
        for i in range(6):
            pixels = (rng.random((5, 7)) * 255).astype(np.uint8)
            Image.fromarray(pixels, mode="L").save(tmp_path / "img" / label / f"{i}.png")
    ds = load_dataset(str(tmp_path / "img"))
    assert ds.classes == ["circles", "squares"] and ds.image_shape == (5, 7)
    assert 0 <= ds.X_train.min() and ds.X_train.max() <= 1
    Image.fromarray(np.zeros((3, 3), np.uint8)).save(tmp_path / "img" / "squares" / "odd.png")
    with pytest.raises(DataError, match="images must share one size"):
        load_dataset(str(tmp_path / "img"))


@pytest.mark.parametrize("name, classes", [("iris", 3), ("wine", 3), ("breast-cancer", 2)])
def test_scikit_learn_tables_by_name(name, classes):
    assert load_dataset(name).n_classes == classes


def test_numpy_arrays_in_the_api():
    ds = from_arrays(np.random.default_rng(3).random((30, 2)), ["yes", "no"] * 15)
    assert ds.classes == ["no", "yes"] and ds.n_train + ds.n_test == 30
    with pytest.raises(InputError, match="labels for 5 rows"):
        from_arrays(np.zeros((5, 2)), [0, 1])


def test_the_cli_trains_on_a_csv(tmp_path):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((200, 3))
    rows = [f"{a:.4f},{b:.4f},{c:.4f},{int(a + b > 0)}" for a, b, c in X]
    path = _csv(tmp_path / "table.csv", rows, "a,b,c,y")
    res = runner.invoke(app, ["train", "--dataset", str(path), "--target", "y", "--epochs",
                              "20", "--hidden", "16", "--preprocess", "standardize", "--out",
                              str(tmp_path / "run"), "--json", "--no-plots"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["test_acc"] > 0.8
    bad = runner.invoke(app, ["train", "--dataset", str(tmp_path / "nothing.csv")])
    assert bad.exit_code == 2 and "no dataset file or folder" in bad.output
    unknown = runner.invoke(app, ["train", "--dataset", "imagenet"])
    assert unknown.exit_code == 2 and "breast-cancer" in unknown.output


def test_the_config_names_bundled_tables():
    assert parse_config({"data": {"name": "iris"}}).data.name == "iris"
