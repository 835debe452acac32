"""The page of ``ganedit serve`` in a real browser (headless Chromium via selenium).

Open the page, load a photo, paint one stroke on the mask canvas, inpaint with ``cv2-telea``,
and check that the result the page offers for download differs from the photo only under the
stroke. Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them); skipped
with the reason when they are missing.
"""

from __future__ import annotations

import base64
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
webdriver = pytest.importorskip("selenium.webdriver")

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from ganedit.serve import ServeSettings, create_app  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="needs chromium and chromedriver (apt-get install chromium chromium-driver)",
)


@pytest.fixture
def server() -> Iterator[str]:
    from http_helpers import serve_app

    with serve_app(create_app(ServeSettings(models=("cv2-telea",), device="cpu"))) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1200,900", "--force-device-scale-factor=1"):  # fmt: skip
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.mark.timeout(180, method="thread")
def test_paint_a_stroke_and_inpaint_it_in_the_page(server: str, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    base = np.linspace(40, 220, 96, dtype=np.float32)[None, :, None]
    photo = np.clip(base + rng.normal(0, 12, (72, 96, 3)), 0, 255).astype(np.uint8)
    photo_path = tmp_path / "photo.png"
    Image.fromarray(photo).save(photo_path)

    browser.get(server + "/")
    wait = WebDriverWait(browser, 60)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#model option")) > 0)
    Select(browser.find_element(By.ID, "model")).select_by_value("cv2-telea")
    wait.until(lambda d: d.find_element(By.ID, "brush").is_displayed())
    browser.find_element(By.ID, "file").send_keys(str(photo_path))
    wait.until(lambda d: d.find_element(By.ID, "stage").is_displayed())
    browser.execute_script("document.getElementById('size').value = 10")

    canvas = browser.find_element(By.ID, "mask")
    assert (canvas.size["width"], canvas.size["height"]) == (96, 72)  # shown at full size
    # A horizontal stroke across the middle: from x=30 to x=60 at y=36 (image pixels).
    left = canvas.size["width"] / 2
    top = canvas.size["height"] / 2
    actions = ActionChains(browser)
    actions.move_to_element_with_offset(canvas, 30 - left, 36 - top).click_and_hold()
    for x in range(33, 61, 3):
        actions.move_to_element_with_offset(canvas, x - left, 36 - top)
    actions.release().perform()

    browser.find_element(By.ID, "run").click()
    wait.until(lambda d: d.find_element(By.ID, "status").text in ("done",) or
               d.find_element(By.ID, "status").text.startswith("failed"))  # fmt: skip
    assert browser.find_element(By.ID, "status").text == "done"
    browser.save_screenshot(str(tmp_path / "page.png"))
    encoded = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        fetch(document.getElementById('download').href)
          .then((r) => r.arrayBuffer())
          .then((b) => {
            let s = '';
            new Uint8Array(b).forEach((x) => { s += String.fromCharCode(x); });
            done(btoa(s));
          });
        """
    )
    result = np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))).convert("RGB"))

    assert result.shape == photo.shape
    changed = np.any(result != photo, axis=2)
    assert changed.sum() > 20  # the stroke was filled
    rows, cols = np.nonzero(changed)
    # Only under the stroke (radius 5 around y=36, x=30..60), give or take the fill's feather.
    assert rows.min() >= 36 - 5 - 8 and rows.max() <= 36 + 5 + 8
    assert cols.min() >= 30 - 5 - 8 and cols.max() <= 60 + 5 + 8
    assert (tmp_path / "page.png").stat().st_size > 0
