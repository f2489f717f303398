#!/usr/bin/env python3
"""Opens a VIVIM zero-knowledge link in a real headless Chromium and reports what it showed.

usage: zk_viewer_check.py URL [--password PW] [--timeout SECONDS] [--chromedriver PATH]
                          [--chromium PATH] [--screenshot FILE]

URL is the whole link, `http://<host>/s/<code>#<key>`. The browser is driven through
Selenium and chromedriver; the script waits (bounded by --timeout, default 20 s) until the
viewer page reports a final state through `<body data-state>`, typing --password into the
password form when the page asks for one. It then prints one JSON line:

  {"status": "ok" | "error",
   "text": the rendered conversation's visible text ("" unless status is ok),
   "error": the error the page shows ("" when ok),
   "signature": "verified" | "unsupported" | "failed" | null (null: not reached),
   "state": the page's final data-state,
   "requests": [every URL the browser requested, from Chrome's performance log],
   "requestDetails": [{"method", "url", "postData"}] for the same requests,
   "console": [browser console messages: script errors, CSP violations],
   "browser": "Chromium <version>"}

Exit status 0 when the browser ran (whatever the page showed; the caller asserts on the
JSON), 2 for bad arguments, 3 when the browser could not be started or driven.
chromedriver and chromium are found from the options, then VIVIM_CHROMEDRIVER /
VIVIM_CHROMIUM, then PATH (chromedriver, chromium, chromium-browser, google-chrome).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

FINAL_STATES = ("ok", "error")


def find(explicit, env, names):
    for candidate in [explicit, os.environ.get(env)] + [shutil.which(n) for n in names]:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def page_state(driver):
    return driver.execute_script(
        "const b = document.body; if (!b) return null;"
        "const t = (id) => { const e = document.getElementById(id); return e ? e.textContent.trim() : ''; };"
        "return {state: b.dataset.state || '', signature: b.dataset.signature || '',"
        " attempts: Number(b.dataset.attempts || 0), passwordError: t('password-error'),"
        " error: [t('error-text'), t('error-detail')].filter(Boolean).join(' ')};")


INTERNAL_SCHEMES = ("chrome:", "chrome-extension:", "chrome-untrusted:", "devtools:", "about:")


def requests_from_log(entries):
    """Network.requestWillBeSent events of the page, in order. `request.url` is the URL as
    the browser sends it: Chrome strips the fragment before sending and reports it apart
    (`urlFragment`), which is deliberately not copied here. Browser-internal pages (the new
    tab page Chromium opens at start-up) never reach the network and are left out."""
    details = []
    for entry in entries:
        try:
            message = json.loads(entry["message"])["message"]
        except (KeyError, ValueError, TypeError):
            continue
        if message.get("method") != "Network.requestWillBeSent":
            continue
        request = message.get("params", {}).get("request", {})
        detail = {"method": request.get("method", ""), "url": request.get("url", "")}
        if detail["url"].startswith(INTERNAL_SCHEMES):
            continue
        if "postData" in request:
            detail["postData"] = request["postData"]
        elif request.get("postDataEntries"):
            detail["postData"] = "(body in postDataEntries)"
        details.append(detail)
    return details


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("--password")
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--chromedriver")
    parser.add_argument("--chromium")
    parser.add_argument("--screenshot")
    args = parser.parse_args()

    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
    except ImportError as error:
        print(f"zk_viewer_check: selenium is not installed ({error})", file=sys.stderr)
        return 3

    driver_path = find(args.chromedriver, "VIVIM_CHROMEDRIVER", ["chromedriver"])
    browser_path = find(args.chromium, "VIVIM_CHROMIUM", ["chromium", "chromium-browser", "google-chrome"])
    if not driver_path or not browser_path:
        print(f"zk_viewer_check: chromedriver ({driver_path}) or chromium ({browser_path}) not found",
              file=sys.stderr)
        return 3

    # Never let Selenium Manager reach the network to fetch a driver.
    os.environ.setdefault("SE_AVOID_STATS", "true")
    profile = tempfile.mkdtemp(prefix="vivim-zk-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser_path
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                 "--disable-background-networking", "--disable-sync", "--disable-component-update",
                 "--metrics-recording-only", "--window-size=1200,900", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    options.page_load_strategy = "normal"

    driver = None
    try:
        try:
            driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
        except WebDriverException as error:
            print(f"zk_viewer_check: could not start Chromium: {error.msg or error}", file=sys.stderr)
            return 3
        driver.set_page_load_timeout(args.timeout)
        driver.set_script_timeout(args.timeout)
        browser = f"Chromium {driver.capabilities.get('browserVersion', '?')}"

        deadline = time.monotonic() + args.timeout
        result = {"status": "error", "text": "", "error": "", "signature": None, "state": ""}
        try:
            # Forget what the browser did before this navigation (its start-up page).
            driver.get_log("performance")
            driver.get_log("browser")
            driver.get(args.url)
            submitted = False
            state = None
            while True:
                state = page_state(driver) or {}
                result["state"] = state.get("state", "")
                if state.get("state") in FINAL_STATES:
                    break
                if state.get("state") == "password":
                    if args.password is None:
                        result["error"] = "the link asks for a password and none was given (--password)"
                        break
                    if submitted and state.get("attempts", 0) >= 1 and state.get("passwordError"):
                        result["error"] = state["passwordError"]
                        break
                    if not submitted:
                        field = driver.find_element(By.ID, "password")
                        field.clear()
                        field.send_keys(args.password)
                        driver.find_element(By.ID, "password-submit").click()
                        submitted = True
                if time.monotonic() > deadline:
                    result["error"] = f"timed out after {args.timeout:g} s in page state {state.get('state')!r}"
                    break
                time.sleep(0.1)

            if state.get("state") == "ok":
                result["status"] = "ok"
                result["text"] = driver.execute_script(
                    "const c = document.getElementById('content'); return c ? c.innerText : '';") or ""
            elif state.get("state") == "error":
                result["error"] = state.get("error", "")
            signature = state.get("signature")
            result["signature"] = signature if signature in ("verified", "unsupported", "failed") else None
        except WebDriverException as error:
            result["error"] = f"browser error: {(error.msg or str(error)).splitlines()[0]}"

        if args.screenshot:
            try:
                driver.save_screenshot(args.screenshot)
            except WebDriverException:
                pass
        try:
            details = requests_from_log(driver.get_log("performance"))
            console = [entry.get("message", "") for entry in driver.get_log("browser")]
        except WebDriverException as error:
            print(f"zk_viewer_check: could not read the browser logs: {error.msg or error}", file=sys.stderr)
            return 3
        # Leftovers of the start-up page can still arrive after the log was drained: keep the
        # requests from the navigation to URL on.
        target = args.url.split("#", 1)[0]
        start = next((i for i, detail in enumerate(details) if detail["url"] == target), 0)
        details = details[start:]
        result["requests"] = [detail["url"] for detail in details]
        result["requestDetails"] = details
        result["console"] = console
        result["browser"] = browser
        print(json.dumps(result, ensure_ascii=False))
        return 0
    finally:
        if driver is not None:
            try:
                driver.quit()
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
