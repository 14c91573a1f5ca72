//! A client's pipelined HTTP/1.1 request heads are read the same however their bytes are split
//! into reads; a hand-off to hyper passes on exactly the bytes not consumed; nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (bool, Vec<u8>, Vec<u8>)| {
    let (small_limits, splits, data) = input;
    ingress_proxy::fuzzing::inline_request(&data, &splits, small_limits);
});
