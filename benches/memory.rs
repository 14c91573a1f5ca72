//! Memory per path entry: resident-set growth while building route tables, read from
//! `/proc/self/statm` (Linux). Run: `cargo bench -p ingress-benches --bench memory`.

use ingress_benches::{PATHS, cluster};
use ingress_core::{RouteTable, TableConfig};

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    for hosts in [10_000, 100_000] {
        let state = cluster(hosts);
        let before = resident_bytes();
        let table = RouteTable::build(&state, &TableConfig::default());
        let after = resident_bytes();
        let paths = hosts * PATHS.len();
        assert_eq!(table.size().1, paths);
        match (before, after) {
            (Some(b), Some(a)) => println!(
                "memory: {hosts} hosts, {paths} paths: table adds {:.1} MiB resident = {:.0} bytes/path",
                (a.saturating_sub(b)) as f64 / 1048576.0,
                a.saturating_sub(b) as f64 / paths as f64
            ),
            _ => println!("memory: /proc/self/statm unavailable; cannot measure"),
        }
        drop(table);
    }
}
