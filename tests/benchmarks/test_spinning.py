"""The paired spinning study on a real bundle: every setting timed in every block, ratios over spinning on."""

from fashion_edge.benchmarks import spinning


def test_paired_study_times_every_setting_in_every_block(tiny_bundle):
    study = spinning.measure(str(tiny_bundle), "onnx-int8", threads=2, blocks=4, calls=10, settle_s=0.01)
    assert set(study.p50_us) == set(spinning.settings()) == {"on", "off", "default"}
    assert set(study.ratio_over_on) == {"off", "default"}
    assert all(v > 0 for v in study.p50_us.values()) and all(v > 0 for v in study.ratio_over_on.values())
    assert study.to_json()["blocks"] == 4 and study.calls_per_block == 10


def test_a_bad_bundle_is_one_line_and_a_nonzero_exit(tmp_path, capsys):
    assert spinning.main([str(tmp_path / "missing"), "--blocks", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("spinning: ")
