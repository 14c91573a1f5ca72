//! Benchmark fixtures shared by the criterion benches and the side-by-side harnesses.
