//! An upstream's HTTP/1.1 response (head, then a Content-Length, chunked or until-close body)
//! reads the same however its bytes are split into reads, never yields more body than its
//! Content-Length, and never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (bool, Vec<u8>, Vec<u8>)| {
    let (head_request, splits, data) = input;
    ingress_proxy::fuzzing::upstream_response(&data, head_request, &splits);
});
