/*
 * A stand-in for Keysight's WGFMU Instrument Library (wgfmu.dll), for tests.
 *
 * It exports the WGFMU_* functions memlab's ctypes binding calls
 * (instruments/wgfmu/library.py), with the prototypes of Keysight's wgfmu.h
 * (one per line below, in the form the prototype test parses), the
 * documented return codes (0 success, negative errors), the argument checks
 * the B1530A programming guide states (10 ns grid, vector steps 10 ns ..
 * 10,995 s, 2,048 vectors per pattern, intervals, averaging, loop counts,
 * 4,194,304 values per channel, force ranges, call order) and an error
 * summary string that getErrorSummary returns (and clears).
 *
 * Sequencer: execute() plans every channel's sequence (patterns repeated by
 * their loop counts) and starts a clock that runs at time_scale x wall time
 * (default real time). A stretch of the device waveform is evaluated once the
 * clock has passed its end: the values measured in it become readable
 * (getMeasureValueSize grows while the status is RUNNING) and the device is
 * driven through it. waitUntilCompleted sleeps until the end, or fails with a
 * timeout (COMMUNICATION_ERROR, "timeout" in the summary) when the end lies
 * further away than setTimeout's value.
 *
 * The device: channel 101 forces the top electrode, 102 the bottom one; the
 * device sees V(101) - V(102); a current-measuring channel reads the current
 * out of its output (the bottom channel reads -I). Without callbacks a
 * built-in 1 mS resistor answers and a built-in generator gives the
 * instrument noise. standin_setDevice() puts a caller's model behind the
 * library instead: current(n, volts, amps) at the device state, apply(v0, v1,
 * dt) to drive it through a linear segment, relax(dt) with no bias, and
 * normal(channel, execution, n, out) as the noise source. The instrument part
 * (sequencer, sample placement, averaging, noise scaling 2e-3 / 2e-4 of full
 * scale per 10 ns sample, range clipping, result memory) stays here in C.
 *
 * Stand-in-only entry points (not in wgfmu.h) start with standin_.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define API __attribute__((visibility("default")))

enum {
    NO_ERROR = 0, PARAMETER_OUT_OF_RANGE = -1, ILLEGAL_STRING = -2, CONTEXT = -3,
    FUNCTION_NOT_SUPPORTED = -4, COMMUNICATION = -5, FW = -6, LIBRARY = -7, ERROR = -8,
    CHANNEL_NOT_FOUND = -9, PATTERN_NOT_FOUND = -10, EVENT_NOT_FOUND = -11,
    PATTERN_ALREADY_EXISTS = -12, SEQUENCER_NOT_RUNNING = -13, RESULT_NOT_READY = -14,
    RESULT_OUT_OF_DATE = -15
};
enum { DC = 2000, FASTIV = 2001, PG = 2002, SMU = 2003 };
enum { F_AUTO = 3000, F_3V = 3001, F_5V = 3002, F_10VN = 3003, F_10VP = 3004 };
enum { M_VOLTAGE = 4000, M_CURRENT = 4001 };
enum { V_5V = 5001, V_10V = 5002 };
enum { I_1UA = 6001, I_10UA = 6002, I_100UA = 6003, I_1MA = 6004, I_10MA = 6005 };
enum { COMPLETED = 10000, DONE = 10001, RUNNING = 10002, ABORT_COMPLETED = 10003,
       ABORTED = 10004, RUNNING_ILLEGAL = 10005, IDLE = 10006 };
enum { EVENT_NOT_COMPLETED = 11000, EVENT_COMPLETED = 11001 };
enum { AVERAGED = 12000, RAW = 12001 };

#define TICK_S 10e-9
#define STEP_MAX_TICKS 1099500000000LL /* 10,995 s */
#define INTERVAL_MAX_TICKS 134217728LL  /* 1.342 s */
#define AVERAGE_MAX_TICKS 2097151LL     /* 20.97 ms */
#define MAX_VECTORS 2048
#define MAX_POINTS 4194304LL
#define MAX_LOOPS 1099511627776.0 /* 2**40 */
#define MAX_EXPANDED 20000000LL   /* host memory of the stand-in, not an instrument limit */
#define NAME_MAX_LEN 255
#define NCH 2

typedef int (*current_fn)(int n, const double *volts, double *amps);
typedef int (*apply_fn)(double v0, double v1, double dt_s);
typedef int (*relax_fn)(double dt_s);
typedef int (*normal_fn)(int channel, int execution, int n, double *out);

typedef struct { char *name; int64_t time, points, interval, average; int raw; } Event;
typedef struct {
    char *name; double v0; int64_t *dt; double *v; int n, cap; int64_t duration;
    Event *ev; int nev, evcap; int range_events;
} Pattern;
typedef struct {
    int id, mode, frange, mmode, vrange, irange, connected;
    double fdelay, mdelay, output_V;
    int *seq_pat; int64_t *seq_loops; int nseq, seqcap;
} Channel;
typedef struct { int64_t n, *t0, *t1; double *v0, *v1; } Segs;
typedef struct {
    int channel, current; double full_scale, sign;
    Segs segs;
    int64_t nraw, *raw_start, *raw_group, *bounds; double *raw_mid, *raw_noise, *raw_values;
    int64_t nout, *out_start, *out_last_group;
    int64_t nocc, *occ_last_group;
    int64_t *entry_value, *entry_occ; int nentries;
} Plan;

static struct {
    int open; double timeout_s, time_scale, started; char *summary; size_t len, cap;
    Pattern *pat; int npat, patcap;
    Channel ch[NCH];
    int status, stale, executions, has_run;
    Plan plan[NCH]; int nplan; Segs seg[NCH];
    int64_t total, ngroups, cursor, *g_t0, *g_t1; double *g_v0, *g_v1; int connected;
    current_fn current; apply_fn apply; relax_fn relax; normal_fn normal;
    char fail_name[64]; int fail_code, fail_skip; char fail_text[256];
    uint64_t rng;
} S = { .timeout_s = 10.0, .time_scale = 1.0, .status = IDLE, .rng = 0x9E3779B97F4A7C15ULL };

static const int CHANNEL_IDS[NCH] = {101, 102};

/* ---- errors ------------------------------------------------------------------------- */
static int fail(const char *fn, int code, const char *fmt, ...) {
    char text[512]; va_list ap;
    va_start(ap, fmt); vsnprintf(text, sizeof text, fmt, ap); va_end(ap);
    char line[640]; int n = snprintf(line, sizeof line, "%sWGFMU_%s: %s", S.len ? "\n" : "", fn, text);
    if (S.len + (size_t)n + 1 > S.cap) {
        size_t cap = (S.cap ? S.cap * 2 : 1024) + (size_t)n;
        char *p = realloc(S.summary, cap);
        if (!p) return code;
        S.summary = p; S.cap = cap;
    }
    memcpy(S.summary + S.len, line, (size_t)n + 1); S.len += (size_t)n;
    return code;
}

/* A fault set with standin_failNext fires on the (skip+1)-th call of that function. */
static int injected(const char *fn) {
    if (!S.fail_name[0] || strcmp(S.fail_name, fn) != 0) return 0;
    if (S.fail_skip-- > 0) return 0;
    S.fail_name[0] = 0;
    return fail(fn, S.fail_code, "%s", S.fail_text);
}
#define ENTER(fn) do { int _c = injected(fn); if (_c) return _c; } while (0)
#define NEED_SESSION(fn) do { if (!S.open) return fail(fn, CONTEXT, "no session: call WGFMU_openSession first"); } while (0)
#define NEED_IDLE(fn) do { if (S.status == RUNNING) { advance_to_now(); if (S.status == RUNNING) \
    return fail(fn, CONTEXT, "not allowed while the sequencer is running"); } } while (0)

/* ---- clock and random numbers ---------------------------------------------------------- */
static double wall(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + ts.tv_nsec * 1e-9; }

static double builtin_normal(void) { /* xorshift64* + Box-Muller */
    double u[2];
    for (int i = 0; i < 2; i++) {
        S.rng ^= S.rng >> 12; S.rng ^= S.rng << 25; S.rng ^= S.rng >> 27;
        u[i] = ((S.rng * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
    }
    return sqrt(-2.0 * log(u[0] + 1e-300)) * cos(6.283185307179586 * u[1]);
}
static int normals(int channel, int n, double *out) {
    if (n <= 0) return 0;
    if (S.normal) return S.normal(channel, S.executions - 1, n, out);
    for (int i = 0; i < n; i++) out[i] = builtin_normal();
    return 0;
}
static int device_current(int n, const double *v, double *out) {
    if (S.current) return S.current(n, v, out);
    for (int i = 0; i < n; i++) out[i] = 1e-3 * v[i];
    return 0;
}
static int device_apply(double v0, double v1, double dt) { return S.apply ? S.apply(v0, v1, dt) : 0; }
static int device_relax(double dt) { return S.relax ? S.relax(dt) : 0; }

/* ---- lookups and checks --------------------------------------------------------------- */
static Channel *channel(const char *fn, int id, int *code) {
    for (int i = 0; i < NCH; i++) if (S.ch[i].id == id) return &S.ch[i];
    *code = fail(fn, CHANNEL_NOT_FOUND, "channel %d is not installed (channels: 101, 102)", id);
    return NULL;
}
#define CHANNEL(fn, id, var) int _cc = 0; Channel *var = channel(fn, id, &_cc); if (!var) return _cc

static int bad_name(const char *fn, const char *field, const char *s) {
    if (!s) return fail(fn, ILLEGAL_STRING, "%s is NULL", field);
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN) return fail(fn, ILLEGAL_STRING, "%s must have 1 .. %d characters", field, NAME_MAX_LEN);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 32 || (unsigned char)s[i] > 126)
            return fail(fn, ILLEGAL_STRING, "%s has a non-printable character at %zu", field, i);
    return 0;
}
static Pattern *pattern(const char *name) {
    for (int i = 0; i < S.npat; i++) if (strcmp(S.pat[i].name, name) == 0) return &S.pat[i];
    return NULL;
}
#define PATTERN(fn, name, var) Pattern *var = pattern(name); \
    if (!var) return fail(fn, PATTERN_NOT_FOUND, "pattern \"%s\" does not exist", name)

static int64_t ticks(double s) { return (int64_t)llround(s / TICK_S); }
static int bad_voltage(const char *fn, const char *field, double v) {
    if (!isfinite(v) || fabs(v) > 10.0) return fail(fn, PARAMETER_OUT_OF_RANGE, "%s=%g V: allowed -10 .. 10 V", field, v);
    return 0;
}
static int in_enum(int v, int lo, int hi) { return v >= lo && v <= hi; }
static double full_scale(const Channel *c) {
    static const double I[] = {1e-6, 10e-6, 100e-6, 1e-3, 10e-3};
    if (c->mmode == M_CURRENT) return I[c->irange - I_1UA];
    return c->vrange == V_10V ? 10.0 : 5.0;
}
/* Settings to their initial values; the sequence (set up with the patterns) is kept. */
static void reset_channel(Channel *c, int id, int connected) {
    int *sp = c->seq_pat; int64_t *sl = c->seq_loops; int n = c->nseq, cap = c->seqcap;
    memset(c, 0, sizeof *c);
    c->id = id; c->mode = FASTIV; c->frange = F_AUTO; c->mmode = M_VOLTAGE; c->vrange = V_5V;
    c->irange = I_10MA; c->connected = connected;
    c->seq_pat = sp; c->seq_loops = sl; c->nseq = n; c->seqcap = cap;
}
static void setup_changed(void) { if (S.has_run) S.stale = 1; }
static int advance_to_now(void);

/* ---- run memory ----------------------------------------------------------------------- */
static void free_segs(Segs *s) { free(s->t0); free(s->t1); free(s->v0); free(s->v1); memset(s, 0, sizeof *s); }
static void free_run(void) {
    for (int i = 0; i < S.nplan; i++) {
        Plan *p = &S.plan[i];
        free(p->raw_start); free(p->raw_group); free(p->bounds); free(p->raw_mid); free(p->raw_noise);
        free(p->raw_values); free(p->out_start); free(p->out_last_group); free(p->occ_last_group);
        free(p->entry_value); free(p->entry_occ);
        memset(p, 0, sizeof *p);
    }
    for (int i = 0; i < NCH; i++) free_segs(&S.seg[i]);
    free(S.g_t0); free(S.g_t1); free(S.g_v0); free(S.g_v1);
    S.g_t0 = S.g_t1 = NULL; S.g_v0 = S.g_v1 = NULL;
    S.nplan = 0; S.ngroups = S.cursor = S.total = 0; S.has_run = 0;
}

/* index of the last element <= t (numpy searchsorted side="right", minus one) */
static int64_t last_le(const int64_t *a, int64_t n, double t) {
    int64_t lo = 0, hi = n;
    while (lo < hi) { int64_t m = (lo + hi) / 2; if ((double)a[m] <= t) lo = m + 1; else hi = m; }
    return lo - 1;
}
/* first index with a[i] >= t (side="left") */
static int64_t first_ge(const int64_t *a, int64_t n, int64_t t) {
    int64_t lo = 0, hi = n;
    while (lo < hi) { int64_t m = (lo + hi) / 2; if (a[m] < t) lo = m + 1; else hi = m; }
    return lo;
}
static double interpolate(const Segs *s, double t) {
    int64_t k = last_le(s->t0, s->n, t);
    double frac = (t - (double)s->t0[k]) / (double)(s->t1[k] - s->t0[k]);
    return s->v0[k] + (s->v1[k] - s->v0[k]) * frac;
}
static double end_value(const Segs *s, int64_t t0, int64_t t1) {
    int64_t k = last_le(s->t0, s->n, (double)t0);
    return s->v0[k] + (s->v1[k] - s->v0[k]) * (double)(t1 - s->t0[k]) / (double)(s->t1[k] - s->t0[k]);
}

/* A channel's whole-run waveform; after its sequence it holds its last voltage. */
static int build_segments(const Channel *c, int64_t total, Segs *s) {
    int64_t n = 1;
    for (int e = 0; e < c->nseq; e++) n += (int64_t)S.pat[c->seq_pat[e]].n * c->seq_loops[e];
    s->t0 = malloc(n * sizeof(int64_t)); s->t1 = malloc(n * sizeof(int64_t));
    s->v0 = malloc(n * sizeof(double)); s->v1 = malloc(n * sizeof(double));
    if (!s->t0 || !s->t1 || !s->v0 || !s->v1) return -1;
    int64_t k = 0, start = 0; double last = c->output_V;
    for (int e = 0; e < c->nseq; e++) {
        const Pattern *p = &S.pat[c->seq_pat[e]];
        for (int64_t l = 0; l < c->seq_loops[e]; l++) {
            int64_t t = start + p->duration * l; double prev = p->v0;
            for (int j = 0; j < p->n; j++, k++) {
                s->t0[k] = t; s->t1[k] = t + p->dt[j]; s->v0[k] = prev; s->v1[k] = p->v[j];
                t += p->dt[j]; prev = p->v[j];
            }
        }
        start += p->duration * c->seq_loops[e];
        last = p->v[p->n - 1];
    }
    if (start < total || k == 0) {
        s->t0[k] = start; s->t1[k] = total > start + 1 ? total : start + 1; s->v0[k] = s->v1[k] = last; k++;
    }
    s->n = k;
    return 0;
}

static int cmp_ev(const void *a, const void *b) {
    int64_t x = ((const Event *)a)->time, y = ((const Event *)b)->time;
    return (x > y) - (x < y);
}

/* Every sample of a channel's sequence, in time order, and which returned value it belongs to. */
static int plan_channel(Plan *p, const Channel *c) {
    int64_t nraw = 0, nout = 0, nocc = 0;
    for (int e = 0; e < c->nseq; e++) {
        const Pattern *pt = &S.pat[c->seq_pat[e]];
        for (int j = 0; j < pt->nev; j++) {
            nraw += pt->ev[j].points * c->seq_loops[e];
            nout += (pt->ev[j].raw == RAW ? pt->ev[j].points : 1) * c->seq_loops[e];
            nocc += c->seq_loops[e];
        }
    }
    p->nraw = nraw; p->nout = nout; p->nocc = nocc; p->nentries = c->nseq;
    p->raw_start = malloc((nraw + 1) * sizeof(int64_t)); p->raw_mid = malloc((nraw + 1) * sizeof(double));
    p->raw_noise = malloc((nraw + 1) * sizeof(double)); p->raw_values = malloc((nraw + 1) * sizeof(double));
    p->raw_group = malloc((nraw + 1) * sizeof(int64_t)); p->out_start = malloc((nout + 1) * sizeof(int64_t));
    p->out_last_group = malloc((nout + 1) * sizeof(int64_t)); p->occ_last_group = malloc((nocc + 1) * sizeof(int64_t));
    p->entry_value = malloc((c->nseq + 1) * sizeof(int64_t)); p->entry_occ = malloc((c->nseq + 1) * sizeof(int64_t));
    int64_t *occ_last = malloc((nocc + 1) * sizeof(int64_t));
    if (!p->raw_start || !p->raw_mid || !p->raw_noise || !p->raw_values || !p->raw_group || !p->out_start ||
        !p->out_last_group || !p->occ_last_group || !p->entry_value || !p->entry_occ || !occ_last) { free(occ_last); return -1; }
    double fraction = p->current ? 2e-3 : 2e-4;
    int64_t r = 0, o = 0, q = 0, t_entry = 0;
    for (int e = 0; e < c->nseq; e++) {
        Pattern *pt = &S.pat[c->seq_pat[e]];
        qsort(pt->ev, pt->nev, sizeof(Event), cmp_ev);
        p->entry_value[e] = o; p->entry_occ[e] = q;
        for (int64_t l = 0; l < c->seq_loops[e]; l++) {
            int64_t base = t_entry + pt->duration * l;
            for (int j = 0; j < pt->nev; j++) {
                const Event *ev = &pt->ev[j];
                for (int64_t k = 0; k < ev->points; k++, r++) {
                    if (ev->raw == RAW || k == 0) p->out_start[o++] = r;
                    p->raw_start[r] = base + ev->time + ev->interval * k;
                    p->raw_mid[r] = (double)p->raw_start[r] + (double)ev->average / 2.0;
                    p->raw_noise[r] = fraction * p->full_scale / sqrt(ev->average > 1 ? (double)ev->average : 1.0);
                    p->raw_values[r] = NAN;
                }
                occ_last[q++] = r - 1;
            }
        }
        t_entry += pt->duration * c->seq_loops[e];
    }
    p->out_start[nout] = nraw;
    for (int64_t i = 0; i < nraw; i++) p->raw_group[i] = last_le(S.g_t0, S.ngroups, p->raw_mid[i]);
    for (int64_t i = 0; i < nout; i++) p->out_last_group[i] = p->raw_group[p->out_start[i + 1] - 1];
    for (int64_t i = 0; i < nocc; i++) p->occ_last_group[i] = p->raw_group[occ_last[i]];
    free(occ_last);
    p->bounds = malloc((S.ngroups + 1) * sizeof(int64_t));
    if (!p->bounds) return -1;
    for (int64_t g = 0; g <= S.ngroups; g++) p->bounds[g] = first_ge(p->raw_group, nraw, g);
    return 0;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The device waveform in stretches: split where either electrode's waveform has a vertex,
 * flat stretches at one voltage merged unless a current sample lies in them. */
static int build_groups(void) {
    const Segs *top = &S.seg[0], *bot = &S.seg[1];
    int64_t n = top->n + bot->n + 1, m = 0;
    int64_t *times = malloc(n * sizeof(int64_t));
    if (!times) return -1;
    memcpy(times, top->t0, top->n * sizeof(int64_t));
    memcpy(times + top->n, bot->t0, bot->n * sizeof(int64_t));
    times[n - 1] = S.total;
    qsort(times, n, sizeof(int64_t), cmp_i64);
    for (int64_t i = 0; i < n; i++)
        if (times[i] <= S.total && (m == 0 || times[i] != times[m - 1])) times[m++] = times[i];
    int64_t ni = m - 1;
    double *v0 = malloc((ni + 1) * sizeof(double)), *v1 = malloc((ni + 1) * sizeof(double));
    char *samples = calloc(ni + 1, 1), *same = calloc(ni + 1, 1);
    S.g_t0 = malloc((ni + 1) * sizeof(int64_t)); S.g_t1 = malloc((ni + 1) * sizeof(int64_t));
    S.g_v0 = malloc((ni + 1) * sizeof(double)); S.g_v1 = malloc((ni + 1) * sizeof(double));
    if (!v0 || !v1 || !samples || !same || !S.g_t0 || !S.g_t1 || !S.g_v0 || !S.g_v1) {
        free(times); free(v0); free(v1); free(samples); free(same); return -1;
    }
    for (int64_t i = 0; i < ni; i++) {
        int64_t t0 = times[i], t1 = times[i + 1];
        if (S.connected) {
            v0[i] = interpolate(top, (double)t0) - interpolate(bot, (double)t0);
            v1[i] = end_value(top, t0, t1) - end_value(bot, t0, t1);
        } else v0[i] = v1[i] = 0.0;
    }
    /* current samples, from the channels' own events (planned below; mark them first) */
    for (int c = 0; c < NCH; c++) {
        const Channel *ch = &S.ch[c];
        if (ch->mmode != M_CURRENT) continue;
        int64_t t_entry = 0;
        for (int e = 0; e < ch->nseq; e++) {
            const Pattern *pt = &S.pat[ch->seq_pat[e]];
            for (int64_t l = 0; l < ch->seq_loops[e]; l++)
                for (int j = 0; j < pt->nev; j++)
                    for (int64_t k = 0; k < pt->ev[j].points; k++) {
                        double mid = (double)(t_entry + pt->duration * l + pt->ev[j].time + pt->ev[j].interval * k)
                                     + (double)pt->ev[j].average / 2.0;
                        samples[last_le(times, ni, mid)] = 1;
                    }
            t_entry += pt->duration * ch->seq_loops[e];
        }
    }
    for (int64_t i = 1; i < ni; i++)
        same[i] = v0[i] == v1[i] && v0[i - 1] == v1[i - 1] && v0[i] == v0[i - 1] && !samples[i];
    int64_t g = 0;
    for (int64_t i = 0; i < ni; i++) {
        if (same[i]) continue;
        if (g > 0) { S.g_t1[g - 1] = times[i]; S.g_v1[g - 1] = v1[i - 1]; }
        S.g_t0[g] = times[i]; S.g_v0[g] = v0[i]; g++;
    }
    if (g > 0) { S.g_t1[g - 1] = times[ni]; S.g_v1[g - 1] = v1[ni - 1]; }
    S.ngroups = g;
    free(times); free(v0); free(v1); free(samples); free(same);
    return 0;
}

/* Evaluate the stretches whose end the clock has passed: device calls in time order. */
static int advance(double until_ticks) {
    int64_t g0 = S.cursor, g1 = g0;
    while (g1 < S.ngroups && (double)S.g_t1[g1] <= until_ticks) g1++;
    if (g1 <= g0) return 0;
    int code = 0;
    for (int i = 0; i < S.nplan && !code; i++) {
        Plan *p = &S.plan[i];
        if (p->current) continue;
        for (int64_t r = p->bounds[g0]; r < p->bounds[g1]; r++) p->raw_values[r] = interpolate(&p->segs, p->raw_mid[r]);
    }
    for (int64_t g = g0; g < g1 && !code; g++) {
        for (int i = 0; i < S.nplan && !code; i++) {
            Plan *p = &S.plan[i];
            int64_t a = p->bounds[g], b = p->bounds[g + 1];
            if (!p->current || a >= b) continue;
            if (S.connected && p->sign != 0.0) {
                double span = (double)(S.g_t1[g] - S.g_t0[g]), *volts = malloc((b - a) * sizeof(double));
                if (!volts) return -1;
                for (int64_t r = a; r < b; r++) {
                    double frac = (p->raw_mid[r] - (double)S.g_t0[g]) / span;
                    volts[r - a] = S.g_v0[g] + (S.g_v1[g] - S.g_v0[g]) * frac;
                }
                code = device_current((int)(b - a), volts, p->raw_values + a);
                free(volts);
                for (int64_t r = a; r < b; r++) p->raw_values[r] *= p->sign;
            } else for (int64_t r = a; r < b; r++) p->raw_values[r] = 0.0;
        }
        if (code) break;
        double dt = (double)(S.g_t1[g] - S.g_t0[g]) * TICK_S;
        code = S.connected ? device_apply(S.g_v0[g], S.g_v1[g], dt) : device_relax(dt);
    }
    for (int i = 0; i < S.nplan && !code; i++) {
        Plan *p = &S.plan[i];
        int64_t a = p->bounds[g0], b = p->bounds[g1];
        if (b <= a) continue;
        double *z = malloc((b - a) * sizeof(double));
        if (!z) return -1;
        code = normals(p->channel, (int)(b - a), z);
        for (int64_t r = a; r < b && !code; r++) {
            double v = p->raw_values[r] + p->raw_noise[r] * z[r - a];
            p->raw_values[r] = v < -p->full_scale ? -p->full_scale : v > p->full_scale ? p->full_scale : v;
        }
        free(z);
    }
    if (code) { S.status = ABORTED; return code; }
    S.cursor = g1;
    return 0;
}

static double clock_ticks(void) { return (wall() - S.started) * S.time_scale / TICK_S; }
static int advance_to_now(void) {
    if (S.status != RUNNING) return 0;
    double now = clock_ticks();
    int code = advance(now >= (double)S.total ? INFINITY : now);
    if (!code && S.cursor >= S.ngroups && now >= (double)S.total) S.status = COMPLETED;
    return code;
}
static int observe(const char *fn) {
    if (advance_to_now()) return fail(fn, LIBRARY, "the device model failed; the sequence stopped");
    return 0;
}
static void stop_outputs(void) { for (int i = 0; i < NCH; i++) S.ch[i].output_V = 0.0; }

/* ======================================================================================== */
/* session */
API int WGFMU_openSession(const char *address) {
    ENTER("openSession");
    if (bad_name("openSession", "address", address)) return ILLEGAL_STRING;
    if (S.open) return fail("openSession", CONTEXT, "a session is already open");
    S.open = 1;
    return 0;
}
API int WGFMU_closeSession(void) {
    if (S.status == RUNNING) S.status = ABORTED;
    for (int i = 0; i < NCH; i++) { S.ch[i].connected = 0; S.ch[i].output_V = 0.0; }
    S.open = 0;
    ENTER("closeSession");
    return 0;
}
API int WGFMU_initialize(void) {
    ENTER("initialize"); NEED_SESSION("initialize");
    if (S.status == RUNNING) S.status = ABORTED;
    for (int i = 0; i < NCH; i++) reset_channel(&S.ch[i], CHANNEL_IDS[i], S.ch[i].connected);
    S.status = IDLE;
    return 0;
}
API int WGFMU_setTimeout(double timeout) {
    ENTER("setTimeout");
    if (!isfinite(timeout) || timeout <= 0) return fail("setTimeout", PARAMETER_OUT_OF_RANGE, "timeout=%g s: must be > 0", timeout);
    S.timeout_s = timeout;
    return 0;
}
API int WGFMU_getChannelIdSize(int *size) {
    ENTER("getChannelIdSize"); NEED_SESSION("getChannelIdSize");
    if (!size) return fail("getChannelIdSize", PARAMETER_OUT_OF_RANGE, "size is NULL");
    *size = NCH;
    return 0;
}
API int WGFMU_getChannelIds(int *channelIds, int *size) {
    ENTER("getChannelIds"); NEED_SESSION("getChannelIds");
    if (!channelIds || !size) return fail("getChannelIds", PARAMETER_OUT_OF_RANGE, "channelIds or size is NULL");
    if (*size < NCH) return fail("getChannelIds", PARAMETER_OUT_OF_RANGE, "size=%d: the array must hold %d ids", *size, NCH);
    for (int i = 0; i < NCH; i++) channelIds[i] = CHANNEL_IDS[i];
    *size = NCH;
    return 0;
}
API int WGFMU_getErrorSummarySize(int *size) {
    if (!size) return PARAMETER_OUT_OF_RANGE;
    *size = (int)S.len;
    return 0;
}
API int WGFMU_getErrorSummary(char *errorSummary, int *size) {
    if (!errorSummary || !size) return PARAMETER_OUT_OF_RANGE;
    if (*size < (int)S.len + 1) return PARAMETER_OUT_OF_RANGE; /* the summary is kept for a larger buffer */
    memcpy(errorSummary, S.summary ? S.summary : "", S.len + 1);
    *size = (int)S.len;
    S.len = 0;
    return 0;
}

/* channel setup */
API int WGFMU_setOperationMode(int channelId, int operationMode) {
    ENTER("setOperationMode"); NEED_SESSION("setOperationMode"); NEED_IDLE("setOperationMode");
    CHANNEL("setOperationMode", channelId, c);
    if (!in_enum(operationMode, DC, SMU)) return fail("setOperationMode", PARAMETER_OUT_OF_RANGE, "operationMode=%d: allowed 2000 .. 2003", operationMode);
    c->mode = operationMode;
    if (operationMode == PG && c->mmode == M_CURRENT) c->mmode = M_VOLTAGE;
    setup_changed();
    return 0;
}
API int WGFMU_setForceVoltageRange(int channelId, int forceVoltageRange) {
    ENTER("setForceVoltageRange"); NEED_SESSION("setForceVoltageRange"); NEED_IDLE("setForceVoltageRange");
    CHANNEL("setForceVoltageRange", channelId, c);
    if (!in_enum(forceVoltageRange, F_AUTO, F_10VP)) return fail("setForceVoltageRange", PARAMETER_OUT_OF_RANGE, "forceVoltageRange=%d: allowed 3000 .. 3004", forceVoltageRange);
    if (c->mode == SMU) return fail("setForceVoltageRange", CONTEXT, "channel %d is in SMU mode", channelId);
    c->frange = forceVoltageRange;
    return 0;
}
API int WGFMU_setMeasureMode(int channelId, int measureMode) {
    ENTER("setMeasureMode"); NEED_SESSION("setMeasureMode"); NEED_IDLE("setMeasureMode");
    CHANNEL("setMeasureMode", channelId, c);
    if (!in_enum(measureMode, M_VOLTAGE, M_CURRENT)) return fail("setMeasureMode", PARAMETER_OUT_OF_RANGE, "measureMode=%d: allowed 4000, 4001", measureMode);
    if (c->mode == SMU || (c->mode == PG && measureMode == M_CURRENT))
        return fail("setMeasureMode", PARAMETER_OUT_OF_RANGE, "measureMode=%d not available in operation mode %d", measureMode, c->mode);
    c->mmode = measureMode;
    return 0;
}
API int WGFMU_setMeasureVoltageRange(int channelId, int measureVoltageRange) {
    ENTER("setMeasureVoltageRange"); NEED_SESSION("setMeasureVoltageRange"); NEED_IDLE("setMeasureVoltageRange");
    CHANNEL("setMeasureVoltageRange", channelId, c);
    if (!in_enum(measureVoltageRange, V_5V, V_10V)) return fail("setMeasureVoltageRange", PARAMETER_OUT_OF_RANGE, "measureVoltageRange=%d: allowed 5001, 5002", measureVoltageRange);
    c->vrange = measureVoltageRange;
    return 0;
}
API int WGFMU_setMeasureCurrentRange(int channelId, int measureCurrentRange) {
    ENTER("setMeasureCurrentRange"); NEED_SESSION("setMeasureCurrentRange"); NEED_IDLE("setMeasureCurrentRange");
    CHANNEL("setMeasureCurrentRange", channelId, c);
    if (!in_enum(measureCurrentRange, I_1UA, I_10MA)) return fail("setMeasureCurrentRange", PARAMETER_OUT_OF_RANGE, "measureCurrentRange=%d: allowed 6001 .. 6005", measureCurrentRange);
    if (c->mode != DC && c->mode != FASTIV) return fail("setMeasureCurrentRange", CONTEXT, "current ranges need DC or FASTIV mode (channel %d)", channelId);
    c->irange = measureCurrentRange;
    return 0;
}
static int set_delay(const char *fn, int channelId, double delay, double *slot) {
    CHANNEL(fn, channelId, c); (void)c;
    if (!isfinite(delay) || delay < -50e-9 || delay > 50e-9) return fail(fn, PARAMETER_OUT_OF_RANGE, "delay=%g s: allowed -50 ns .. 50 ns", delay);
    *slot = delay;
    return 0;
}
API int WGFMU_setForceDelay(int channelId, double forceDelay) {
    ENTER("setForceDelay"); NEED_SESSION("setForceDelay"); NEED_IDLE("setForceDelay");
    for (int i = 0; i < NCH; i++) if (S.ch[i].id == channelId) return set_delay("setForceDelay", channelId, forceDelay, &S.ch[i].fdelay);
    return set_delay("setForceDelay", channelId, forceDelay, NULL);
}
API int WGFMU_setMeasureDelay(int channelId, double measureDelay) {
    ENTER("setMeasureDelay"); NEED_SESSION("setMeasureDelay"); NEED_IDLE("setMeasureDelay");
    for (int i = 0; i < NCH; i++) if (S.ch[i].id == channelId) return set_delay("setMeasureDelay", channelId, measureDelay, &S.ch[i].mdelay);
    return set_delay("setMeasureDelay", channelId, measureDelay, NULL);
}
API int WGFMU_connect(int channelId) {
    ENTER("connect"); NEED_SESSION("connect"); NEED_IDLE("connect");
    CHANNEL("connect", channelId, c);
    c->connected = 1;
    return 0;
}
API int WGFMU_disconnect(int channelId) {
    ENTER("disconnect"); NEED_SESSION("disconnect"); NEED_IDLE("disconnect");
    CHANNEL("disconnect", channelId, c);
    c->connected = 0; c->output_V = 0.0;
    return 0;
}

/* patterns, events, sequences (allowed before openSession, as in the library) */
static void free_patterns(void) {
    for (int i = 0; i < S.npat; i++) {
        Pattern *p = &S.pat[i];
        for (int j = 0; j < p->nev; j++) free(p->ev[j].name);
        free(p->name); free(p->dt); free(p->v); free(p->ev);
    }
    free(S.pat); S.pat = NULL; S.npat = S.patcap = 0;
    for (int i = 0; i < NCH; i++) { S.ch[i].nseq = 0; }
}
API int WGFMU_clear(void) {
    ENTER("clear"); NEED_IDLE("clear");
    free_patterns();
    setup_changed();
    return 0;
}
API int WGFMU_createPattern(const char *patternName, double initialVoltage) {
    ENTER("createPattern"); NEED_IDLE("createPattern");
    if (bad_name("createPattern", "patternName", patternName)) return ILLEGAL_STRING;
    if (pattern(patternName)) return fail("createPattern", PATTERN_ALREADY_EXISTS, "pattern \"%s\" already exists", patternName);
    if (bad_voltage("createPattern", "initialVoltage", initialVoltage)) return PARAMETER_OUT_OF_RANGE;
    if (S.npat == S.patcap) {
        int cap = S.patcap ? S.patcap * 2 : 16;
        Pattern *p = realloc(S.pat, cap * sizeof(Pattern));
        if (!p) return fail("createPattern", LIBRARY, "out of memory");
        S.pat = p; S.patcap = cap;
    }
    Pattern *p = &S.pat[S.npat++];
    memset(p, 0, sizeof *p);
    p->name = strdup(patternName); p->v0 = initialVoltage;
    setup_changed();
    return 0;
}
static int add_vectors(const char *fn, const char *patternName, const double *deltaTimes, const double *voltages, int size) {
    NEED_IDLE(fn);
    if (bad_name(fn, "patternName", patternName)) return ILLEGAL_STRING;
    PATTERN(fn, patternName, p);
    if (size < 1 || !deltaTimes || !voltages) return fail(fn, PARAMETER_OUT_OF_RANGE, "size=%d: at least one vector", size);
    if (p->n + size > MAX_VECTORS)
        return fail(fn, PARAMETER_OUT_OF_RANGE, "pattern \"%s\": %d vectors, at most %d", patternName, p->n + size, MAX_VECTORS);
    for (int i = 0; i < size; i++) {
        int64_t t = isfinite(deltaTimes[i]) ? ticks(deltaTimes[i]) : -1;
        if (t < 1 || t > STEP_MAX_TICKS)
            return fail(fn, PARAMETER_OUT_OF_RANGE, "deltaTime[%d]=%g s: allowed 10 ns .. 10995 s", i, deltaTimes[i]);
        if (bad_voltage(fn, "voltage", voltages[i])) return PARAMETER_OUT_OF_RANGE;
    }
    if (p->n + size > p->cap) {
        int cap = p->n + size > 2 * p->cap ? p->n + size : 2 * p->cap;
        int64_t *dt = realloc(p->dt, cap * sizeof(int64_t));
        if (dt) p->dt = dt;
        double *v = realloc(p->v, cap * sizeof(double));
        if (v) p->v = v;
        if (!dt || !v) return fail(fn, LIBRARY, "out of memory");
        p->cap = cap;
    }
    for (int i = 0; i < size; i++) {
        p->dt[p->n] = ticks(deltaTimes[i]); p->v[p->n] = voltages[i]; p->duration += p->dt[p->n]; p->n++;
    }
    setup_changed();
    return 0;
}
API int WGFMU_addVectors(const char *patternName, double *deltaTimes, double *voltages, int size) {
    ENTER("addVectors");
    return add_vectors("addVectors", patternName, deltaTimes, voltages, size);
}
API int WGFMU_addVector(const char *patternName, double deltaTime, double voltage) {
    ENTER("addVector");
    return add_vectors("addVector", patternName, &deltaTime, &voltage, 1);
}
static int64_t event_end(const Event *e) { return e->time + (e->points - 1) * e->interval + (e->average > 1 ? e->average : 1); }
API int WGFMU_setMeasureEvent(const char *patternName, const char *eventName, double time, int measurementPoints,
                              double measurementInterval, double averagingTime, int rawData) {
    const char *fn = "setMeasureEvent";
    ENTER("setMeasureEvent"); NEED_IDLE("setMeasureEvent");
    if (bad_name(fn, "patternName", patternName) || bad_name(fn, "eventName", eventName)) return ILLEGAL_STRING;
    PATTERN(fn, patternName, p);
    for (int j = 0; j < p->nev; j++)
        if (strcmp(p->ev[j].name, eventName) == 0) return fail(fn, PARAMETER_OUT_OF_RANGE, "event \"%s\" already exists in pattern \"%s\"", eventName, patternName);
    Event e = { NULL, isfinite(time) ? ticks(time) : -1, measurementPoints,
                isfinite(measurementInterval) ? ticks(measurementInterval) : -1,
                isfinite(averagingTime) ? ticks(averagingTime) : -1, rawData };
    if (e.time < 0 || e.time > STEP_MAX_TICKS) return fail(fn, PARAMETER_OUT_OF_RANGE, "time=%g s: allowed 0 .. 10995 s", time);
    if (e.points < 1 || e.points > MAX_POINTS) return fail(fn, PARAMETER_OUT_OF_RANGE, "measurementPoints=%d: allowed 1 .. %lld", measurementPoints, MAX_POINTS);
    if (e.interval < 1 || e.interval > INTERVAL_MAX_TICKS) return fail(fn, PARAMETER_OUT_OF_RANGE, "measurementInterval=%g s: allowed 10 ns .. 1.342 s", measurementInterval);
    if (e.average < 0 || e.average > AVERAGE_MAX_TICKS || e.average > e.interval)
        return fail(fn, PARAMETER_OUT_OF_RANGE, "averagingTime=%g s: allowed 0 or 10 ns .. 20.97 ms, at most the interval", averagingTime);
    if (rawData != AVERAGED && rawData != RAW) return fail(fn, PARAMETER_OUT_OF_RANGE, "rawData=%d: allowed 12000, 12001", rawData);
    for (int j = 0; j < p->nev; j++)
        if (e.time < event_end(&p->ev[j]) && p->ev[j].time < event_end(&e))
            return fail(fn, PARAMETER_OUT_OF_RANGE, "event \"%s\" overlaps event \"%s\" in pattern \"%s\"", eventName, p->ev[j].name, patternName);
    if (p->nev == p->evcap) {
        int cap = p->evcap ? p->evcap * 2 : 8;
        Event *ev = realloc(p->ev, cap * sizeof(Event));
        if (!ev) return fail(fn, LIBRARY, "out of memory");
        p->ev = ev; p->evcap = cap;
    }
    e.name = strdup(eventName);
    p->ev[p->nev++] = e;
    setup_changed();
    return 0;
}
API int WGFMU_setRangeEvent(const char *patternName, const char *eventName, double time, int rangeIndex) {
    ENTER("setRangeEvent"); NEED_IDLE("setRangeEvent");
    if (bad_name("setRangeEvent", "patternName", patternName) || bad_name("setRangeEvent", "eventName", eventName)) return ILLEGAL_STRING;
    PATTERN("setRangeEvent", patternName, p);
    if (!isfinite(time) || time < 0) return fail("setRangeEvent", PARAMETER_OUT_OF_RANGE, "time=%g s: must be >= 0", time);
    if (!in_enum(rangeIndex, V_5V, V_10V) && !in_enum(rangeIndex, I_1UA, I_10MA))
        return fail("setRangeEvent", PARAMETER_OUT_OF_RANGE, "rangeIndex=%d: a measure voltage or current range", rangeIndex);
    p->range_events++;
    setup_changed();
    return 0;
}
API int WGFMU_addSequence(int channelId, const char *patternName, double loopCount) {
    ENTER("addSequence"); NEED_IDLE("addSequence");
    CHANNEL("addSequence", channelId, c);
    if (bad_name("addSequence", "patternName", patternName)) return ILLEGAL_STRING;
    PATTERN("addSequence", patternName, p);
    if (!isfinite(loopCount) || loopCount < 1 || loopCount > MAX_LOOPS || loopCount != floor(loopCount))
        return fail("addSequence", PARAMETER_OUT_OF_RANGE, "loopCount=%g: whole numbers 1 .. 2^40", loopCount);
    if (c->nseq == c->seqcap) {
        int cap = c->seqcap ? c->seqcap * 2 : 16;
        int *sp = realloc(c->seq_pat, cap * sizeof(int));
        if (sp) c->seq_pat = sp;
        int64_t *sl = realloc(c->seq_loops, cap * sizeof(int64_t));
        if (sl) c->seq_loops = sl;
        if (!sp || !sl) return fail("addSequence", LIBRARY, "out of memory");
        c->seqcap = cap;
    }
    c->seq_pat[c->nseq] = (int)(p - S.pat); c->seq_loops[c->nseq] = (int64_t)loopCount; c->nseq++;
    setup_changed();
    return 0;
}

/* running */
static int check_channel(const Channel *c, int64_t *duration) {
    const char *fn = "execute";
    if (c->mode != FASTIV && c->mode != PG) return fail(fn, CONTEXT, "channel %d: sequences run in FASTIV or PG mode", c->id);
    if (!c->connected) return fail(fn, CONTEXT, "channel %d has a sequence but is not connected", c->id);
    double lo = 0, hi = 0; int64_t d = 0, values = 0, expanded = 0;
    for (int e = 0; e < c->nseq; e++) {
        const Pattern *p = &S.pat[c->seq_pat[e]];
        if (p->n == 0) return fail(fn, PARAMETER_OUT_OF_RANGE, "pattern \"%s\" has no vectors", p->name);
        if (p->range_events) return fail(fn, FUNCTION_NOT_SUPPORTED, "pattern \"%s\": range events are not supported by the stand-in", p->name);
        for (int j = 0; j < p->nev; j++) {
            if (event_end(&p->ev[j]) > p->duration)
                return fail(fn, PARAMETER_OUT_OF_RANGE, "measure event \"%s\" ends outside pattern \"%s\"", p->ev[j].name, p->name);
            values += (p->ev[j].raw == RAW ? p->ev[j].points : 1) * c->seq_loops[e];
            expanded += p->ev[j].points * c->seq_loops[e];
        }
        lo = fmin(lo, p->v0); hi = fmax(hi, p->v0);
        for (int j = 0; j < p->n; j++) { lo = fmin(lo, p->v[j]); hi = fmax(hi, p->v[j]); }
        d += p->duration * c->seq_loops[e];
        expanded += (int64_t)p->n * c->seq_loops[e];
    }
    if (values > MAX_POINTS) return fail(fn, PARAMETER_OUT_OF_RANGE, "channel %d measures %lld values, at most %lld", c->id, (long long)values, MAX_POINTS);
    if (expanded > MAX_EXPANDED) return fail(fn, LIBRARY, "channel %d: %lld vectors and samples, the stand-in handles %lld", c->id, (long long)expanded, MAX_EXPANDED);
    static const double LO[] = {-10, -3, -5, -10, 0}, HI[] = {10, 3, 5, 0, 10};
    int r = c->frange - F_AUTO;
    if (lo < LO[r] || hi > HI[r] || (r == 0 && lo < -5 && hi > 5))
        return fail(fn, PARAMETER_OUT_OF_RANGE, "channel %d: force voltages %g .. %g V outside force range %d", c->id, lo, hi, c->frange);
    *duration = d;
    return 0;
}
API int WGFMU_execute(void) {
    ENTER("execute"); NEED_SESSION("execute"); NEED_IDLE("execute");
    int64_t total = 0, d = 0; int any = 0;
    for (int i = 0; i < NCH; i++) {
        if (!S.ch[i].nseq) continue;
        any = 1;
        int code = check_channel(&S.ch[i], &d);
        if (code) return code;
        if (d > total) total = d;
    }
    if (!any) return fail("execute", CONTEXT, "no sequence: call WGFMU_addSequence first");
    free_run();
    S.total = total;
    S.connected = S.ch[0].connected && S.ch[1].connected;
    for (int i = 0; i < NCH; i++)
        if (build_segments(&S.ch[i], total, &S.seg[i])) return fail("execute", LIBRARY, "out of memory");
    if (build_groups()) return fail("execute", LIBRARY, "out of memory");
    for (int i = 0; i < NCH; i++) {
        const Channel *c = &S.ch[i];
        int events = 0;
        for (int e = 0; e < c->nseq; e++) events += S.pat[c->seq_pat[e]].nev;
        if (!events) continue;
        Plan *p = &S.plan[S.nplan++];
        p->channel = c->id; p->current = c->mmode == M_CURRENT; p->full_scale = full_scale(c);
        p->sign = i == 0 ? 1.0 : -1.0;
        p->segs = S.seg[i]; /* shared, freed with S.seg */
        if (plan_channel(p, c)) return fail("execute", LIBRARY, "out of memory");
    }
    S.executions++;
    S.has_run = 1; S.stale = 0; S.cursor = 0;
    S.status = RUNNING; S.started = wall();
    for (int i = 0; i < NCH; i++) if (S.ch[i].nseq) S.ch[i].output_V = S.seg[i].v1[S.seg[i].n - 1];
    return 0;
}
API int WGFMU_abort(void) {
    ENTER("abort"); NEED_SESSION("abort");
    advance_to_now();
    if (S.status != RUNNING) return fail("abort", SEQUENCER_NOT_RUNNING, "no sequence is running");
    S.status = ABORTED;
    stop_outputs();
    return 0;
}
API int WGFMU_waitUntilCompleted(void) {
    ENTER("waitUntilCompleted"); NEED_SESSION("waitUntilCompleted");
    int code = observe("waitUntilCompleted");
    if (code) return code;
    if (S.status == ABORTED) return fail("waitUntilCompleted", ERROR, "the sequence was aborted");
    if (S.status != RUNNING) return 0;
    double left = ((double)S.total - clock_ticks()) * TICK_S / S.time_scale;
    if (left > S.timeout_s) {
        struct timespec ts = { (time_t)S.timeout_s, (long)((S.timeout_s - floor(S.timeout_s)) * 1e9) };
        nanosleep(&ts, NULL);
        return fail("waitUntilCompleted", COMMUNICATION, "timeout: the sequence did not complete within %g s", S.timeout_s);
    }
    if (left > 0) { struct timespec ts = { (time_t)left, (long)((left - floor(left)) * 1e9) }; nanosleep(&ts, NULL); }
    if (advance(INFINITY)) return fail("waitUntilCompleted", LIBRARY, "the device model failed; the sequence stopped");
    S.status = COMPLETED;
    return 0;
}
static int status_out(const char *fn, int *status, double *elapsed, double *total) {
    if (!status || !elapsed || !total) return fail(fn, PARAMETER_OUT_OF_RANGE, "an output pointer is NULL");
    int code = observe(fn);
    if (code) return code;
    *status = S.status;
    double now = (double)S.total;  /* completed */
    if (S.status == RUNNING) now = clock_ticks();
    else if (S.status != COMPLETED) now = S.cursor < S.ngroups ? (double)S.g_t0[S.cursor] : (double)S.total;
    *elapsed = (now < (double)S.total ? now : (double)S.total) * TICK_S;
    *total = (double)S.total * TICK_S;
    return 0;
}
API int WGFMU_getStatus(int *status, double *elapsedTime, double *totalTime) {
    ENTER("getStatus"); NEED_SESSION("getStatus");
    return status_out("getStatus", status, elapsedTime, totalTime);
}
API int WGFMU_getChannelStatus(int channelId, int *status, double *elapsedTime, double *totalTime) {
    ENTER("getChannelStatus"); NEED_SESSION("getChannelStatus");
    CHANNEL("getChannelStatus", channelId, c); (void)c;
    return status_out("getChannelStatus", status, elapsedTime, totalTime);
}

/* results */
static int results(const char *fn, int channelId, Plan **plan) {
    CHANNEL(fn, channelId, c); (void)c;
    if (!S.has_run) return fail(fn, RESULT_NOT_READY, "nothing executed yet");
    if (S.stale) return fail(fn, RESULT_OUT_OF_DATE, "the setup changed after execute; execute again");
    *plan = NULL;
    for (int i = 0; i < S.nplan; i++) if (S.plan[i].channel == channelId) *plan = &S.plan[i];
    return observe(fn);
}
static int64_t measured(const Plan *p) { return first_ge(p->out_last_group, p->nout, S.cursor); }
static int64_t completed_events(const Plan *p) { return first_ge(p->occ_last_group, p->nocc, S.cursor); }

API int WGFMU_getMeasureValueSize(int channelId, int *measuredSize, int *totalSize) {
    ENTER("getMeasureValueSize"); NEED_SESSION("getMeasureValueSize");
    if (!measuredSize || !totalSize) return fail("getMeasureValueSize", PARAMETER_OUT_OF_RANGE, "an output pointer is NULL");
    Plan *p; int code = results("getMeasureValueSize", channelId, &p);
    if (code) return code;
    *measuredSize = p ? (int)measured(p) : 0; *totalSize = p ? (int)p->nout : 0;
    return 0;
}
API int WGFMU_getMeasureValues(int channelId, int offset, int *size, double *measureTimes, double *measureValues) {
    const char *fn = "getMeasureValues";
    ENTER("getMeasureValues"); NEED_SESSION("getMeasureValues");
    if (!size || !measureTimes || !measureValues) return fail(fn, PARAMETER_OUT_OF_RANGE, "an array or size pointer is NULL");
    Plan *p; int code = results(fn, channelId, &p);
    if (code) return code;
    int64_t total = p ? p->nout : 0, done = p ? measured(p) : 0;
    if (offset < 0 || *size < 0 || (int64_t)offset + *size > total)
        return fail(fn, PARAMETER_OUT_OF_RANGE, "offset=%d, size=%d: channel %d has %lld values", offset, *size, channelId, (long long)total);
    if ((int64_t)offset + *size > done)
        return fail(fn, RESULT_NOT_READY, "values %d .. %d requested, %lld measured so far", offset, offset + *size - 1, (long long)done);
    for (int i = 0; i < *size; i++) {
        int64_t a = p->out_start[offset + i], b = p->out_start[offset + i + 1];
        double sum = 0.0;
        for (int64_t r = a; r < b; r++) sum += p->raw_values[r];
        measureTimes[i] = (double)p->raw_start[a] * TICK_S;
        measureValues[i] = sum / (double)(b - a);
    }
    return 0;
}
API int WGFMU_getCompletedMeasureEventSize(int channelId, int *completed, int *total) {
    ENTER("getCompletedMeasureEventSize"); NEED_SESSION("getCompletedMeasureEventSize");
    if (!completed || !total) return fail("getCompletedMeasureEventSize", PARAMETER_OUT_OF_RANGE, "an output pointer is NULL");
    Plan *p; int code = results("getCompletedMeasureEventSize", channelId, &p);
    if (code) return code;
    *completed = p ? (int)completed_events(p) : 0; *total = p ? (int)p->nocc : 0;
    return 0;
}
API int WGFMU_isMeasureEventCompleted(int channelId, const char *patternName, const char *eventName, int cycle,
                                      double loop, int count, int *completed, int *index, int *offset, int *size) {
    const char *fn = "isMeasureEventCompleted";
    ENTER("isMeasureEventCompleted"); NEED_SESSION("isMeasureEventCompleted");
    if (!completed || !index || !offset || !size) return fail(fn, PARAMETER_OUT_OF_RANGE, "an output pointer is NULL");
    if (bad_name(fn, "patternName", patternName) || bad_name(fn, "eventName", eventName)) return ILLEGAL_STRING;
    Plan *p; int code = results(fn, channelId, &p);
    if (code) return code;
    PATTERN(fn, patternName, pt);
    int ev = -1;
    for (int j = 0; j < pt->nev; j++) if (strcmp(pt->ev[j].name, eventName) == 0) ev = j;
    if (ev < 0) return fail(fn, EVENT_NOT_FOUND, "event \"%s\" not in pattern \"%s\"", eventName, patternName);
    const Channel *c = NULL;
    for (int i = 0; i < NCH; i++) if (S.ch[i].id == channelId) c = &S.ch[i];
    int entry = -1, seen = 0;
    for (int e = 0; c && p && e < c->nseq; e++)
        if (&S.pat[c->seq_pat[e]] == pt && seen++ == cycle) entry = e;
    if (entry < 0 || count != 0 || loop < 0 || loop >= (double)c->seq_loops[entry] || loop != floor(loop))
        return fail(fn, PARAMETER_OUT_OF_RANGE, "cycle=%d, loop=%g, count=%d: no such occurrence of \"%s\" on channel %d", cycle, loop, count, patternName, channelId);
    int64_t per_loop = 0, before = 0;
    for (int j = 0; j < pt->nev; j++) {
        int64_t outs = pt->ev[j].raw == RAW ? pt->ev[j].points : 1;
        per_loop += outs;
        if (j < ev) before += outs;
    }
    int64_t occ = p->entry_occ[entry] + (int64_t)loop * pt->nev + ev;
    *index = (int)occ;
    *offset = (int)(p->entry_value[entry] + (int64_t)loop * per_loop + before);
    *size = (int)(pt->ev[ev].raw == RAW ? pt->ev[ev].points : 1);
    *completed = occ < completed_events(p) ? EVENT_COMPLETED : EVENT_NOT_COMPLETED;
    return 0;
}

/* DC mode */
static int dc_channel(const char *fn, int channelId, Channel **out) {
    NEED_SESSION(fn); NEED_IDLE(fn);
    CHANNEL(fn, channelId, c);
    if (c->mode != DC) return fail(fn, CONTEXT, "channel %d is not in DC mode", channelId);
    if (!c->connected) return fail(fn, CONTEXT, "channel %d is not connected", channelId);
    *out = c;
    return 0;
}
API int WGFMU_dcforceVoltage(int channelId, double voltage) {
    ENTER("dcforceVoltage");
    Channel *c; int code = dc_channel("dcforceVoltage", channelId, &c);
    if (code) return code;
    if (bad_voltage("dcforceVoltage", "voltage", voltage)) return PARAMETER_OUT_OF_RANGE;
    c->output_V = voltage;
    return 0;
}
static int dc_measure(const char *fn, Channel *c, double duration, int n, double *value) {
    if (!value) return fail(fn, PARAMETER_OUT_OF_RANGE, "value is NULL");
    int both = S.ch[0].connected && S.ch[1].connected;
    double bias = both ? S.ch[0].output_V - S.ch[1].output_V : 0.0, ideal = c->output_V, z = 0.0;
    double fraction = 2e-4;
    if (c->mmode == M_CURRENT) {
        double sign = c == &S.ch[0] ? 1.0 : -1.0, i = 0.0;
        if (both && device_current(1, &bias, &i)) return fail(fn, LIBRARY, "the device model failed");
        ideal = both ? sign * i : 0.0; fraction = 2e-3;
    }
    if ((bias != 0.0 ? device_apply(bias, bias, duration) : device_relax(duration)) || normals(c->id, 1, &z))
        return fail(fn, LIBRARY, "the device model failed");
    double fs = full_scale(c), v = ideal + fraction * fs / sqrt((double)n) * z;
    *value = v < -fs ? -fs : v > fs ? fs : v;
    return 0;
}
API int WGFMU_dcmeasureValue(int channelId, double *value) {
    ENTER("dcmeasureValue");
    Channel *c; int code = dc_channel("dcmeasureValue", channelId, &c);
    return code ? code : dc_measure("dcmeasureValue", c, 10e-6, 1, value);
}
API int WGFMU_dcmeasureAveragedValue(int channelId, int count, int interval, double *value) {
    ENTER("dcmeasureAveragedValue");
    Channel *c; int code = dc_channel("dcmeasureAveragedValue", channelId, &c);
    if (code) return code;
    if (count < 1 || count > 65535 || interval < 1 || interval > 65535)
        return fail("dcmeasureAveragedValue", PARAMETER_OUT_OF_RANGE, "count=%d, interval=%d: each 1 .. 65535", count, interval);
    return dc_measure("dcmeasureAveragedValue", c, count * (double)interval * 5e-9, count, value);
}

/* ======================================================================================== */
/* stand-in only: not part of wgfmu.h */
API int standin_reset(void) {
    free_run(); free_patterns();
    for (int i = 0; i < NCH; i++) { reset_channel(&S.ch[i], CHANNEL_IDS[i], 0); S.ch[i].nseq = 0; }
    S.open = 0; S.timeout_s = 10.0; S.time_scale = 1.0; S.status = IDLE; S.stale = 0; S.executions = 0;
    S.len = 0; S.fail_name[0] = 0; S.rng = 0x9E3779B97F4A7C15ULL;
    S.current = NULL; S.apply = NULL; S.relax = NULL; S.normal = NULL;
    return 0;
}
API int standin_setDevice(current_fn current, apply_fn apply, relax_fn relax, normal_fn normal) {
    S.current = current; S.apply = apply; S.relax = relax; S.normal = normal;
    return 0;
}
API int standin_setTimeScale(double scale) {
    if (!isfinite(scale) || scale <= 0) return PARAMETER_OUT_OF_RANGE;
    if (S.status == RUNNING) { double now = clock_ticks(); S.time_scale = scale; S.started = wall() - now * TICK_S / scale; }
    else S.time_scale = scale;
    return 0;
}
API int standin_failNext(const char *function, int code, const char *text, int skip) {
    if (!function || strlen(function) >= sizeof S.fail_name || !text || code >= 0) return PARAMETER_OUT_OF_RANGE;
    strcpy(S.fail_name, function); snprintf(S.fail_text, sizeof S.fail_text, "%s", text);
    S.fail_code = code; S.fail_skip = skip;
    return 0;
}
API int standin_output(int channelId, double *voltage, int *connected) {
    for (int i = 0; i < NCH; i++)
        if (S.ch[i].id == channelId) {
            *voltage = S.ch[i].connected ? S.ch[i].output_V : 0.0; *connected = S.ch[i].connected;
            return 0;
        }
    return CHANNEL_NOT_FOUND;
}
API int standin_sessionOpen(void) { return S.open; }
__attribute__((constructor)) static void init(void) { standin_reset(); }
