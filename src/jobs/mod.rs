//! Background jobs: an apalis queue in PostgreSQL (schema `apalis`), so no other service is
//! needed. `queue` owns the payloads and pushes them; `worker` runs them with the handlers the
//! application passes in (the top floor wires the domains in, see `crate::workers`).

pub mod queue;
pub mod worker;
