"""Drive the demo page in headless Chromium with selenium (used by tests/test_demo_browser.py and
docs/demo/make_screenshot.py).

Needs Debian's `chromium` and `chromium-driver` packages and `pip install selenium`. The driver is given
explicitly (/usr/bin/chromedriver), so selenium's driver manager never tries to download one.
"""
from __future__ import annotations

import shutil
import socket
from contextlib import contextmanager
from pathlib import Path

CHROMEDRIVER = "/usr/bin/chromedriver"


def missing_requirements() -> list[str]:
    """What the browser test lacks here (empty when it can run)."""
    import importlib.util

    missing = []
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        missing.append("chromium (apt-get install chromium)")
    if not Path(CHROMEDRIVER).exists():
        missing.append(f"{CHROMEDRIVER} (apt-get install chromium-driver)")
    for module, extra in (("selenium", "pip install selenium"), ("gradio", 'pip install "modeling-t2l[demo]"')):
        if importlib.util.find_spec(module) is None:
            missing.append(f"{module} ({extra})")
    return missing


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served(app):
    """Launch a Gradio app on a free local port for the duration of the block; yields its URL."""
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


@contextmanager
def chromium(width: int = 1400, height: int = 1300):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    # --no-sandbox: Chromium refuses to run as root with its sandbox; /dev/shm is small in containers.
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def classify_on_page(driver, url: str, video: str, labels: str, template: str | None = None,
                     window: float | None = None, stride: float | None = None, screenshot: str | None = None,
                     timeout: float = 120) -> dict:
    """Upload `video`, type the labels (and template, window, stride), press Classify; return what the page shows.

    Returns {"status": the status text, "top_label": the bold label in it, "scores": the bar chart's text}.
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, timeout)
    driver.get(url)
    upload = wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#video input[type=file]")))
    upload.send_keys(str(Path(video).resolve()))
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#video video")))  # the upload has arrived
    driver.find_element(By.CSS_SELECTOR, "#labels textarea").send_keys(labels)
    if template:
        driver.find_element(By.CSS_SELECTOR, "#template textarea, #template input").send_keys(template)
    for elem_id, value in (("window", window), ("stride", stride)):
        if value is not None:
            field = driver.find_element(By.CSS_SELECTOR, f"#{elem_id} input")
            field.clear()
            field.send_keys(f"{value:g}")
    driver.find_element(By.CSS_SELECTOR, "#classify").click()
    wait.until(lambda d: any(word in d.find_element(By.ID, "status").text for word in ("Top label", "Error")))
    status = driver.find_element(By.ID, "status")
    bold = status.find_elements(By.CSS_SELECTOR, "strong")
    if screenshot:
        driver.execute_script("window.scrollTo(0, 0)")
        if driver.find_elements(By.CSS_SELECTOR, "#timeline img"):
            wait.until(lambda d: d.execute_script("return document.querySelector('#timeline img').complete"))
        Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(screenshot))
    return {
        "status": status.text,
        "top_label": bold[0].text if bold and "Top label" in status.text else None,
        "scores": driver.find_element(By.ID, "scores").text,
    }
