//! Route-table benchmarks: lookup latency against the naive reference, build time, endpoint
//! updates, and lookups while a writer publishes a snapshot every millisecond.
//!
//! `cargo bench -p ingress-benches --bench core_lookup`
//!
//! Uses mimalloc, the allocator the `ingress-proxy` and `ingress-lb` binaries ship with: a
//! table build is dominated by many small allocations, and glibc's malloc is slow at those.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ingress_benches::{cluster, endpoint_slice, requests};
use ingress_core::reference::ReferenceRouter;
use ingress_core::{Change, RouteTable, TableConfig, table};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("lookup");
    group.throughput(Throughput::Elements(1));
    for hosts in [10, 1_000, 10_000, 100_000] {
        let state = cluster(hosts);
        let table = RouteTable::build(&state, &TableConfig::default());
        let reqs = requests(hosts, 4096);
        let mut n = 0;
        group.bench_with_input(BenchmarkId::new("table", hosts), &hosts, |b, _| {
            b.iter(|| {
                n = (n + 1) & 4095;
                let (h, p) = &reqs[n];
                black_box(table.route(Some(h), p).source)
            })
        });
        if hosts <= 1_000 {
            let reference = ReferenceRouter::new(&state, &TableConfig::default());
            group.bench_with_input(BenchmarkId::new("reference", hosts), &hosts, |b, _| {
                b.iter(|| {
                    n = (n + 1) & 4095;
                    let (h, p) = &reqs[n];
                    black_box(reference.route(Some(h), p).source)
                })
            });
        }
    }
    group.finish();
}

fn build(c: &mut Criterion) {
    let mut group = c.benchmark_group("build");
    group.sample_size(10);
    for ingresses in [1_000, 10_000, 100_000] {
        let state = cluster(ingresses);
        group.bench_with_input(
            BenchmarkId::from_parameter(ingresses),
            &ingresses,
            |b, _| b.iter(|| black_box(RouteTable::build(&state, &TableConfig::default()))),
        );
    }
    group.finish();
}

fn endpoint_update(c: &mut Criterion) {
    let mut group = c.benchmark_group("endpoint_update");
    for (hosts, endpoints) in [(1_000, 10), (100_000, 10), (100_000, 1_000)] {
        let (mut writer, _reader) = table(TableConfig::default());
        writer.replace(cluster(hosts));
        writer.commit();
        let mut salt = 0;
        group.bench_with_input(
            BenchmarkId::new(format!("{hosts}_hosts"), endpoints),
            &endpoints,
            |b, &endpoints| {
                b.iter_batched(
                    || {
                        salt += 1;
                        endpoint_slice(hosts / 2, endpoints, salt)
                    },
                    |slice| {
                        writer.apply(Change::UpsertEndpointSlice(slice));
                        let commit = writer.commit();
                        assert!(!commit.rebuilt && commit.endpoint_updates == 1);
                    },
                    BatchSize::SmallInput,
                )
            },
        );
    }
    group.finish();
}

/// Lookups on one thread while another thread publishes a fresh 1k-host snapshot every ms.
fn lookup_during_publish(c: &mut Criterion) {
    let mut group = c.benchmark_group("lookup_during_publish");
    group.throughput(Throughput::Elements(1));
    let hosts = 1_000;
    let state = cluster(hosts);
    let reqs = requests(hosts, 4096);
    for publishing in [false, true] {
        let (mut writer, reader) = table(TableConfig::default());
        writer.replace(state.clone());
        writer.commit();
        let stop = Arc::new(AtomicBool::new(false));
        let publisher = publishing.then(|| {
            let stop = stop.clone();
            let state = state.clone();
            std::thread::spawn(move || {
                let mut published = 0u64;
                // Bounded: stops when the benchmark ends, or after 10 minutes at most.
                let deadline = std::time::Instant::now() + Duration::from_secs(600);
                while !stop.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
                    writer.replace(state.clone());
                    writer.commit();
                    published += 1;
                    std::thread::sleep(Duration::from_millis(1));
                }
                published
            })
        });
        let mut n = 0;
        let name = if publishing {
            "publishing_every_ms"
        } else {
            "idle_writer"
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                n = (n + 1) & 4095;
                let (h, p) = &reqs[n];
                let snapshot = reader.load();
                black_box(snapshot.route(Some(h), p).source)
            })
        });
        stop.store(true, Ordering::Relaxed);
        if let Some(p) = publisher {
            let published = p.join().expect("publisher thread");
            println!("lookup_during_publish: {published} snapshots published during the run");
        }
    }
    group.finish();
}

criterion_group!(
    benches,
    lookup,
    build,
    endpoint_update,
    lookup_during_publish
);
criterion_main!(benches);
