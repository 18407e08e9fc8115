//! For operators, not users: liveness and readiness (`health`) and the
//! Prometheus metrics (`metrics`).

pub mod health;
pub mod metrics;
