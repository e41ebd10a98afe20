//! Discrete-event simulation of LLM serving with continuous batching.
//!
//! Each replica runs vLLM-style steps: a prefill step admits waiting requests (FIFO, while the
//! batch cap, the KV cache reserved for each request's full context, and the engine's token budget
//! allow) and gives each its first token; decode steps give every running request one token. A
//! run of decode steps with no admission or completion is one event: its duration has a closed
//! form (each step is the max of two lines in the batch's total context, which grows by the batch
//! each step), and it is cut at the first step boundary after a request arrives for that replica.
//! Requests arrive by a Poisson process (rates may change per period), a trace, or closed-loop
//! clients; a router sends each to a replica (round-robin or least outstanding). Seeded: the same
//! inputs give the same numbers, here and in the Python reference. The next replica event and the
//! least-loaded replica come from tournament trees, so an event costs O(log replicas), not a scan.

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, VecDeque};

use rustc_hash::FxHashMap;

use crate::arch::{ModelArch, ParamCounts};
use crate::engine::EngineProfile;
use crate::error::{invalid, CoreError};
use crate::estimate::{buildable, Roofline};
use crate::fit::MemoryTerms;
use crate::gpu::GpuSpec;
use crate::precision::Precision;
use crate::tournament::Tournament;

/// Longest output a simulated request may have.
pub const MAX_OUTPUT_TOKENS: f64 = (1u64 << 20) as f64;
/// Most memory one simulation may take, bytes. Inputs that would need more are refused before
/// anything is allocated: a failed allocation aborts the process, which no error can report.
pub const MAX_SIM_BYTES: f64 = 4.0 * (1u64 << 30) as f64;
/// Most rate periods a Poisson run may cross (each is a step of the arrival loop).
pub const MAX_PERIODS: f64 = 1e8;
/// Longest stagger between closed-loop clients, or think time, s: a day.
pub const MAX_CLIENT_DELAY_S: f64 = 86_400.0;

/// splitmix64: small, fast, and easy to reproduce bit for bit in Python.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Exponential with the given rate.
    pub fn exponential(&mut self, rate: f64) -> f64 {
        -(1.0 - self.uniform()).ln() / rate
    }
}

/// Where requests come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Arrivals {
    /// Poisson arrivals: rate (req/s) per period of `period_s`, cycling, until `duration_s`.
    Poisson { rates: Vec<f64>, period_s: f64, duration_s: f64 },
    /// Given arrival times (s, ascending) with each request's (input, output) tokens.
    Trace { times: Vec<f64>, sizes: Vec<(f64, f64)> },
    /// `clients` each send a request `think_s` after their previous one completes, `total` in
    /// all; client c sends its first at c x `stagger_s` (as a benchmark's clients drift apart,
    /// rather than all starting, and staying, in lock-step).
    Closed { clients: usize, total: usize, stagger_s: f64, think_s: f64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Router {
    RoundRobin,
    LeastLoaded,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    pub replicas: usize,
    pub router: Router,
    pub arrivals: Arrivals,
    /// Request sizes for Poisson and closed-loop arrivals: (input, output, weight) buckets.
    pub sizes: Vec<(f64, f64, f64)>,
    /// Most requests running at once on a replica (vLLM's max_num_seqs).
    pub max_batch: f64,
    /// Latency added to every request outside the GPU (engine request overhead, slot switching), ms.
    pub fixed_ms: f64,
    pub seed: u64,
}

/// Per completed request: arrival, admission (prefill start), first token and finish times, s;
/// and its output tokens.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SimOutput {
    pub arrival: Vec<f64>,
    pub admitted: Vec<f64>,
    pub first_token: Vec<f64>,
    pub finish: Vec<f64>,
    pub output_tokens: Vec<f64>,
    pub rejected: u64,
    /// Busy seconds of each replica.
    pub busy_s: Vec<f64>,
    /// Time integral of each replica's waiting-queue length (request-seconds) and its maximum.
    pub queue_area: Vec<f64>,
    pub queue_max: Vec<f64>,
    pub makespan_s: f64,
    pub fixed_ms: f64,
}

/// Sum over j in [lo, hi) of a + b j.
fn line_sum(a: f64, b: f64, lo: f64, hi: f64) -> f64 {
    a * (hi - lo) + b * (hi * (hi - 1.0) / 2.0 - lo * (lo - 1.0) / 2.0)
}

/// Sum over j in [0, k) of max(a0 + a1 j, b0 + b1 j): exact, split where the lines cross.
pub fn sum_of_max(a0: f64, a1: f64, b0: f64, b1: f64, k: f64) -> f64 {
    if a1 == b1 {
        return line_sum(a0.max(b0), a1, 0.0, k);
    }
    let cross = (b0 - a0) / (a1 - b1);
    if a1 > b1 {
        // b leads until the lines cross, a after
        let s = cross.ceil().clamp(0.0, k);
        line_sum(b0, b1, 0.0, s) + line_sum(a0, a1, s, k)
    } else {
        let s = (cross.floor() + 1.0).clamp(0.0, k);
        line_sum(a0, a1, 0.0, s) + line_sum(b0, b1, s, k)
    }
}

#[derive(Clone, Copy)]
enum Phase {
    Idle,
    /// Between steps at `at` (s): arrivals at that same instant join the queue before the next
    /// step is scheduled, as a scheduler that runs once per step would see them.
    Ready { at: f64 },
    /// From `start` until `end` (s).
    Prefill { start: f64, end: f64 },
    /// `steps` decode steps from `start` (s), ending at `end`.
    Decode { start: f64, steps: u64, end: f64 },
}

/// Running requests by the decode step they finish at: a bucket of ids per distinct step and a
/// heap of those steps, so requests finishing together (a closed loop's lock-step batch) cost one
/// heap operation, not one each; memory follows the running requests, not the longest output.
struct Finishing {
    buckets: FxHashMap<u64, Vec<usize>>,
    steps: BinaryHeap<Reverse<u64>>,
    /// Emptied buckets, reused so a run allocates only while its batch grows.
    spare: Vec<Vec<usize>>,
    len: usize,
}

impl Finishing {
    fn new() -> Self {
        Finishing { buckets: FxHashMap::default(), steps: BinaryHeap::new(), spare: Vec::new(), len: 0 }
    }

    fn push(&mut self, step: u64, id: usize) {
        match self.buckets.entry(step) {
            Entry::Occupied(mut bucket) => bucket.get_mut().push(id),
            Entry::Vacant(slot) => {
                self.steps.push(Reverse(step));
                let mut bucket = self.spare.pop().unwrap_or_default();
                bucket.push(id);
                slot.insert(bucket);
            }
        }
        self.len += 1;
    }

    fn next_step(&self) -> Option<u64> {
        self.steps.peek().map(|s| s.0)
    }

    /// The requests finishing at the earliest step, in id order, if that step is <= `step`.
    fn pop_until(&mut self, step: u64, into: &mut Vec<usize>) {
        into.clear();
        let Some(first) = self.next_step().filter(|&s| s <= step) else { return };
        self.steps.pop();
        let mut bucket = self.buckets.remove(&first).unwrap_or_default();
        std::mem::swap(into, &mut bucket);
        into.sort_unstable();
        self.len -= into.len();
        self.spare.push(bucket);
    }
}

struct Replica {
    queue: VecDeque<usize>,
    /// Requests admitted by the prefill in progress.
    admitting: Vec<usize>,
    running: Finishing,
    step: u64,
    context: f64,
    kv_used: f64,
    phase: Phase,
    busy: f64,
    queue_area: f64,
    queue_max: f64,
    last_change: f64,
}

impl Replica {
    fn outstanding(&self) -> usize {
        self.queue.len() + self.admitting.len() + self.running.len
    }

    fn next_event(&self) -> f64 {
        match self.phase {
            Phase::Idle => f64::INFINITY,
            Phase::Ready { at } => at,
            Phase::Prefill { end, .. } | Phase::Decode { end, .. } => end,
        }
    }

    fn note_queue(&mut self, now: f64) {
        self.queue_area += self.queue.len() as f64 * (now - self.last_change);
        self.last_change = now;
        self.queue_max = self.queue_max.max(self.queue.len() as f64);
    }
}

/// A request and the times recorded for it (s), together: a request's events touch one cache line.
struct Request {
    input: f64,
    output: f64,
    kv: f64,
    client: usize,
    arrival: f64,
    admitted: f64,
    first_token: f64,
}

impl Request {
    fn new(input: f64, output: f64, kv: f64, client: usize) -> Self {
        Request { input, output, kv, client, arrival: f64::NAN, admitted: f64::NAN, first_token: f64::NAN }
    }
}

/// The cost model of one replica.
pub struct ReplicaModel {
    roofline: Roofline,
    max_batched_tokens: f64,
    kv_per_token: f64,
    window: f64,
    /// KV bytes the replica may reserve.
    kv_budget: f64,
}

impl ReplicaModel {
    pub fn new(m: &ModelArch, p: &ParamCounts, gpu: &GpuSpec, e: &EngineProfile, precision: Precision, kv: Precision, tp: f64) -> Result<Self, CoreError> {
        if !buildable(m, gpu, tp) {
            return invalid(format!("tp = {tp} cannot split this model on this GPU"));
        }
        let terms = MemoryTerms::with_params(m, p, &e.memory, precision, kv, 1.0, tp);
        let capacity = gpu.memory_bytes * e.memory.memory_utilization;
        let kv_budget = capacity - terms.weights - terms.overhead - terms.activation_floor();
        Ok(ReplicaModel {
            roofline: Roofline::new(m, p, gpu, e, precision, kv, tp),
            max_batched_tokens: e.memory.max_batched_tokens,
            kv_per_token: terms.kv_per_seq, // context 1: bytes per cached token
            window: m.sliding_window,
            kv_budget,
        })
    }

    pub fn kv_budget_bytes(&self) -> f64 {
        self.kv_budget
    }

    fn kv_need(&self, input: f64, output: f64) -> f64 {
        let ctx = input + output;
        self.kv_per_token * if self.window > 0.0 { ctx.min(self.window) } else { ctx }
    }

    /// One prefill step for prompts totalling `tokens` over `seqs` requests with `pairs` attention pairs, s.
    fn prefill_s(&self, tokens: f64, seqs: f64, pairs: f64) -> f64 {
        let chunks = (tokens / self.max_batched_tokens).ceil();
        self.roofline.step(tokens / chunks, seqs / chunks, 0.0, pairs / chunks).total() * chunks / 1e3
    }

    /// `k` decode steps of `batch` sequences starting at `context` cached tokens in all, s.
    fn decode_s(&self, batch: f64, context: f64, k: f64) -> f64 {
        let (p0, p1, q0, q1, rest) = self.roofline.decode_lines(batch);
        (sum_of_max(p0 + p1 * context, p1 * batch, q0 + q1 * context, q1 * batch, k) + rest * k) / 1e3
    }
}

/// Requests a run is expected to hold: Poisson's mean count (with 5 % to spare), the trace, or the total.
pub fn expected_requests(arrivals: &Arrivals) -> f64 {
    match arrivals {
        Arrivals::Poisson { rates, duration_s, .. } => {
            rates.iter().sum::<f64>() / rates.len().max(1) as f64 * duration_s * 1.05 + 64.0
        }
        Arrivals::Trace { times, .. } => times.len() as f64,
        Arrivals::Closed { clients, total, .. } => (*total).max(*clients) as f64,
    }
}

/// Bytes a run keeps: per replica its state, its nodes in the two tournament trees (up to eight,
/// with padding) and finishing buckets for up to `max_batch` running requests (an id, a heap
/// entry and a map slot each, with room to spare); per request the request with its times and its
/// five output columns.
fn memory_needed(replicas: f64, max_batch: f64, requests: f64) -> f64 {
    let per_replica = (std::mem::size_of::<Replica>() + 8 * std::mem::size_of::<(f64, usize)>()) as f64
        + max_batch.min(requests) * 64.0;
    let per_request = (std::mem::size_of::<Request>() + 5 * std::mem::size_of::<f64>()) as f64;
    replicas * per_replica + requests * per_request
}

pub fn simulate(model: &ReplicaModel, cfg: &SimConfig) -> Result<SimOutput, CoreError> {
    if cfg.replicas == 0 {
        return invalid("a simulation needs at least one replica");
    }
    if !(cfg.max_batch >= 1.0) {
        return invalid(format!("max_batch = {} must be at least 1", cfg.max_batch));
    }
    let total_w: f64 = cfg.sizes.iter().map(|s| s.2).sum();
    let needs_sizes = !matches!(cfg.arrivals, Arrivals::Trace { .. });
    if needs_sizes && !(total_w > 0.0) {
        return invalid("request sizes need at least one bucket with positive weight");
    }
    for &(i, o, w) in &cfg.sizes {
        if !(i >= 1.0 && o >= 1.0 && w >= 0.0 && i.is_finite() && o.is_finite() && w.is_finite()) {
            return invalid(format!("request size bucket ({i}, {o}, {w}) must have tokens >= 1 and weight >= 0"));
        }
    }
    let mut rng = Rng::new(cfg.seed);
    let draw_size = |rng: &mut Rng| draw(rng, &cfg.sizes, total_w);
    // Arrival stream: open-loop arrivals are generated lazily; closed-loop ones come from
    // completions, which happen in time order, so a FIFO keeps them sorted.
    let mut pending = Pending::default();
    let mut requests: Vec<Request> = Vec::new();
    let mut out = SimOutput { fixed_ms: cfg.fixed_ms, ..Default::default() };
    let max_output = match &cfg.arrivals {
        Arrivals::Trace { sizes, .. } => sizes.iter().map(|s| s.1).fold(1.0, f64::max),
        _ => cfg.sizes.iter().map(|s| s.1).fold(1.0, f64::max),
    };
    if !(max_output <= MAX_OUTPUT_TOKENS) {
        return invalid(format!("requests of more than {MAX_OUTPUT_TOKENS} output tokens are not simulated"));
    }
    // Room for every request up front: growing these vectors costs more than the simulation.
    let wanted = expected_requests(&cfg.arrivals);
    let needed = memory_needed(cfg.replicas as f64, cfg.max_batch, wanted);
    if !(needed <= MAX_SIM_BYTES) {
        return invalid(format!(
            "this simulation would need about {:.1} GiB ({} replicas, about {wanted:.3e} requests); the cap is {:.0} GiB: \
             simulate fewer replicas or fewer requests",
            needed / (1u64 << 30) as f64, cfg.replicas, MAX_SIM_BYTES / (1u64 << 30) as f64
        ));
    }
    let expected = wanted.min(1e8) as usize;
    requests.reserve(expected);
    for v in [&mut out.arrival, &mut out.admitted, &mut out.first_token, &mut out.finish, &mut out.output_tokens] {
        v.reserve(expected);
    }
    let mut issued = 0usize;
    let mut poisson_t = 0.0;
    let mut trace_i = 0usize;
    match &cfg.arrivals {
        Arrivals::Poisson { rates, period_s, duration_s } => {
            if rates.is_empty() || rates.iter().any(|&r| !(r >= 0.0 && r.is_finite())) || !(*period_s > 0.0) || !(*duration_s > 0.0) {
                return invalid("Poisson arrivals need rates >= 0, a positive period and a positive duration");
            }
            if !(duration_s / period_s <= MAX_PERIODS) {
                return invalid(format!(
                    "a duration of {duration_s} s in periods of {period_s} s crosses more than {MAX_PERIODS:e} periods: use longer periods"
                ));
            }
        }
        Arrivals::Trace { times, sizes } => {
            if times.len() != sizes.len() {
                return invalid("a trace needs one (input, output) size per arrival time");
            }
            if times.windows(2).any(|w| !(w[0] <= w[1])) || times.iter().any(|t| !(t.is_finite() && *t >= 0.0)) {
                return invalid("trace arrival times must be finite, >= 0 and ascending");
            }
            if sizes.iter().any(|&(i, o)| !(i >= 1.0 && o >= 1.0 && i.is_finite() && o.is_finite())) {
                return invalid("trace request sizes must be >= 1 token");
            }
        }
        Arrivals::Closed { clients, total, stagger_s, think_s } => {
            if *clients == 0 {
                return invalid("a closed loop needs at least one client");
            }
            for (name, v) in [("stagger_s", *stagger_s), ("think_s", *think_s)] {
                if !(v >= 0.0 && v <= MAX_CLIENT_DELAY_S) {
                    return invalid(format!("{name} = {v} must be seconds in [0, {MAX_CLIENT_DELAY_S}]"));
                }
            }
            for c in 0..(*clients).min(*total) {
                let (i, o) = draw_size(&mut rng);
                requests.push(Request::new(i, o, model.kv_need(i, o), c));
                pending.push(requests.len() - 1, c as f64 * stagger_s);
                issued += 1;
            }
        }
    }
    // The next open-loop arrival, generated on demand.
    let mut next_open = |rng: &mut Rng, requests: &mut Vec<Request>| -> Option<(f64, usize)> {
        match &cfg.arrivals {
            Arrivals::Poisson { rates, period_s, duration_s } => loop {
                let period = ((poisson_t / period_s).floor() as usize) % rates.len();
                let rate = rates[period];
                let boundary = ((poisson_t / period_s).floor() + 1.0) * period_s;
                let t = if rate > 0.0 { poisson_t + rng.exponential(rate) } else { f64::INFINITY };
                if t >= boundary {
                    // memoryless: restart the clock at the next period's start
                    poisson_t = boundary;
                    if poisson_t >= *duration_s {
                        return None;
                    }
                    continue;
                }
                if t >= *duration_s {
                    return None;
                }
                poisson_t = t;
                let (i, o) = draw_size(rng);
                requests.push(Request::new(i, o, model.kv_need(i, o), usize::MAX));
                return Some((t, requests.len() - 1));
            },
            Arrivals::Trace { times, sizes } => {
                let k = trace_i;
                if k >= times.len() {
                    return None;
                }
                trace_i += 1;
                let (i, o) = sizes[k];
                requests.push(Request::new(i, o, model.kv_need(i, o), usize::MAX));
                Some((times[k], requests.len() - 1))
            }
            Arrivals::Closed { .. } => None,
        }
    };
    let mut upcoming = next_open(&mut rng, &mut requests);
    let mut reps: Vec<Replica> = (0..cfg.replicas)
        .map(|_| Replica {
            queue: VecDeque::new(), admitting: Vec::new(), running: Finishing::new(), step: 0, context: 0.0,
            kv_used: 0.0, phase: Phase::Idle, busy: 0.0, queue_area: 0.0, queue_max: 0.0, last_change: 0.0,
        })
        .collect();
    let mut rr = 0usize;
    let mut now = 0.0f64;
    let mut done: Vec<usize> = Vec::new();
    let (closed_total, is_closed, think_s) = match cfg.arrivals {
        Arrivals::Closed { total, think_s, .. } => (total, true, think_s),
        _ => (0, false, 0.0),
    };
    // Each replica's next event time and outstanding requests; ties go to the lowest index, as a scan's would.
    let mut events = Tournament::new(cfg.replicas, f64::INFINITY, f64::INFINITY);
    let mut loads = Tournament::new(cfg.replicas, 0usize, usize::MAX);
    let by_load = cfg.router == Router::LeastLoaded;
    let touch = |i: usize, r: &Replica, events: &mut Tournament<f64>, loads: &mut Tournament<usize>| {
        events.set(i, r.next_event());
        if by_load {
            loads.set(i, r.outstanding());
        }
    };
    let mut poll = crate::interrupt::Poll::default();
    loop {
        poll.step()?;
        let t_open = upcoming.map(|u| u.0).unwrap_or(f64::INFINITY);
        let t_closed = pending.next_time();
        let t_arr = t_open.min(t_closed);
        let (r_idx, t_rep) = events.min();
        if t_arr == f64::INFINITY && t_rep == f64::INFINITY {
            break;
        }
        if t_arr <= t_rep {
            now = t_arr;
            let id = if t_open <= t_closed {
                let id = upcoming.expect("finite time").1;
                upcoming = next_open(&mut rng, &mut requests);
                id
            } else {
                pending.pop().expect("finite time")
            };
            requests[id].arrival = now;
            if requests[id].kv > model.kv_budget {
                out.rejected += 1;
                if is_closed {
                    issue_next(&mut issued, closed_total, requests[id].client, now + think_s, &mut rng, &draw_size, model, &mut requests, &mut pending);
                }
                continue;
            }
            let target = match cfg.router {
                Router::RoundRobin => {
                    rr = (rr + 1) % cfg.replicas;
                    (rr + cfg.replicas - 1) % cfg.replicas
                }
                Router::LeastLoaded => loads.min().0,
            };
            let r = &mut reps[target];
            r.note_queue(now);
            r.queue.push_back(id);
            match r.phase {
                Phase::Idle => start_next(model, cfg, r, &mut requests, now),
                Phase::Decode { start, steps, end } => {
                    // Cut the run at the first step boundary at or after this arrival.
                    let batch = r.running.len as f64;
                    let (mut lo, mut hi) = (1u64, steps);
                    while lo < hi {
                        let mid = lo + (hi - lo) / 2;
                        if start + model.decode_s(batch, r.context, mid as f64) >= now { hi = mid } else { lo = mid + 1 }
                    }
                    if lo < steps {
                        let cut_end = start + model.decode_s(batch, r.context, lo as f64);
                        if cut_end < end {
                            r.phase = Phase::Decode { start, steps: lo, end: cut_end };
                        }
                    }
                }
                Phase::Prefill { .. } | Phase::Ready { .. } => {}
            }
            touch(target, r, &mut events, &mut loads);
            continue;
        }
        // A replica's event: its prefill or its run of decode steps ends.
        now = t_rep;
        let r = &mut reps[r_idx];
        match r.phase {
            Phase::Prefill { start, end } => {
                r.busy += end - start;
                for id in std::mem::take(&mut r.admitting) {
                    requests[id].first_token = end;
                    let req = &requests[id];
                    if req.output <= 1.0 {
                        finish(&mut out, req, end);
                        r.kv_used -= req.kv;
                        if is_closed {
                            issue_next(&mut issued, closed_total, req.client, end + think_s, &mut rng, &draw_size, model, &mut requests, &mut pending);
                        }
                    } else {
                        r.context += req.input + 1.0;
                        r.running.push(r.step + (req.output - 1.0) as u64, id);
                    }
                }
            }
            Phase::Decode { start, steps, end } => {
                r.busy += end - start;
                let batch = r.running.len as f64;
                r.step += steps;
                r.context += batch * steps as f64;
                r.running.pop_until(r.step, &mut done);
                for &id in &done {
                    let req = &requests[id];
                    r.context -= req.input + req.output;
                    r.kv_used -= req.kv;
                    finish(&mut out, req, end);
                    if is_closed {
                        issue_next(&mut issued, closed_total, req.client, end + think_s, &mut rng, &draw_size, model, &mut requests, &mut pending);
                    }
                }
            }
            Phase::Ready { .. } => {
                r.phase = Phase::Idle;
                r.note_queue(now);
                start_next(model, cfg, r, &mut requests, now);
                touch(r_idx, r, &mut events, &mut loads);
                continue;
            }
            Phase::Idle => {}
        }
        r.phase = Phase::Ready { at: now };
        touch(r_idx, r, &mut events, &mut loads);
    }
    out.makespan_s = now;
    for r in &mut reps {
        r.note_queue(now);
        out.busy_s.push(r.busy);
        out.queue_area.push(r.queue_area);
        out.queue_max.push(r.queue_max);
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn issue_next(
    issued: &mut usize,
    total: usize,
    client: usize,
    at: f64,
    rng: &mut Rng,
    draw_size: &impl Fn(&mut Rng) -> (f64, f64),
    model: &ReplicaModel,
    requests: &mut Vec<Request>,
    pending: &mut Pending,
) {
    if *issued >= total {
        return;
    }
    *issued += 1;
    let (i, o) = draw_size(rng);
    requests.push(Request::new(i, o, model.kv_need(i, o), client));
    pending.push(requests.len() - 1, at);
}

/// Closed-loop requests not yet arrived, earliest first (ties in the order they were issued):
/// staggered starts and think times issue them out of time order.
#[derive(Default)]
struct Pending {
    heap: BinaryHeap<Reverse<(OrdTime, u64, usize)>>,
    issued: u64,
}

#[derive(Clone, Copy, PartialEq)]
struct OrdTime(f64);

impl Eq for OrdTime {}

impl PartialOrd for OrdTime {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrdTime {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl Pending {
    fn push(&mut self, id: usize, at: f64) {
        self.heap.push(Reverse((OrdTime(at), self.issued, id)));
        self.issued += 1;
    }

    fn next_time(&self) -> f64 {
        self.heap.peek().map_or(f64::INFINITY, |Reverse((t, _, _))| t.0)
    }

    fn pop(&mut self) -> Option<usize> {
        self.heap.pop().map(|Reverse((_, _, id))| id)
    }
}

/// A request size drawn from weighted (input, output, weight) buckets.
fn draw(rng: &mut Rng, sizes: &[(f64, f64, f64)], total_w: f64) -> (f64, f64) {
    let mut u = rng.uniform() * total_w;
    for &(i, o, w) in sizes {
        if u < w {
            return (i, o);
        }
        u -= w;
    }
    let last = sizes.iter().rev().find(|s| s.2 > 0.0).unwrap_or(&sizes[0]);
    (last.0, last.1)
}

fn finish(out: &mut SimOutput, req: &Request, end: f64) {
    out.arrival.push(req.arrival);
    out.admitted.push(req.admitted);
    out.first_token.push(req.first_token);
    out.finish.push(end);
    out.output_tokens.push(req.output);
}

/// Starts the replica's next step at `now`: a prefill when a waiting request can be admitted,
/// else a run of decode steps until the next completion, else idle.
fn start_next(model: &ReplicaModel, cfg: &SimConfig, r: &mut Replica, requests: &mut [Request], now: f64) {
    let (mut tokens, mut pairs) = (0.0, 0.0);
    while let Some(&id) = r.queue.front() {
        let req = &requests[id];
        let batch = (r.running.len + r.admitting.len()) as f64;
        let fits = batch + 1.0 <= cfg.max_batch && r.kv_used + req.kv <= model.kv_budget;
        let budget_ok = r.admitting.is_empty() || tokens + req.input <= model.max_batched_tokens;
        if !fits || !budget_ok {
            break;
        }
        r.queue.pop_front();
        r.kv_used += req.kv;
        tokens += req.input;
        pairs += req.input * (req.input + 1.0) / 2.0;
        requests[id].admitted = now;
        r.admitting.push(id);
    }
    if !r.admitting.is_empty() {
        r.note_queue(now);
        let d = model.prefill_s(tokens, r.admitting.len() as f64, pairs);
        r.phase = Phase::Prefill { start: now, end: now + d };
        return;
    }
    if let Some(fs) = r.running.next_step() {
        let steps = fs - r.step;
        let d = model.decode_s(r.running.len as f64, r.context, steps as f64);
        r.phase = Phase::Decode { start: now, steps, end: now + d };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::tests::llama2_7b;
    use crate::engine::tests::ROW;

    fn model() -> ReplicaModel {
        let m = llama2_7b();
        let gpu = GpuSpec::from_row(&[85.9e9, 312.0, 0.0, 2039.0, 600.0]).unwrap();
        let e = EngineProfile::from_row(&ROW).unwrap();
        ReplicaModel::new(&m, &m.params(), &gpu, &e, Precision::Fp16, Precision::Fp16, 1.0).unwrap()
    }

    fn cfg(arrivals: Arrivals, max_batch: f64) -> SimConfig {
        SimConfig { replicas: 1, router: Router::LeastLoaded, arrivals, sizes: vec![(128.0, 32.0, 1.0)], max_batch, fixed_ms: 0.0, seed: 7 }
    }

    fn refused(c: &SimConfig, says: &str) {
        match simulate(&model(), c) {
            Err(CoreError::InvalidInput(msg)) => assert!(msg.contains(says), "{msg}"),
            Err(e) => panic!("refused for another reason: {e}"),
            Ok(_) => panic!("accepted a simulation that should be refused ({says})"),
        }
    }

    #[test]
    fn sizes_past_the_memory_cap_are_refused_before_allocating() {
        // 2,000 replicas with outputs of a million tokens: their memory no longer grows with the
        // output (a ring of 2^20 buckets per replica took ~48 GiB and aborted the process)
        let mut c = cfg(Arrivals::Poisson { rates: vec![1.0], period_s: 1e9, duration_s: 10.0 }, 256.0);
        c.replicas = 2000;
        c.sizes = vec![(16.0, 1_000_000.0, 1.0)];
        assert!(memory_needed(2000.0, 256.0, expected_requests(&c.arrivals)) < 1e8);
        assert_eq!(simulate(&model(), &c).unwrap().output_tokens.iter().sum::<f64>() % 1_000_000.0, 0.0);
        c.replicas = 1 << 40;
        c.sizes = vec![(128.0, 32.0, 1.0)];
        refused(&c, "replicas");
        refused(&cfg(Arrivals::Poisson { rates: vec![1e5], period_s: 1e9, duration_s: 1000.0 }, 256.0), "requests");
        refused(&cfg(Arrivals::Closed { clients: 1, total: 1_000_000_000, stagger_s: 0.0, think_s: 0.0 }, 256.0), "requests");
        refused(&cfg(Arrivals::Poisson { rates: vec![1.0, 2.0], period_s: 1e-300, duration_s: 60.0 }, 256.0), "periods");
        // just under the cap still runs
        let ok = cfg(Arrivals::Poisson { rates: vec![5.0], period_s: 1e9, duration_s: 20.0 }, 256.0);
        assert!(memory_needed(1.0, 256.0, expected_requests(&ok.arrivals)) < MAX_SIM_BYTES);
        assert!(simulate(&model(), &ok).is_ok());
    }

    #[test]
    fn sum_of_max_matches_brute_force() {
        for &(a0, a1, b0, b1, k) in &[(1.0, 0.5, 3.0, 0.1, 20.0), (5.0, -0.2, 1.0, 0.3, 33.0), (1.0, 1.0, 2.0, 1.0, 7.0), (0.0, 0.0, 0.0, 0.0, 0.0)] {
            let brute: f64 = (0..k as usize).map(|j| (a0 + a1 * j as f64).max(b0 + b1 * j as f64)).sum();
            assert!((sum_of_max(a0, a1, b0, b1, k) - brute).abs() < 1e-9, "{a0} {a1} {b0} {b1} {k}");
        }
    }

    #[test]
    fn one_request_takes_prefill_plus_decode() {
        let m = model();
        let out = simulate(&m, &cfg(Arrivals::Trace { times: vec![0.0], sizes: vec![(128.0, 32.0)] }, 1.0)).unwrap();
        let expect = m.prefill_s(128.0, 1.0, 128.0 * 129.0 / 2.0) + m.decode_s(1.0, 129.0, 31.0);
        assert!((out.finish[0] - expect).abs() < 1e-12);
        assert_eq!(out.arrival.len(), 1);
    }

    #[test]
    fn batch_one_poisson_matches_m_d_1() {
        let m = model();
        let service = m.prefill_s(128.0, 1.0, 128.0 * 129.0 / 2.0) + m.decode_s(1.0, 129.0, 31.0);
        for rho in [0.5, 0.8] {
            let rate = rho / service;
            let arrivals = Arrivals::Poisson { rates: vec![rate], period_s: 1e9, duration_s: 300_000.0 / rate };
            let out = simulate(&m, &cfg(arrivals, 1.0)).unwrap();
            let waits: f64 = out.admitted.iter().zip(&out.arrival).map(|(a, b)| a - b).sum::<f64>() / out.arrival.len() as f64;
            let md1 = rho * service / (2.0 * (1.0 - rho));
            assert!((waits / md1 - 1.0).abs() < 0.03, "rho {rho}: {waits} vs {md1}");
        }
    }

    #[test]
    fn closed_loop_and_rejections() {
        let m = model();
        let out = simulate(&m, &cfg(Arrivals::Closed { clients: 4, total: 40, stagger_s: 0.0, think_s: 0.0 }, 64.0)).unwrap();
        assert_eq!(out.finish.len(), 40);
        let mut c = cfg(Arrivals::Trace { times: vec![0.0, 1.0], sizes: vec![(1e9, 1.0), (10.0, 10.0)] }, 8.0);
        c.sizes = vec![];
        let out = simulate(&m, &c).unwrap();
        assert_eq!((out.rejected, out.finish.len()), (1, 1));
    }
}
