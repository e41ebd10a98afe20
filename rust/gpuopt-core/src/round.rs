//! floor and ceil without a libm call. x86-64's baseline has no rounding instruction (SSE4.1's
//! roundsd), so `f64::floor` is a function call; these take a few instructions on the sweep's
//! per-row path. They agree with it on every input (infinities and NaN included), except that a
//! zero result is +0.0, as the Python reference's `math.floor` gives.

/// 2^52: every f64 from here on is whole.
const WHOLE_FROM: f64 = 4_503_599_627_370_496.0;

#[inline]
pub fn floor(x: f64) -> f64 {
    if !(x.abs() < WHOLE_FROM) {
        return x;
    }
    let t = x as i64 as f64; // toward zero, exact below 2^52
    if t > x {
        t - 1.0
    } else {
        t
    }
}

#[inline]
pub fn ceil(x: f64) -> f64 {
    if !(x.abs() < WHOLE_FROM) {
        return x;
    }
    let t = x as i64 as f64;
    if t < x {
        t + 1.0
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agree_with_libm_but_for_the_sign_of_zero() {
        let mut rng = crate::sim::Rng::new(5);
        let mut xs = vec![0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 2.5, -2.5, 1e-300, -1e-300, f64::INFINITY, f64::NEG_INFINITY,
                          WHOLE_FROM, -WHOLE_FROM, WHOLE_FROM - 0.5, -(WHOLE_FROM - 0.5), 1e300, -1e300, f64::MAX, f64::MIN];
        for _ in 0..100_000 {
            let scale = 10f64.powi((rng.next_u64() % 40) as i32 - 10);
            xs.push((rng.uniform() - 0.5) * scale);
            xs.push(((rng.next_u64() % 2000) as f64 - 1000.0) / 4.0);
        }
        for x in xs {
            assert!(floor(x) == x.floor(), "floor({x})");
            assert!(ceil(x) == x.ceil(), "ceil({x})");
        }
        assert!(floor(f64::NAN).is_nan() && ceil(f64::NAN).is_nan());
        assert!(ceil(-0.5).is_sign_positive() && floor(-0.0).is_sign_positive());
    }
}
