//! Use-case services, written against the ports.
