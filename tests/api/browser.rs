//! The browser suite (`tests/browser/*.test.mjs`, headless Chromium through playwright-core)
//! run against the real binary.
//!
//! It needs Debian's `chromium` and `npm ci` in `tests/browser`; `scripts/test` installs both.
//! Without them this test fails and says so, unless `CONSENTRY_SKIP_BROWSER=1` is set.

use std::path::Path;
use std::process::Command;

use crate::binary::BIN;

#[test]
fn the_banner_passes_its_browser_tests_in_headless_chromium() {
    if std::env::var("CONSENTRY_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("browser tests skipped: CONSENTRY_SKIP_BROWSER=1");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ready = root
        .join("tests/browser/node_modules/playwright-core")
        .is_dir()
        && Path::new("/usr/bin/chromium").exists();
    assert!(
        ready,
        "the browser tests need /usr/bin/chromium and `npm ci` in tests/browser: run scripts/test \
         (it installs them), or set CONSENTRY_SKIP_BROWSER=1 to skip them"
    );
    let status = Command::new("node")
        .args(["--test", "--test-concurrency=1", "tests/browser/"])
        .env("CONSENTRY_BIN", BIN)
        .current_dir(root)
        .status()
        .expect("node runs");
    assert!(
        status.success(),
        "the browser tests failed: see their output above"
    );
}
