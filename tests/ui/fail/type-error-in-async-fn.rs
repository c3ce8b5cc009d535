use telemetry::prelude::*;

#[traced(err)]
async fn total(prices: &[u64]) -> Result<u64, String> {
    let sum: u64 = prices.iter().sum();
    let label: String = sum;
    Ok(label)
}

fn main() {
    let _ = total(&[1, 2]);
}
