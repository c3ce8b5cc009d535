//! The three attributes stacked in every order on one function.
use telemetry::prelude::*;

#[traced]
#[track_errors]
#[measure_performance]
fn abc() -> Result<(), String> {
    Ok(())
}

#[traced]
#[measure_performance]
#[track_errors]
fn acb() -> Result<(), String> {
    Ok(())
}

#[track_errors]
#[traced]
#[measure_performance]
fn bac() -> Result<(), String> {
    Ok(())
}

#[track_errors]
#[measure_performance]
#[traced]
fn bca() -> Result<(), String> {
    Ok(())
}

#[measure_performance]
#[traced]
#[track_errors]
fn cab() -> Result<(), String> {
    Ok(())
}

#[measure_performance]
#[track_errors]
#[traced]
fn cba() -> Result<(), String> {
    Ok(())
}

#[measure_performance]
#[allow(clippy::unused_unit)]
#[traced]
fn other_attributes_in_between() {}

fn main() {
    let _ = (abc(), acb(), bac(), bca(), cab(), cba());
    other_attributes_in_between();
}
