//! Methods with every receiver, associated functions, trait impls, trait default
//! methods, generic impls.
use telemetry::prelude::*;

#[derive(Debug, Clone, Default)]
struct Counter {
    n: u64,
}

impl Counter {
    #[traced]
    fn new() -> Self {
        Self::default()
    }

    #[traced]
    fn get(&self) -> u64 {
        self.n
    }

    #[traced(skip(self))]
    fn bump(&mut self, by: u64) -> &mut Self {
        self.n += by;
        self
    }

    #[traced(err)]
    fn first_mut(&mut self) -> Result<&mut u64, String> {
        Ok(&mut self.n)
    }

    #[traced(err)]
    fn into_inner(self) -> Result<u64, String> {
        Ok(self.n)
    }

    #[traced]
    fn boxed(self: Box<Self>) -> u64 {
        self.n
    }
}

trait Describe {
    fn describe(&self) -> String;

    #[traced]
    fn shout(&self) -> String {
        self.describe().to_uppercase()
    }
}

impl Describe for Counter {
    #[traced(fields(n = self.n))]
    fn describe(&self) -> String {
        format!("counter at {}", self.n)
    }
}

struct Wrapper<T>(T);

impl<T: Clone + std::fmt::Debug> Wrapper<T> {
    #[traced]
    fn get<U>(&self, _u: U) -> T
    where
        U: Copy + std::fmt::Debug,
    {
        self.0.clone()
    }
}

fn main() {
    let mut c = Counter::new();
    c.bump(2).bump(3);
    if let Ok(n) = c.first_mut() {
        *n += 1;
    }
    let _ = c.get();
    let _ = c.shout();
    let _ = Box::new(c.clone()).boxed();
    let _ = c.into_inner();
    let _ = Wrapper(1u8).get(2u8);
}
