//! Leader election: one leader, failover on expiry, a prompt takeover of a released Lease,
//! and a leader that steps down at its renew deadline.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_controllers_elect_one_leader_and_fail_over_when_its_lease_expires() {
    let fake = FakeApi::start().await;
    seed(&fake);
    let start = |identity: &str| {
        let (writer, _reader) = table(table_config());
        let source = ClusterSource::new(fake.client(), config(identity));
        let leading = source.leading();
        (
            tokio::spawn(source.run(writer, std::future::pending())),
            leading,
        )
    };
    let (task_a, leading_a) = start("controller-a");
    let (task_b, leading_b) = start("controller-b");
    let one_leads = || *leading_a.borrow() || *leading_b.borrow();
    assert!(
        eventually(Duration::from_secs(5), one_leads).await,
        "someone leads"
    );
    // Watch several renewal rounds: never both.
    let deadline = Instant::now() + Duration::from_millis(600);
    while Instant::now() < deadline {
        assert!(
            !(*leading_a.borrow() && *leading_b.borrow()),
            "two leaders at once"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (leader, follower, follower_leading) = if *leading_a.borrow() {
        (task_a, task_b, leading_b)
    } else {
        (task_b, task_a, leading_a)
    };
    // The leader dies without handing the Lease back: the follower takes over once it expires.
    let died = Instant::now();
    leader.abort();
    let follower_leading = Arc::new(follower_leading);
    let took_over = eventually(Duration::from_secs(5), || *follower_leading.borrow()).await;
    assert!(took_over, "the follower takes over");
    assert!(
        died.elapsed() >= Duration::from_millis(900),
        "not before the Lease expired: {:?}",
        died.elapsed()
    );
    follower.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_lease_is_taken_within_a_retry_period_not_at_expiry() {
    let fake = FakeApi::start().await;
    seed(&fake);
    // A long Lease (5 s) and a short retry period: only a release explains a fast takeover.
    let long = |identity: &str| ClusterConfig {
        lease: LeaseConfig {
            duration: Duration::from_secs(5),
            renew_deadline: Duration::from_millis(2500),
            ..config(identity).lease
        },
        ..config(identity)
    };
    let (task_a, leading_a, stop_a) = start_controller(&fake, long("controller-a"));
    assert!(eventually(Duration::from_secs(5), || *leading_a.borrow()).await);
    let (task_b, leading_b, _stop_b) = start_controller(&fake, long("controller-b"));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!*leading_b.borrow(), "a standby while the leader renews");

    let released = Instant::now();
    stop_a.send(()).unwrap();
    let took_over = eventually(Duration::from_secs(10), || *leading_b.borrow()).await;
    assert!(took_over, "the standby takes the released Lease");
    assert!(
        released.elapsed() < Duration::from_secs(4),
        "taken after the release, before the 5 s Lease could expire: {:?}",
        released.elapsed()
    );
    let _ = task_a.await;
    task_b.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_renewals_fail_steps_down_at_its_renew_deadline() {
    let fake = FakeApi::start().await;
    seed(&fake);
    let (task_a, leading_a, _stop_a) = start_controller(&fake, config("controller-a"));
    assert!(eventually(Duration::from_secs(5), || *leading_a.borrow()).await);
    // controller-a is cut off from the API server's Lease writes (its renewals fail).
    let cut = Instant::now();
    fake.store
        .lock()
        .unwrap()
        .blocked_holders
        .push("controller-a".into());
    // It keeps leading through short failures, but not past its 500 ms renew deadline, which
    // ends before its 1 s Lease expires (so no one else may lead while it still thinks it does).
    let stepped_down = eventually(Duration::from_secs(5), || !*leading_a.borrow()).await;
    assert!(stepped_down, "the leader steps down");
    let after = cut.elapsed();
    assert!(
        after >= Duration::from_millis(300),
        "not at the first failure: {after:?}"
    );
    assert!(
        after < Duration::from_secs(1),
        "before its Lease expires: {after:?}"
    );
    task_a.abort();
}
