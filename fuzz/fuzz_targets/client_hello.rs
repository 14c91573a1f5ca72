//! The ClientHello reader (`ssl_preread`) never panics; its answer, once given, does not change
//! as more bytes arrive (read by read, at any boundary); it is undecided only below
//! `PREREAD_LIMIT`; and a server name it reads is lowercase.
#![no_main]

use ingress_core::client_hello::{PREREAD_LIMIT, Preread, preread};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<u8>, Vec<u16>)| {
    let (bytes, cuts) = input;
    let whole = preread(&bytes);
    if whole == Preread::NeedMore {
        assert!(
            bytes.len() < PREREAD_LIMIT,
            "undecided at {} bytes",
            bytes.len()
        );
    }
    if let Preread::ServerName(Some(name)) = &whole {
        assert!(!name.bytes().any(|b| b.is_ascii_uppercase()), "{name:?}");
    }
    // Read boundaries: each prefix is either undecided or already says what the whole says.
    for cut in cuts {
        let end = usize::from(cut) % (bytes.len() + 1);
        let early = preread(&bytes[..end]);
        if early != Preread::NeedMore {
            assert_eq!(early, whole, "decided at {end} bytes, then changed");
        }
    }
});
