//! The one integration-test binary. Live tests need the services that
//! `bash tests/setup/services.sh` starts; they fail, never skip, when those are down.

mod audit;
mod bad_input;
mod binary;
mod check;
mod crash;
mod differential;
mod faults;
mod history;
mod lease;
mod live;
mod serve;
mod store;
mod support;
mod tidy;
