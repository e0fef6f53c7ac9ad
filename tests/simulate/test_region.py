"""The simulated region's reference data: the right size, realistic, and the same for the same seed."""

from collections import Counter

import pytest

from app.simulate.catalogue import CATALOGUE, NATURAL, WORKING
from app.simulate.region import DEPARTMENT_TYPE, build_region, reference_rows

CAMERA = "rtsp://user:pass@127.0.0.1:8554/cam{n}"


@pytest.fixture(scope="module")
def region():
    return build_region(7, CAMERA)


def test_127_centers_on_three_levels(region):
    levels = Counter(c.level for c in region.centers)
    assert levels == {"region": 1, "city": 14, "county": 112}
    assert region.centers[0].center_id == "GX-450000" and region.centers[0].name == "广西壮族自治区政务服务中心"
    cities = {c.area_code: c.name for c in region.centers if c.level == "city"}
    assert cities["450100"] == "南宁市政务服务中心" and cities["451400"] == "崇左市政务服务中心"
    # every county center hangs under its own city
    by_id = {c.center_id: c for c in region.centers}
    for county in (c for c in region.centers if c.level == "county"):
        assert by_id[county.parent_id].level == "city"
        assert county.area_code[:4] == by_id[county.parent_id].area_code[:4]
    assert len({c.area_code for c in region.centers}) == 127


def test_about_6000_windows_bigger_at_higher_levels(region):
    assert 5400 <= len(region.windows) <= 6600
    per_center = Counter(w.center_id for w in region.windows)
    level = {c.center_id: c.level for c in region.centers}
    smallest_city = min(n for cid, n in per_center.items() if level[cid] == "city")
    largest_county = max(n for cid, n in per_center.items() if level[cid] == "county")
    assert per_center["GX-450000"] > smallest_city > largest_county


def test_one_camera_per_window_from_the_template(region):
    assert len(region.cameras) == len(region.windows)
    assert [k.window_id for k in region.cameras] == [w.window_id for w in region.windows]
    assert region.cameras[0].url == "rtsp://user:pass@127.0.0.1:8554/cam1"
    assert region.cameras[-1].url.endswith(f"/cam{len(region.windows)}")
    other = build_region(7, "rtsp://10.0.0.1/{window_id}", "rtsp://10.0.0.1/{window_id}/sub")
    assert other.cameras[5].url == f"rtsp://10.0.0.1/{other.windows[5].window_id}"
    assert other.cameras[5].substream_url.endswith("/sub")


def test_staff_at_every_window_and_in_every_back_office(region):
    staffed = {s.window_id for s in region.staff if s.window_id}
    assert staffed == {w.window_id for w in region.windows}
    for office in region.offices.values():
        assert all(office.back_office[d.dept_id] for d in office.departments.values())
    assert all(2 <= len(s.name) <= 3 for s in region.staff)


def test_catalogue_has_at_least_200_realistic_items():
    assert len(CATALOGUE) >= 200 and len({i.name for i in CATALOGUE}) == len(CATALOGUE)
    assert {"食品经营许可", "建设工程规划许可证核发", "道路货物运输经营许可", "医师执业注册"} <= {
        i.name for i in CATALOGUE
    }
    for item in CATALOGUE:
        assert 1 <= item.promised <= item.statutory, item.name  # a promise never beyond the law
        assert item.unit in (WORKING, NATURAL) and item.dept in DEPARTMENT_TYPE
    units = Counter(i.unit for i in CATALOGUE)
    assert units[WORKING] > 5 * units[NATURAL] > 0  # mostly working days, some natural
    fees = [i for i in CATALOGUE if i.fee]
    assert 0 < len(fees) < len(CATALOGUE) / 10  # a few with fees, most free


def test_every_center_implements_items_of_its_own_departments(region):
    depts = {d.dept_id for d in region.departments}
    assert all(i.dept_id in depts for i in region.items)
    for office in region.offices.values():
        assert office.item_list and office.counter.get(None)  # items, and a comprehensive window


def test_same_seed_same_region_other_seed_other_staff(region):
    assert reference_rows(build_region(7, CAMERA)) == reference_rows(region)
    other = reference_rows(build_region(8, CAMERA))
    assert other["centers"] == reference_rows(region)["centers"]  # the real places do not change
    assert other["staff"] != reference_rows(region)["staff"]
