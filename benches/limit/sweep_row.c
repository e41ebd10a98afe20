/* The limit gpuopt's sweep is measured against: the per-row arithmetic of a sweep (memory fit,
 * roofline prefill and decode steps, waves, price) transcribed to plain C from tests/reference.py,
 * over per-run constants computed once in Python. No allocation, no threads, no Python in the
 * loop: what one core does with the same arithmetic. benches/bench_limit.py builds it with the
 * system C compiler (-O3), checks it gives gpuopt's numbers, and times both sides. */
#include <math.h>
#include <stddef.h>

/* Per-run constants, in this order (see benches/bench_limit.py). */
enum {
    FLOPS_PER_TOKEN, FLOPS_PER_SEQ, FLOPS_PER_PAIR, PEAK, DENSE_BYTES, EXPERT_BYTES, EXPERTS, EXPERTS_PER_TOKEN,
    KV_PER_TOKEN, ACT_TRAFFIC_PER_TOKEN, COMM_PER_TOKEN, COMM_FIXED, BW, KV_BW, STEP_OVERHEAD_MS, SEQ_OVERHEAD_US,
    WEIGHTS, OVERHEAD, WINDOW, ACT_PER_TOKEN, LOGITS_PER_SEQ, PREFILL_TOKENS, MAX_BATCHED_TOKENS,
    REQUEST_OVERHEAD_MS, CAPACITY, USD_PER_HOUR, VALID, KV_READ_PER_TOKEN, KV_BW_UNSPLIT, HEADS_PER_RANK,
    PAGED_SPLIT_ITEMS, RESERVED_SEQS, N_CONSTANTS
};

#define FITS_THRESHOLD 0.8
#define MAX_BATCH 1e15

typedef struct { double compute, memory, act, comm, overhead; } step_t;
typedef struct { double kv_per_seq, context; } terms_t;

static double total(const double *c, terms_t t, double b) {
    double act = c[RESERVED_SEQS] > 0.0
        ? c[PREFILL_TOKENS] * c[ACT_PER_TOKEN] + fmax(b, c[RESERVED_SEQS]) * c[LOGITS_PER_SEQ]
        : fmin(b * t.context, c[PREFILL_TOKENS]) * c[ACT_PER_TOKEN] + b * c[LOGITS_PER_SEQ];
    return c[WEIGHTS] + t.kv_per_seq * b + act + c[OVERHEAD];
}

static double max_batch(const double *c, terms_t t, double capacity) {
    double fixed = c[WEIGHTS] + c[OVERHEAD];
    double per_seq = t.kv_per_seq + c[LOGITS_PER_SEQ];
    double b;
    if (c[RESERVED_SEQS] > 0.0) {
        double reserved = fixed + c[PREFILL_TOKENS] * c[ACT_PER_TOKEN] + c[RESERVED_SEQS] * c[LOGITS_PER_SEQ];
        double past = floor((capacity - reserved + c[RESERVED_SEQS] * c[LOGITS_PER_SEQ]) / per_seq);
        b = past >= c[RESERVED_SEQS] ? past : fmin(floor((capacity - reserved) / t.kv_per_seq), c[RESERVED_SEQS] - 1.0);
    } else {
        double first_full = ceil(c[PREFILL_TOKENS] / t.context);
        double full = floor((capacity - fixed - c[PREFILL_TOKENS] * c[ACT_PER_TOKEN]) / per_seq);
        if (full >= first_full) {
            b = full;
        } else {
            double slope = t.context * c[ACT_PER_TOKEN] + per_seq;
            b = fmin(floor((capacity - fixed) / slope), first_full - 1.0);
        }
    }
    b = fmin(fmax(b, 0.0), MAX_BATCH);
    for (int i = 0; i < 3; i++)
        if (b > 0.0 && total(c, t, b) > capacity) b -= 1.0;
    for (int i = 0; i < 3; i++)
        if (b < MAX_BATCH && total(c, t, b + 1.0) <= capacity) b += 1.0;
    return b;
}

/* Seconds of KV traffic: paged attention reads once per query head, on v1 past its work-item limit. */
static double kv_s(const double *c, double tokens, double seqs, double kv_read) {
    if (c[PAGED_SPLIT_ITEMS] > 0.0) {
        double read_bw = seqs * c[HEADS_PER_RANK] > c[PAGED_SPLIT_ITEMS] ? c[KV_BW_UNSPLIT] : c[KV_BW];
        return c[KV_PER_TOKEN] * tokens / c[KV_BW] + c[KV_READ_PER_TOKEN] * kv_read / read_bw;
    }
    return c[KV_PER_TOKEN] * (kv_read + tokens) / c[KV_BW];
}

static step_t step(const double *c, double tokens, double seqs, double kv_read, double pairs) {
    double flops = c[FLOPS_PER_TOKEN] * tokens + c[FLOPS_PER_SEQ] * seqs + c[FLOPS_PER_PAIR] * pairs;
    double share = c[EXPERTS] > 1.0 ? 1.0 - pow(1.0 - c[EXPERTS_PER_TOKEN] / c[EXPERTS], tokens) : 0.0;
    double weight_bytes = c[DENSE_BYTES] + c[EXPERT_BYTES] * share;
    step_t s;
    s.compute = flops / c[PEAK] * 1e3;
    s.memory = (weight_bytes / c[BW] + kv_s(c, tokens, seqs, kv_read)) * 1e3;
    s.act = c[ACT_TRAFFIC_PER_TOKEN] * tokens / c[BW] * 1e3;
    s.comm = c[COMM_PER_TOKEN] * tokens + c[COMM_FIXED];
    s.overhead = c[STEP_OVERHEAD_MS] + c[SEQ_OVERHEAD_US] * seqs * 1e-3;
    return s;
}

static double step_total(step_t s) { return fmax(s.compute, s.memory) + s.act + s.comm + s.overhead; }

static double mean_of_max(double a0, double a1, double b0, double b1, double lo, double hi) {
#define F(x) fmax(a0 + a1 * (x), b0 + b1 * (x))
    if (hi <= lo) return F(lo);
    double slope = a1 - b1;
    double cross = slope != 0.0 ? (b0 - a0) / slope : NAN;
    if (cross > lo && cross < hi) {
        double left = (cross - lo) * (F(lo) + F(cross)) / 2.0;
        double right = (hi - cross) * (F(cross) + F(hi)) / 2.0;
        return (left + right) / (hi - lo);
    }
    return (F(lo) + F(hi)) / 2.0;
#undef F
}

/* One static batch run as one: out = ttft, tpot, e2e. */
static void one_pass(const double *c, double b, double input, double output, double out[3]) {
    double tokens = b * input;
    double chunks = ceil(tokens / c[MAX_BATCHED_TOKENS]);
    double pairs = b * input * (input + 1.0) / 2.0;
    step_t chunk = step(c, tokens / chunks, b / chunks, 0.0, pairs / chunks);
    double ttft = step_total(chunk) * chunks + c[REQUEST_OVERHEAD_MS];
    double lo = input + 1.0;
    double hi = fmax(input + output - 1.0, lo);
    step_t at_lo = step(c, b, b, b * lo, b * lo);
    step_t at_hi = step(c, b, b, b * hi, b * hi);
    double a1 = 0.0, b1 = 0.0;
    if (hi > lo) {
        a1 = (at_hi.compute - at_lo.compute) / (hi - lo);
        b1 = (at_hi.memory - at_lo.memory) / (hi - lo);
    }
    double a0 = at_lo.compute - a1 * lo;
    double b0 = at_lo.memory - b1 * lo;
    double tpot = mean_of_max(a0, a1, b0, b1, lo, hi) + at_lo.act + at_lo.comm + at_lo.overhead;
    out[0] = ttft;
    out[1] = tpot;
    out[2] = ttft + (output - 1.0) * tpot;
}

static double verdict(double used, double capacity) {
    double u = used / capacity;
    return u <= FITS_THRESHOLD ? 0.0 : u <= 1.0 ? 1.0 : 2.0;
}

/* Rows of n_runs runs x batches x inputs x outputs (last fastest) into out, 8 values a row:
 * total_bytes, verdict, ttft_ms, tpot_ms, e2e_ms, output_tokens_per_s, usd_per_hour, tokens_per_usd. */
void sweep_rows(const double *constants, size_t n_runs, const double *batches, size_t n_batches,
                const double *inputs, size_t n_inputs, const double *outputs, size_t n_outputs, double *out) {
    for (size_t r = 0; r < n_runs; r++) {
        const double *c = constants + r * N_CONSTANTS;
        double usd = c[USD_PER_HOUR];
        for (size_t bi = 0; bi < n_batches; bi++)
            for (size_t ii = 0; ii < n_inputs; ii++)
                for (size_t oi = 0; oi < n_outputs; oi++, out += 8) {
                    double batch = batches[bi], input = inputs[ii], output = outputs[oi];
                    if (c[VALID] == 0.0) {
                        out[0] = NAN; out[1] = 3.0; out[2] = NAN; out[3] = NAN; out[4] = NAN; out[5] = 0.0;
                        out[6] = usd; out[7] = NAN;
                        continue;
                    }
                    double context = input + output;
                    double cached = c[WINDOW] > 0.0 ? fmin(context, c[WINDOW]) : context;
                    terms_t t = { c[KV_PER_TOKEN] * cached, context };
                    double capacity = c[CAPACITY];
                    double fits = max_batch(c, t, capacity);
                    double times[3], tps;
                    if (!(fits >= 1.0 && fits < batch)) {
                        one_pass(c, batch, input, output, times);
                    } else {
                        double full_waves = floor(batch / fits);
                        double rest = batch - full_waves * fits;
                        double last[3] = {0.0, 0.0, 0.0};
                        one_pass(c, fits, input, output, times);
                        if (rest > 0.0) one_pass(c, rest, input, output, last);
                        times[2] = full_waves * times[2] + last[2];
                    }
                    tps = batch * output / (times[2] / 1e3);
                    double used = total(c, t, batch);
                    out[0] = used;
                    out[1] = verdict(used, capacity);
                    out[2] = times[0];
                    out[3] = times[1];
                    out[4] = times[2];
                    out[5] = tps;
                    out[6] = usd;
                    out[7] = tps * 3600.0 / usd;
                }
    }
}
