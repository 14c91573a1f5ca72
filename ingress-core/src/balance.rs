//! Pure load-balancing policies and passive health (filled in by the load-balancing work).
