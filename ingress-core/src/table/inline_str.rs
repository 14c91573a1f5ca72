//! A string stored inside its owner when short, so that comparing it costs no pointer chase.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

/// An immutable string, inline up to `N` bytes (longer ones go to the heap). Hashes and compares exactly like `[u8]`, so
/// maps keyed by it are probed with `str::as_bytes` (no UTF-8 check on the lookup path).
#[derive(Clone)]
pub(crate) enum InlineStr<const N: usize> {
    Inline { len: u8, bytes: [u8; N] },
    Heap(Box<str>),
}

/// Host names: most fit in 46 bytes, and the whole key is 48 bytes.
pub(crate) type HostKey = InlineStr<46>;
/// Path keys: most are short; 24 bytes in all keeps a scan entry within a cache line.
pub(crate) type PathKey = InlineStr<22>;

impl<const N: usize> InlineStr<N> {
    pub(crate) fn new(text: &str) -> Self {
        if text.len() <= N && N <= usize::from(u8::MAX) {
            let mut bytes = [0; N];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            InlineStr::Inline {
                len: text.len() as u8,
                bytes,
            }
        } else {
            InlineStr::Heap(text.into())
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            InlineStr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            InlineStr::Heap(text) => text.as_bytes(),
        }
    }
}

impl<const N: usize> Borrow<[u8]> for InlineStr<N> {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl<const N: usize> PartialEq for InlineStr<N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl<const N: usize> Eq for InlineStr<N> {}

impl<const N: usize> Hash for InlineStr<N> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl<const N: usize> std::fmt::Debug for InlineStr<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FastMap;

    #[test]
    fn short_and_long_strings_round_trip_and_probe_as_str() {
        let short = "app.example.com";
        assert_eq!(std::mem::size_of::<HostKey>(), 48);
        assert_eq!(std::mem::size_of::<PathKey>(), 24);
        let long = "a-rather-long-host-name.of-some-tenant.example.com";
        let mut map = FastMap::default();
        map.insert(PathKey::new(short), 1);
        map.insert(PathKey::new(long), 2);
        assert!(matches!(PathKey::new(short), InlineStr::Inline { .. }));
        assert!(matches!(PathKey::new(long), InlineStr::Heap(_)));
        assert_eq!(map.get(short.as_bytes()), Some(&1));
        assert_eq!(map.get(long.as_bytes()), Some(&2));
        assert_eq!(map.get("other".as_bytes()), None);
        assert_eq!(PathKey::new(long).as_bytes(), long.as_bytes());
    }
}
