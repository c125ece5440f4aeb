//! Row structs: one per table shape diesel reads or writes, each with its conversion to or
//! from the domain type. Diesel types stop here; the ports only ever see domain values.

pub(crate) mod events;
pub(crate) mod keys;
pub(crate) mod sessions;
pub(crate) mod tenancy;
