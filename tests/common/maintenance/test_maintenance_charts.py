"""Server-rendered SVG charts: CSP-safe markup, escaped text, gaps and empty data handled."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from common.maintenance import charts
from tests.maintenance_flask.support import at


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML


def test_time_series_draws_gaps_thresholds_and_no_inline_style() -> None:
    svg = charts.time_series_svg(title="Risk <of> failure", times=[at(i) for i in range(6)], y_label="P",
                                 series=[("P", [0.1, 0.2, None, 0.4, 0.5, 0.9], charts.BLUE)],
                                 thresholds=[(0.3, "alert 0.30", charts.RED)], y_range=(0.0, 1.0))
    root = _parse(svg)
    assert root.find("{http://www.w3.org/2000/svg}title").text == "Risk <of> failure"
    assert svg.count("<polyline") == 2  # the missing value splits the line
    assert "alert 0.30" in svg and 'stroke-dasharray="5 4"' in svg
    assert "style=" not in svg and "<style" not in svg and "<script" not in svg


def test_empty_series_says_no_data() -> None:
    svg = charts.time_series_svg(title="Torque", times=[], y_label="Nm", series=[("torque", [], charts.BLUE)])
    assert "no data yet" in svg
    _parse(svg)


def test_model_card_charts_are_well_formed() -> None:
    pr = charts.pr_curve_svg(points=[[0.0, 1.0], [0.5, 0.95], [1.0, 0.03]], operating=(0.8, 0.97), threshold=0.31,
                             base_rate=0.034)
    matrix = charts.confusion_matrix_svg(tp=277, fp=3, fn=62, tn=9658, threshold=0.31)
    scatter = charts.rul_scatter_svg(pairs=[[10, 12.0], [80, 70.5], [140, 125.0]], cap=125)
    for svg in (pr, matrix, scatter):
        _parse(svg)
        assert "style=" not in svg
    assert "precision 0.97, recall 0.80" in pr
    assert re.search(r">9,658<", matrix) and "false alarm" in matrix
    assert scatter.count("<circle") == 3 and "cap 125" in scatter
