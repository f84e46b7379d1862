//! Runs the door decision in a loop, for a profiler: `perf record --call-graph dwarf
//! target/release/examples/profile_decide`. Not a benchmark; see benches/door.rs.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use doorman_trust::fixture::Fixture;
use doorman_trust::{Presentation, decide, token};

fn main() {
    let f = Fixture::new().unwrap();
    let device = f.device();
    let base = f.state().unwrap();
    let challenge = device.challenge([5; 32], f.now);
    let proof = challenge
        .prove(&f.driver_key, &token::decode(&f.pass).unwrap(), f.now)
        .unwrap();
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5000);
    let mut allowed = 0;
    for _ in 0..n {
        let mut state = base.clone();
        let p = Presentation {
            pass: &f.pass,
            challenge: &challenge,
            proof: Some(&proof),
        };
        allowed += usize::from(decide(&device, &mut state, &p, f.now).is_allow());
    }
    println!("{allowed} of {n} allowed");
}
