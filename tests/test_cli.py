import anndata as ad
import pytest

import scaug
from scaug.cli import main


@pytest.fixture
def sim_path(sim, tmp_path):
    path = tmp_path / "sim.h5ad"
    sim.write_h5ad(path)
    return path


def test_methods_lists_resampling(capsys):
    assert main(["methods"]) == 0
    assert "smote" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["methods", "augment", "generate", "demo"])
def test_help_for_each_command(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert "usage: scaug" in capsys.readouterr().out


def test_augment_writes_h5ad_and_table(sim_path, tmp_path, capsys):
    out = tmp_path / "aug.h5ad"
    code = main(["augment", "-i", str(sim_path), "-o", str(out), "--labels-key", "cell_type", "-m", "smote"])
    assert code == 0
    aug = ad.read_h5ad(out)
    assert aug.obs["scaug_synthetic"].sum() > 0
    assert "synthetic" in capsys.readouterr().out


def test_generate_dict_n_cells(sim_path, tmp_path):
    out = tmp_path / "syn.h5ad"
    code = main(
        [
            "generate",
            "-i",
            str(sim_path),
            "-o",
            str(out),
            "--labels-key",
            "cell_type",
            "-m",
            "smote",
            "--n-cells",
            "type_3=5,type_2=2",
        ]
    )
    assert code == 0
    assert ad.read_h5ad(out).obs["cell_type"].value_counts().to_dict() == {"type_3": 5, "type_2": 2}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--labels-key", "nope"], "not a column"),
        (["--labels-key", "cell_type", "-m", "nope"], "unknown method"),
        (["--labels-key", "cell_type", "--n-cells", "type_9=3"], "unknown labels"),
        (
            ["--labels-key", "cell_type", "-m", "cscgan", "--train-kwargs", '{"strategy": "ddp"}'],
            "do it with `scaug train`",
        ),
    ],
)
def test_bad_input_exit_code_and_one_line(sim_path, tmp_path, capsys, args, message):
    code = main(["augment", "-i", str(sim_path), "-o", str(tmp_path / "x.h5ad"), *args])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.h5ad").exists()


def test_missing_file(tmp_path, capsys):
    assert main(["augment", "-i", str(tmp_path / "none.h5ad"), "-o", "x.h5ad", "--labels-key", "a"]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_bad_n_cells_syntax_is_usage_error(sim_path, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "augment",
                "-i",
                str(sim_path),
                "-o",
                str(tmp_path / "x.h5ad"),
                "--labels-key",
                "cell_type",
                "--n-cells",
                "many",
            ]
        )
    assert exit_.value.code == 2


@pytest.mark.parametrize("protocol", ["downsampling", "imbalance"])
def test_bench_quick_writes_table_figure_and_summary(protocol, tmp_path, capsys):
    """The --quick settings run end to end (the issue's bound: under 5 minutes each on 2 cores)."""
    import matplotlib
    import pandas as pd

    matplotlib.use("Agg")
    csv, png = tmp_path / "bench.csv", tmp_path / "bench.png"
    assert main(["bench", protocol, "--quick", "-o", str(csv), "--figure", str(png)]) == 0
    table = pd.read_csv(csv)
    assert {"method", "metric", "value", "status"} <= set(table.columns)
    methods = set(table["method"])
    assert {"none", "smote", "cscgan"} <= methods
    if protocol == "downsampling":
        assert "real_cells" in methods and set(table["n_kept"]) == {10, 2}
    else:
        assert set(table["fold"]) == {0, 1, 2}
    assert png.stat().st_size > 0
    out = capsys.readouterr().out
    assert "wrote" in out and "smote" in out


def test_bench_needs_data_or_quick(tmp_path, capsys):
    assert main(["bench", "downsampling", "-o", str(tmp_path / "x.csv")]) == 2
    assert "--input" in capsys.readouterr().err
    sim = tmp_path / "sim.h5ad"
    scaug.datasets.simulate(300, 50, 3, random_state=0).write_h5ad(sim)
    assert main(["bench", "downsampling", "-i", str(sim), "--labels-key", "cell_type", "-o", "x.csv"]) == 2
    assert "--target is required" in capsys.readouterr().err


def test_bench_speed_on_the_command_line(tmp_path, capsys):
    csv = tmp_path / "speed.csv"
    code = main(["bench", "speed", "-m", "smote", "--sizes", "300", "-o", str(csv)])
    assert code == 0
    import pandas as pd

    table = pd.read_csv(csv)
    assert set(table["stage"]) == {"data", "train", "generate", "fidelity"}
    assert (table.loc[table["metric"] == "seconds", "value"] > 0).all()
