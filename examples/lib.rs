//! Shared pieces of the examples: the walkthrough's small "tomcat" pods, its one-request
//! HTTP/HTTPS client, and the network-namespace segment of its VIP step.

pub mod client;
pub mod pod;
pub mod vip;

/// The README's Rust snippets, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
