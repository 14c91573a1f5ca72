//! A string stored inside its owner when short, so that comparing it costs no pointer chase.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

/// Bytes kept inline; longer strings go to the heap.
const INLINE: usize = 30;

/// An immutable string, inline up to 30 bytes. Hashes and compares exactly like `str`, so
/// maps keyed by it can be probed with `&str`.
#[derive(Clone)]
pub(crate) enum InlineStr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl InlineStr {
    pub(crate) fn new(text: &str) -> InlineStr {
        if text.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            InlineStr::Inline {
                len: text.len() as u8,
                bytes,
            }
        } else {
            InlineStr::Heap(text.into())
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // The bytes are a prefix of a `str` copied whole, so they are valid UTF-8; the
            // fallback is never taken.
            InlineStr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            InlineStr::Heap(text) => text,
        }
    }
}

impl Borrow<str> for InlineStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for InlineStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for InlineStr {}

impl Hash for InlineStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl std::fmt::Debug for InlineStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FastMap;

    #[test]
    fn short_and_long_strings_round_trip_and_probe_as_str() {
        let short = "app.example.com";
        let long = "a-rather-long-host-name.of-some-tenant.example.com";
        let mut map = FastMap::default();
        map.insert(InlineStr::new(short), 1);
        map.insert(InlineStr::new(long), 2);
        assert!(matches!(InlineStr::new(short), InlineStr::Inline { .. }));
        assert!(matches!(InlineStr::new(long), InlineStr::Heap(_)));
        assert_eq!(map.get(short), Some(&1));
        assert_eq!(map.get(long), Some(&2));
        assert_eq!(map.get("other"), None);
        assert_eq!(InlineStr::new(long).as_str(), long);
    }
}
