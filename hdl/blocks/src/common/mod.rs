//! Building blocks shared by the router and the endpoint.

pub mod arbiter;
pub mod count;
pub mod dist_ram;
pub mod fifo;
pub mod glue;
