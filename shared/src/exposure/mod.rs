//! Unused exposure: the network interfaces behind each security group, and
//! which internet-open ingress rules carried traffic in a window. Pure; the
//! AWS reads are in `crate::aws`, the function in `exposure/`.
