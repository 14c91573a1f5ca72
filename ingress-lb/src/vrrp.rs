//! VRRP (RFC 5798) virtual-IP failover: a pure state machine and its I/O driver.
