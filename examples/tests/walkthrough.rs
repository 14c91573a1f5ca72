//! Runs the walkthrough example (built by `cargo test` with the other targets) and checks that
//! it exits 0 having done every step, as a newcomer's `cargo run --release --example
//! walkthrough` would.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// `target/<profile>/examples/walkthrough`, next to this test's own `deps/` directory.
fn walkthrough_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    profile_dir.join("examples").join("walkthrough")
}

#[test]
fn walkthrough_runs_every_step() {
    let binary = walkthrough_binary();
    assert!(binary.exists(), "{} was not built", binary.display());
    let started = Instant::now();
    let mut child = Command::new(&binary)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start walkthrough");
    // Bounded: the walkthrough finishes in seconds; give up (and kill it) after 120 s.
    let deadline = started + Duration::from_secs(120);
    while child.try_wait().expect("poll walkthrough").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("walkthrough did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().expect("walkthrough output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(output.status.success(), "walkthrough failed:\n{stdout}");
    for step in [
        "== 1. HTTP for tomcat.lucky.com",
        "== 2. HTTPS for test.lucky.com",
        "== 3. Kill replica-1",
        "== 4. Edit an Ingress file",
        "== 5. An unknown host",
        "== 6. The virtual IP",
        "Every step did what it said.",
    ] {
        assert!(stdout.contains(step), "missing {step:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("FAILED"), "{stdout}");
    // The VIP step runs where namespaces can be created (root with `ip`); CI, which installs
    // them, demands it (the ingress-lb namespace tests read the same variable).
    let vip_ran = stdout.contains("[ok] node-2 (the BACKUP) took the VIP over");
    let vip_skipped = stdout.contains("skipped:");
    assert!(vip_ran || vip_skipped, "{stdout}");
    if std::env::var("INGRESS_LB_REQUIRE_NETNS").as_deref() == Ok("1") {
        assert!(
            vip_ran,
            "INGRESS_LB_REQUIRE_NETNS=1 but the VIP step did not run:\n{stdout}"
        );
    }
}
