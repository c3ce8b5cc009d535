//! Plain functions: arguments of every kind, `?` and early `return`, other attributes,
//! generics, lifetimes, `impl Trait`, `unsafe` and `extern` functions.
use telemetry::prelude::*;

#[derive(Debug)]
struct Point {
    x: i32,
    y: i32,
}

/// Doc comments stay.
#[traced]
#[inline]
#[must_use]
fn add(a: u64, b: &u64) -> u64 {
    a + b
}

#[traced(err)]
fn parse_all(inputs: &[&str]) -> Result<Vec<u32>, std::num::ParseIntError> {
    if inputs.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for i in inputs {
        out.push(i.parse()?);
    }
    Ok(out)
}

#[traced]
fn patterns(Point { x, y }: Point, (a, _b): (u8, u8), _: u8, mut n: u32) -> i32 {
    n += 1;
    x + y + i32::from(a) + n as i32
}

#[traced(ret)]
fn generic<T: std::fmt::Debug + Clone, const N: usize>(items: [T; N]) -> Vec<T>
where
    T: Default,
{
    items.to_vec()
}

#[traced]
fn borrowing<'a>(s: &'a str, _other: &str) -> &'a str {
    &s[1..]
}

#[traced(skip(f))]
fn iter(n: u32, f: impl Fn(u32) -> u32) -> impl Iterator<Item = u32> {
    (0..n).map(f)
}

#[traced]
unsafe fn dangerous(p: *const u8) -> u8 {
    unsafe { *p }
}

#[traced]
extern "C" fn exported(x: i32) -> i32 {
    x
}

#[traced]
fn nothing() {}

#[traced(err)]
fn io_result() -> std::io::Result<()> {
    Ok(())
}

type Res<T> = Result<T, String>;

#[traced(err)]
fn aliased() -> Res<u8> {
    Err("no".into())
}

#[traced]
fn never_returns_normally(fail: bool) -> u8 {
    if fail {
        loop {
            break 3;
        }
    } else {
        4
    }
}

fn main() {
    let _ = add(1, &2);
    let _ = parse_all(&["1", "2"]);
    let _ = patterns(Point { x: 1, y: 2 }, (1, 2), 3, 4);
    let _ = generic([1u8, 2, 3]);
    let _ = borrowing("abc", "d");
    let _ = iter(3, |x| x * 2).count();
    let byte = 7u8;
    let _ = unsafe { dangerous(&byte) };
    let _ = exported(1);
    nothing();
    let _ = io_result();
    let _ = aliased();
    let _ = never_returns_normally(true);
}
