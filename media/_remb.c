/*
 * media._remb: the receive-side bandwidth estimator in C (media/fast_remb.py is its Python side
 * and its reference).
 *
 * Every incoming video packet with abs-send-time goes through the estimator: 1.3 to 1.9 us
 * each in fast_remb.py's flat Python class, the Kalman filter and detector's float arithmetic
 * once per group of packets (fast_remb.py's docstring). `Estimator` is its
 * FastRemoteBitrateEstimator, `ThrottledEstimator` its ThrottledRemoteBitrateEstimator
 * (media/remb_throttle.py's `lets_out` applied to what `add` returns), step for step: the
 * rate counter's two lists are growable arrays, the inter-arrival groups, Kalman filter,
 * detector and AIMD controller plain fields, `None` a has-value flag, the SSRCs a small array
 * in first-seen order.
 *
 * The results are bit-identical: every float expression is the Python's, in its order (and
 * never contracted into a fused multiply-add); round() is half to even (nearbyint), int()
 * truncates, `x ** 2` and pow() go through CPython's float_pow rules and C pow(), sqrt and
 * ceil are C's with the math module's errors; an int meets a float the way Python converts
 * it. Python's ints are unbounded, these are 64 bits: the arguments are bounded so that no
 * time or timestamp difference leaves 64 bits, the two true divisions of ints that could be
 * too large for a double are done by Python's own, and a sum of sizes that would leave 64 bits
 * (billions of packets) raises OverflowError. tests/media/test_remb_core.py runs both classes
 * side by side and compares every return value and the whole state.
 *
 * All calls come from the event loop's thread with the GIL held.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "structmember.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Python rounds every float operation to a double: so must this. */
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "media._remb needs double arithmetic without excess precision (FLT_EVAL_METHOD 0)"
#endif
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

/* aiortc.rate's constants (aiortc 1.16.0; tests/media/test_remb_core.py compares them). */
#define TIMESTAMP_TO_MS (1000.0 / (1 << INTER_ARRIVAL_SHIFT))
#define BURST_DELTA_THRESHOLD_MS 5
#define INTER_ARRIVAL_SHIFT 26
#define TIMESTAMP_GROUP_LENGTH_MS 5
#define MIN_FRAME_PERIOD_HISTORY_LENGTH 60
#define DELTA_COUNTER_MAX 1000
#define MIN_NUM_DELTAS 60
#define MAX_ADAPT_OFFSET_MS 15

/* aiortc's BandwidthUsage and RateControlState values. */
#define NORMAL 0
#define UNDERUSING 1
#define OVERUSING 2
#define HOLD 0
#define INCREASE 1
#define DECREASE 2

/* media/fast_remb.py's constants. */
#define WINDOW_MS 1000
#define SCALE 8000
#define GROUP_LENGTH ((TIMESTAMP_GROUP_LENGTH_MS << INTER_ARRIVAL_SHIFT) / 1000)
#define FEEDBACK_INTERVAL_MS 500
#define PRUNE_AT (2 * WINDOW_MS)
#define UINT32 0xFFFFFFFFu
#define HALF 0x80000000
#define PROCESS_NOISE_0 1e-13
#define PROCESS_NOISE_1 1e-3
#define PROCESS_NOISE_1_X10 (10 * PROCESS_NOISE_1)

/* media/remb_throttle.py's constants. */
#define MIN_INTERVAL_MS 200
#define DROP_SENDS_AT_ONCE 0.97

/*
 * The arguments' bounds. Times within 2**53 (ms: 285,000 years) keep every difference of two
 * times, and timestamps (abs-send-time << 8) every difference of two timestamps, within 64
 * bits; a payload is below 2**16, the bound leaves room.
 */
#define TIME_LIMIT (INT64_C(1) << 53)
#define PAYLOAD_LIMIT (INT64_C(1) << 31)
/* Where a double holds every int exactly (beyond: Python's own int division). */
#define EXACT_LIMIT (INT64_C(1) << 53)

/* SSRCs kept in an array; a receiver sees one or two. Past this many: a dict. */
#define SSRC_CAPACITY 32

typedef struct {
    int64_t value;
    int has; /* 0: None */
} Optional;

typedef struct {
    uint32_t ssrc;
    int64_t last_ms;
    PyObject *key; /* the ssrc as an int, reused for every feedback's list */
} SsrcEntry;

/* How a float attribute that Python may have set to an int (1, 6, 600, 0) reads back. */
#define IS_NONE 0
#define IS_INT 1
#define IS_FLOAT 2

typedef struct {
    PyObject_HEAD
    /* first-seen order, as the Python dict's keys; `ssrc_dict` instead past SSRC_CAPACITY */
    SsrcEntry ssrcs[SSRC_CAPACITY];
    int ssrc_count;
    int ssrc_hint; /* where the last packet's SSRC was */
    PyObject *ssrc_dict;

    /* RateCounter(1000, 8000): [rate_head, rate_head + rate_length) of the two arrays */
    int64_t *rate_ms;
    int64_t *rate_bytes;
    Py_ssize_t rate_head, rate_length, rate_capacity;
    int64_t rate_total;
    Optional rate_origin_ms;
    char rate_initialized;

    /* InterArrival */
    Optional cur_first;
    int64_t cur_last, cur_size, cur_arrival;
    Optional prev_last;
    int64_t prev_size, prev_arrival;

    /* OveruseEstimator; the history is a ring of the last 60 */
    double e00, e01, e10, e11;
    long long num_of_deltas;
    double offset, previous_offset, slope;
    double ts_delta_hist[MIN_FRAME_PERIOD_HISTORY_LENGTH];
    int hist_start, hist_length;
    long long ts_delta_count;
    double min_ts_delta;
    long long min_ts_delta_at;
    double avg_noise;
    double var_noise;
    int var_noise_kind;

    /* OveruseDetector */
    int hypothesis;
    Optional detector_last_update_ms;
    long long overuse_counter;
    double overuse_time;
    int overuse_time_kind;
    double detector_previous_offset;
    double threshold;
    int threshold_kind;

    /* AimdRateControl */
    double avg_max_bitrate_kbps;
    int has_avg_max_bitrate_kbps;
    double var_max_bitrate_kbps;
    long long current_bitrate;
    char current_bitrate_initialized;
    Optional first_estimated_throughput_time;
    Optional last_change_ms;
    char near_max;
    long long latest_estimated_throughput;
    long long rtt;
    int rate_control_state;

    Optional last_update_ms;
} Estimator;

typedef struct {
    Estimator base;
    Optional last_sent_ms;
    long long last_sent_bitrate;
} ThrottledEstimator;

static PyTypeObject EstimatorType;
static PyTypeObject ThrottledEstimatorType;

static PyObject *add_names[4]; /* add()'s keywords, interned */
static const char *const add_keywords[4] = {"arrival_time_ms", "abs_send_time", "payload_size",
                                            "ssrc"};

/* Python numbers ---------------------------------------------------------------------------- */

static int
overflowed(void)
{
    PyErr_SetString(PyExc_OverflowError, "estimator value does not fit in 64 bits");
    return -1;
}

static int
add_checked(int64_t *to, int64_t value)
{
    int64_t sum;
    if (__builtin_add_overflow(*to, value, &sum))
        return overflowed();
    *to = sum;
    return 0;
}

/* int(x) of a float: PyLong_FromDouble's errors, and one where it leaves 64 bits. */
static int
float_to_int(double x, int64_t *out)
{
    if (isnan(x)) {
        PyErr_SetString(PyExc_ValueError, "cannot convert float NaN to integer");
        return -1;
    }
    if (isinf(x)) {
        PyErr_SetString(PyExc_OverflowError, "cannot convert float infinity to integer");
        return -1;
    }
    if (!(x >= -0x1p63 && x < 0x1p63))
        return overflowed();
    *out = (int64_t)x; /* truncates, as int() */
    return 0;
}

/* round(x): half to even, as nearbyint in the default rounding mode. */
static int
float_round(double x, int64_t *out)
{
    return float_to_int(nearbyint(x), out);
}

/*
 * Python's `a * b / c` for ints: correctly rounded. A double division is that where the
 * product and divisor are exact as doubles; otherwise Python's own.
 */
static int
int_true_divide(int64_t a, int64_t b, int64_t c, double *out)
{
    int64_t product;
    if (!__builtin_mul_overflow(a, b, &product) && product >= -EXACT_LIMIT &&
        product <= EXACT_LIMIT && c >= -EXACT_LIMIT && c <= EXACT_LIMIT && c != 0) {
        *out = (double)product / (double)c;
        return 0;
    }
    PyObject *pa = PyLong_FromLongLong(a), *pb = PyLong_FromLongLong(b);
    PyObject *pc = PyLong_FromLongLong(c);
    PyObject *pp = (pa && pb) ? PyNumber_Multiply(pa, pb) : NULL;
    PyObject *quotient = (pp && pc) ? PyNumber_TrueDivide(pp, pc) : NULL;
    Py_XDECREF(pa);
    Py_XDECREF(pb);
    Py_XDECREF(pc);
    Py_XDECREF(pp);
    if (quotient == NULL)
        return -1;
    *out = PyFloat_AsDouble(quotient);
    Py_DECREF(quotient);
    return 0;
}

/* `a / b` of floats: float division by zero raises. */
static int
float_divide(double a, double b, double *out)
{
    if (b == 0.0) {
        PyErr_SetString(PyExc_ZeroDivisionError, "float division by zero");
        return -1;
    }
    *out = a / b;
    return 0;
}

/* math.sqrt(x). */
static int
math_sqrt(double x, double *out)
{
    double r = sqrt(x);
    if (isnan(r) && !isnan(x)) {
        PyErr_SetString(PyExc_ValueError, "math domain error");
        return -1;
    }
    *out = r;
    return 0;
}

#define IS_ODD_INTEGER(x) (fmod(fabs(x), 2.0) == 1.0)

/* `iv ** iw` and pow(iv, iw) of floats: CPython 3.11's float_pow. */
static int
float_pow(double iv, double iw, double *out)
{
    int negate_result = 0;
    if (iw == 0) {
        *out = 1.0;
        return 0;
    }
    if (isnan(iv)) {
        *out = iv;
        return 0;
    }
    if (isnan(iw)) {
        *out = iv == 1.0 ? 1.0 : iw;
        return 0;
    }
    if (isinf(iw)) {
        iv = fabs(iv);
        if (iv == 1.0)
            *out = 1.0;
        else if ((iw > 0.0) == (iv > 1.0))
            *out = fabs(iw);
        else
            *out = 0.0;
        return 0;
    }
    if (isinf(iv)) {
        int iw_is_odd = IS_ODD_INTEGER(iw);
        if (iw > 0.0)
            *out = iw_is_odd ? iv : fabs(iv);
        else
            *out = iw_is_odd ? copysign(0.0, iv) : 0.0;
        return 0;
    }
    if (iv == 0.0) {
        int iw_is_odd = IS_ODD_INTEGER(iw);
        if (iw < 0.0) {
            PyErr_SetString(PyExc_ZeroDivisionError,
                            "0.0 cannot be raised to a negative power");
            return -1;
        }
        *out = iw_is_odd ? iv : 0.0;
        return 0;
    }
    if (iv < 0.0) {
        if (iw != floor(iw)) {
            /* Python's answer is complex: no base here is negative but with exponent 2. */
            PyErr_SetString(PyExc_ValueError, "negative number raised to a fractional power");
            return -1;
        }
        iv = -iv;
        negate_result = IS_ODD_INTEGER(iw);
    }
    if (iv == 1.0) {
        *out = negate_result ? -1.0 : 1.0;
        return 0;
    }
    errno = 0;
    double ix = pow(iv, iw);
    /* _Py_ADJUST_ERANGE1 */
    if (errno == 0) {
        if (ix == HUGE_VAL || ix == -HUGE_VAL)
            errno = ERANGE;
    } else if (errno == ERANGE && ix == 0.0) {
        errno = 0;
    }
    if (negate_result)
        ix = -ix;
    if (errno != 0) {
        PyErr_SetFromErrno(errno == ERANGE ? PyExc_OverflowError : PyExc_ValueError);
        return -1;
    }
    *out = ix;
    return 0;
}

/* `x < y` of an int and a float, exact as Python compares them. */
static int
int_less_than_float(int64_t x, double y)
{
    if (isnan(y))
        return 0;
    if (y >= 0x1p63)
        return 1;
    if (y < -0x1p63)
        return 0;
    return x < (int64_t)ceil(y);
}

static int64_t
floor_divide(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q -= 1;
    return q;
}

static PyObject *
optional_to_object(Optional value)
{
    if (!value.has)
        Py_RETURN_NONE;
    return PyLong_FromLongLong(value.value);
}

static PyObject *
number_to_object(double value, int kind)
{
    if (kind == IS_NONE)
        Py_RETURN_NONE;
    if (kind == IS_INT)
        return PyLong_FromDouble(value);
    return PyFloat_FromDouble(value);
}

/* remb_throttle.lets_out: 200 ms after the last one, or at once when the value fell 3 %. */
static int
lets_out(int64_t last_ms, int64_t last_bitrate, int64_t arrival_time_ms, int64_t bitrate)
{
    return arrival_time_ms - last_ms >= MIN_INTERVAL_MS ||
           int_less_than_float(bitrate, (double)last_bitrate * DROP_SENDS_AT_ONCE);
}

/* SSRCs ------------------------------------------------------------------------------------- */

/* `self.ssrcs[ssrc] = now`. */
static int
ssrcs_set(Estimator *self, uint32_t ssrc, int64_t now)
{
    if (self->ssrc_dict == NULL) {
        int hint = self->ssrc_hint;
        if (hint < self->ssrc_count && self->ssrcs[hint].ssrc == ssrc) {
            self->ssrcs[hint].last_ms = now;
            return 0;
        }
        for (int i = 0; i < self->ssrc_count; i++) {
            if (self->ssrcs[i].ssrc == ssrc) {
                self->ssrcs[i].last_ms = now;
                self->ssrc_hint = i;
                return 0;
            }
        }
    }
    PyObject *key = PyLong_FromUnsignedLong(ssrc);
    if (key == NULL)
        return -1;
    if (self->ssrc_dict == NULL && self->ssrc_count < SSRC_CAPACITY) {
        SsrcEntry *entry = &self->ssrcs[self->ssrc_count];
        entry->ssrc = ssrc;
        entry->last_ms = now;
        entry->key = key;
        self->ssrc_hint = self->ssrc_count++;
        return 0;
    }
    if (self->ssrc_dict == NULL) {
        /* More SSRCs than any receiver sees: a dict keeps them, in the same order. */
        PyObject *dict = PyDict_New();
        if (dict == NULL) {
            Py_DECREF(key);
            return -1;
        }
        for (int i = 0; i < self->ssrc_count; i++) {
            PyObject *last = PyLong_FromLongLong(self->ssrcs[i].last_ms);
            if (last == NULL || PyDict_SetItem(dict, self->ssrcs[i].key, last) < 0) {
                Py_XDECREF(last);
                Py_DECREF(dict);
                Py_DECREF(key);
                return -1;
            }
            Py_DECREF(last);
        }
        self->ssrc_dict = dict;
        for (int i = 0; i < self->ssrc_count; i++)
            Py_CLEAR(self->ssrcs[i].key);
        self->ssrc_count = 0;
    }
    PyObject *last = PyLong_FromLongLong(now);
    int failed = last == NULL || PyDict_SetItem(self->ssrc_dict, key, last) < 0;
    Py_XDECREF(last);
    Py_DECREF(key);
    return failed ? -1 : 0;
}

/* `list(self.ssrcs)`. */
static PyObject *
ssrcs_list(Estimator *self)
{
    if (self->ssrc_dict != NULL)
        return PyDict_Keys(self->ssrc_dict);
    PyObject *list = PyList_New(self->ssrc_count);
    if (list == NULL)
        return NULL;
    for (int i = 0; i < self->ssrc_count; i++)
        PyList_SET_ITEM(list, i, Py_NewRef(self->ssrcs[i].key));
    return list;
}

/* The rate counter ---------------------------------------------------------------------------- */

/* Room for one more entry at the end. */
static int
rate_reserve(Estimator *self)
{
    if (self->rate_head + self->rate_length < self->rate_capacity)
        return 0;
    if (self->rate_head >= self->rate_length) {
        /* at least half of it dropped from the front: move the rest back */
        memmove(self->rate_ms, self->rate_ms + self->rate_head,
                (size_t)self->rate_length * sizeof(int64_t));
        memmove(self->rate_bytes, self->rate_bytes + self->rate_head,
                (size_t)self->rate_length * sizeof(int64_t));
        self->rate_head = 0;
        if (self->rate_length < self->rate_capacity)
            return 0;
    }
    Py_ssize_t capacity = self->rate_capacity ? 2 * self->rate_capacity : 64;
    int64_t *ms = PyMem_Realloc(self->rate_ms, (size_t)capacity * sizeof(int64_t));
    if (ms == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->rate_ms = ms;
    int64_t *bytes = PyMem_Realloc(self->rate_bytes, (size_t)capacity * sizeof(int64_t));
    if (bytes == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->rate_bytes = bytes;
    self->rate_capacity = capacity;
    return 0;
}

/* bisect_left(rate_ms, value) */
static Py_ssize_t
rate_bisect_left(Estimator *self, int64_t value)
{
    const int64_t *ms = self->rate_ms + self->rate_head;
    Py_ssize_t low = 0, high = self->rate_length;
    while (low < high) {
        Py_ssize_t middle = low + (high - low) / 2;
        if (ms[middle] < value)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

static int
rate_insert(Estimator *self, Py_ssize_t index, int64_t ms, int64_t bytes)
{
    if (rate_reserve(self) < 0)
        return -1;
    int64_t *at_ms = self->rate_ms + self->rate_head + index;
    int64_t *at_bytes = self->rate_bytes + self->rate_head + index;
    size_t moved = (size_t)(self->rate_length - index) * sizeof(int64_t);
    memmove(at_ms + 1, at_ms, moved);
    memmove(at_bytes + 1, at_bytes, moved);
    *at_ms = ms;
    *at_bytes = bytes;
    self->rate_length++;
    return 0;
}

/* FastRemoteBitrateEstimator._prune: drops the entries older than the origin. */
static int
rate_prune(Estimator *self)
{
    if (!self->rate_length || !self->rate_origin_ms.has ||
        self->rate_ms[self->rate_head] >= self->rate_origin_ms.value)
        return 0;
    Py_ssize_t index = rate_bisect_left(self, self->rate_origin_ms.value);
    int64_t dropped = 0;
    for (Py_ssize_t i = 0; i < index; i++) {
        if (add_checked(&dropped, self->rate_bytes[self->rate_head + i]) < 0)
            return -1;
    }
    if (__builtin_sub_overflow(self->rate_total, dropped, &self->rate_total))
        return overflowed();
    self->rate_head += index;
    self->rate_length -= index;
    if (!self->rate_length)
        self->rate_head = 0;
    return 0;
}

/* FastRemoteBitrateEstimator._add_out_of_order: a packet older than the newest entry. */
static int
rate_add_out_of_order(Estimator *self, int64_t now, int64_t origin, int64_t payload_size)
{
    if (now < origin)
        now += WINDOW_MS * -floor_divide(now - origin, WINDOW_MS);
    Py_ssize_t index = rate_bisect_left(self, now);
    if (index < self->rate_length && self->rate_ms[self->rate_head + index] == now)
        return add_checked(&self->rate_bytes[self->rate_head + index], payload_size);
    return rate_insert(self, index, now, payload_size);
}

/* The estimator ----------------------------------------------------------------------------- */

/* OveruseEstimator.update() then OveruseDetector.detect(), for a completed group. */
static int
estimator_update(Estimator *self, int64_t timestamp_delta, int64_t time_delta_ms,
                 int64_t size_delta, int64_t now_ms)
{
    double timestamp_delta_ms = (double)timestamp_delta * TIMESTAMP_TO_MS;
    int hypothesis = self->hypothesis;

    /* OveruseEstimator.update_min_frame_period(): the minimum is kept until it leaves. */
    if (self->hist_length < MIN_FRAME_PERIOD_HISTORY_LENGTH) {
        self->ts_delta_hist[(self->hist_start + self->hist_length++) %
                            MIN_FRAME_PERIOD_HISTORY_LENGTH] = timestamp_delta_ms;
    } else {
        self->ts_delta_hist[self->hist_start] = timestamp_delta_ms;
        self->hist_start = (self->hist_start + 1) % MIN_FRAME_PERIOD_HISTORY_LENGTH;
    }
    long long count = ++self->ts_delta_count;
    double min_frame_period;
    if (timestamp_delta_ms <= self->min_ts_delta) {
        self->min_ts_delta = min_frame_period = timestamp_delta_ms;
        self->min_ts_delta_at = count;
    } else if (count - self->min_ts_delta_at >= MIN_FRAME_PERIOD_HISTORY_LENGTH) {
        /* min(history), then history.index() of it */
        int index = 0;
        min_frame_period = self->ts_delta_hist[self->hist_start];
        for (int i = 1; i < self->hist_length; i++) {
            double item =
                self->ts_delta_hist[(self->hist_start + i) % MIN_FRAME_PERIOD_HISTORY_LENGTH];
            if (item < min_frame_period)
                min_frame_period = item;
        }
        while (self->ts_delta_hist[(self->hist_start + index) % MIN_FRAME_PERIOD_HISTORY_LENGTH] !=
               min_frame_period)
            index++;
        self->min_ts_delta = min_frame_period;
        self->min_ts_delta_at = count - self->hist_length + 1 + index;
    } else {
        min_frame_period = self->min_ts_delta;
    }

    double t_ts_delta = (double)time_delta_ms - timestamp_delta_ms;
    /* Python converts the int at each use: the same double each time. */
    double fs_delta = (double)size_delta;
    long long num_of_deltas = self->num_of_deltas + 1;
    if (num_of_deltas > DELTA_COUNTER_MAX)
        num_of_deltas = DELTA_COUNTER_MAX;
    self->num_of_deltas = num_of_deltas;

    /* Kalman filter, h = [fs_delta, 1.0] */
    double e00 = self->e00 + PROCESS_NOISE_0;
    double e01 = self->e01;
    double e10 = self->e10;
    double e11 = self->e11 + PROCESS_NOISE_1;
    double offset = self->offset;
    if ((hypothesis == OVERUSING && offset < self->previous_offset) ||
        (hypothesis == UNDERUSING && offset > self->previous_offset))
        e11 += PROCESS_NOISE_1_X10;

    double eh0 = e00 * fs_delta + e01;
    double eh1 = e10 * fs_delta + e11;

    double residual = t_ts_delta - self->slope * fs_delta - offset;
    double var_noise = self->var_noise;
    if (hypothesis == NORMAL) {
        /* update_noise_estimate() */
        double root;
        if (math_sqrt(var_noise, &root) < 0)
            return -1;
        double max_residual = 3.0 * root;
        double noise;
        if ((residual >= 0 ? residual : -residual) < max_residual)
            noise = residual;
        else
            noise = residual < 0 ? -max_residual : max_residual;
        double alpha = 0.01;
        if (num_of_deltas > 10 * 30)
            alpha = 0.002;
        double beta, square;
        if (float_pow(1 - alpha, min_frame_period * 30.0 / 1000.0, &beta) < 0)
            return -1;
        double avg_noise = self->avg_noise = beta * self->avg_noise + (1 - beta) * noise;
        if (float_pow(avg_noise - noise, 2, &square) < 0)
            return -1;
        var_noise = beta * var_noise + (1 - beta) * square;
        self->var_noise_kind = IS_FLOAT;
        if (var_noise < 1) {
            var_noise = 1;
            self->var_noise_kind = IS_INT;
        }
        self->var_noise = var_noise;
    }

    double denom = var_noise + fs_delta * eh0 + eh1;
    double k0, k1;
    if (float_divide(eh0, denom, &k0) < 0 || float_divide(eh1, denom, &k1) < 0)
        return -1;
    double ikh00 = 1.0 - k0 * fs_delta;
    double ikh01 = -k0;
    double ikh10 = -k1 * fs_delta;
    double ikh11 = 1.0 - k1;
    self->e00 = e00 * ikh00 + e10 * ikh01;
    self->e01 = e01 * ikh00 + e11 * ikh01;
    self->e10 = e00 * ikh10 + e10 * ikh11;
    self->e11 = e01 * ikh10 + e11 * ikh11;

    self->previous_offset = offset;
    self->slope += k0 * residual;
    offset = self->offset = offset + k1 * residual;

    /* OveruseDetector.detect() */
    if (num_of_deltas < 2)
        return 0;
    double threshold = self->threshold;
    double modified_offset =
        (double)(num_of_deltas > MIN_NUM_DELTAS ? MIN_NUM_DELTAS : num_of_deltas) * offset;
    if (modified_offset > threshold) {
        if (self->overuse_time_kind == IS_NONE)
            self->overuse_time = timestamp_delta_ms / 2;
        else
            self->overuse_time += timestamp_delta_ms;
        self->overuse_time_kind = IS_FLOAT;
        self->overuse_counter += 1;
        if (self->overuse_time > 10 && self->overuse_counter > 1 &&
            offset >= self->detector_previous_offset) {
            self->overuse_counter = 0;
            self->overuse_time = 0;
            self->overuse_time_kind = IS_INT;
            self->hypothesis = OVERUSING;
        }
    } else if (modified_offset < -threshold) {
        self->overuse_counter = 0;
        self->overuse_time_kind = IS_NONE;
        self->hypothesis = UNDERUSING;
    } else {
        self->overuse_counter = 0;
        self->overuse_time_kind = IS_NONE;
        self->hypothesis = NORMAL;
    }
    self->detector_previous_offset = offset;

    /* OveruseDetector.update_threshold() */
    if (!self->detector_last_update_ms.has)
        self->detector_last_update_ms = (Optional){now_ms, 1};
    double abs_t = modified_offset >= 0 ? modified_offset : -modified_offset;
    if (abs_t > threshold + MAX_ADAPT_OFFSET_MS) {
        self->detector_last_update_ms.value = now_ms;
        return 0;
    }
    double k = abs_t < threshold ? 0.039 : 0.0087; /* k_down, k_up */
    int64_t time_delta = now_ms - self->detector_last_update_ms.value;
    if (time_delta > 100)
        time_delta = 100;
    threshold += k * (abs_t - threshold) * (double)time_delta;
    /* max(6, min(threshold, 600)), NaN included: the bounds are Python ints */
    self->threshold_kind = IS_INT;
    if (threshold > 600)
        threshold = 600;
    else if (!(threshold > 6))
        threshold = 6;
    else
        self->threshold_kind = IS_FLOAT;
    self->threshold = threshold;
    self->detector_last_update_ms.value = now_ms;
    return 0;
}

/* AimdRateControl.update(): 0 (None), 1 (*bitrate), -1 (an exception, as aiortc's). */
static int
estimator_rate_control(Estimator *self, int has_throughput, int64_t estimated_throughput,
                       int64_t now_ms, int64_t *bitrate)
{
    int usage = self->hypothesis;
    if (!self->current_bitrate_initialized && has_throughput) {
        if (!self->first_estimated_throughput_time.has) {
            self->first_estimated_throughput_time = (Optional){now_ms, 1};
        } else if (now_ms - self->first_estimated_throughput_time.value > 3000) {
            self->current_bitrate = estimated_throughput;
            self->current_bitrate_initialized = 1;
        }
    }

    /* wait for initialisation or overuse */
    if (!self->current_bitrate_initialized && usage != OVERUSING)
        return 0;

    int state = self->rate_control_state;
    if (usage == NORMAL && state == HOLD) {
        self->last_change_ms = (Optional){now_ms, 1};
        state = INCREASE;
    } else if (usage == OVERUSING) {
        state = DECREASE;
    } else if (usage == UNDERUSING) {
        state = HOLD;
    }
    self->rate_control_state = state; /* before what follows, which can raise as aiortc's */

    int64_t new_bitrate = self->current_bitrate;
    if (has_throughput)
        self->latest_estimated_throughput = estimated_throughput;
    else
        estimated_throughput = self->latest_estimated_throughput;
    double estimated_throughput_kbps;
    if (int_true_divide(estimated_throughput, 1, 1000, &estimated_throughput_kbps) < 0)
        return -1;

    if (state == INCREASE) {
        if (self->has_avg_max_bitrate_kbps) {
            double sigma_kbps;
            if (math_sqrt(self->var_max_bitrate_kbps * self->avg_max_bitrate_kbps, &sigma_kbps) <
                0)
                return -1;
            if (estimated_throughput_kbps >= self->avg_max_bitrate_kbps + 3 * sigma_kbps) {
                self->near_max = 0;
                self->has_avg_max_bitrate_kbps = 0;
            }
        }
        Optional last_ms = self->last_change_ms;
        if (self->near_max) {
            /* _additive_rate_increase(), _near_max_rate_increase() */
            double bits_per_frame, avg_packet_size_bits, quotient;
            int64_t packets_per_frame, increase, step;
            if (int_true_divide(self->current_bitrate, 1, 30, &bits_per_frame) < 0 ||
                float_to_int(ceil(bits_per_frame / (8 * 1200)), &packets_per_frame) < 0 ||
                float_divide(bits_per_frame, (double)packets_per_frame, &avg_packet_size_bits) <
                    0)
                return -1;
            int64_t response_time = self->rtt + 100;
            if (float_to_int((avg_packet_size_bits * 1000) / (double)response_time, &increase) <
                0)
                return -1;
            if (!(increase > 4000))
                increase = 4000;
            if (!last_ms.has) {
                /* not reached: near_max is set with last_change_ms */
                PyErr_SetString(PyExc_TypeError,
                                "unsupported operand type(s) for -: 'int' and 'NoneType'");
                return -1;
            }
            if (int_true_divide(now_ms - last_ms.value, increase, 1000, &quotient) < 0 ||
                float_to_int(quotient, &step) < 0 || add_checked(&new_bitrate, step) < 0)
                return -1;
        } else {
            /* _multiplicative_rate_increase() */
            double alpha = 1.08;
            if (last_ms.has) {
                int64_t elapsed_ms = now_ms - last_ms.value;
                if (1000 < elapsed_ms)
                    elapsed_ms = 1000;
                double exponent;
                if (int_true_divide(elapsed_ms, 1, 1000, &exponent) < 0 ||
                    float_pow(alpha, exponent, &alpha) < 0)
                    return -1;
            }
            double increase = (alpha - 1) * (double)new_bitrate;
            int64_t step = 1000;
            if (!(1000 > increase) && float_to_int(increase, &step) < 0)
                return -1;
            if (add_checked(&new_bitrate, step) < 0)
                return -1;
        }
        self->last_change_ms = (Optional){now_ms, 1};
    } else if (state == DECREASE) {
        int has_avg_max = self->has_avg_max_bitrate_kbps;
        double avg_max = self->avg_max_bitrate_kbps;
        if (has_avg_max) {
            double sigma_kbps;
            if (math_sqrt(self->var_max_bitrate_kbps * avg_max, &sigma_kbps) < 0)
                return -1;
            if (estimated_throughput_kbps < avg_max - 3 * sigma_kbps)
                has_avg_max = 0;
        }
        /* _update_max_throughput_estimate() */
        double alpha = 0.05;
        if (!has_avg_max)
            avg_max = estimated_throughput_kbps;
        else
            avg_max = (1 - alpha) * avg_max + alpha * estimated_throughput_kbps;
        self->avg_max_bitrate_kbps = avg_max;
        self->has_avg_max_bitrate_kbps = 1;
        double norm = avg_max > 1 ? avg_max : 1; /* max(1, avg_max) */
        double square;
        if (float_pow(avg_max - estimated_throughput_kbps, 2, &square) < 0)
            return -1;
        double var_max = (1 - alpha) * self->var_max_bitrate_kbps + alpha * square / norm;
        double capped = 2.5 < var_max ? 2.5 : var_max;         /* min(var_max, 2.5) */
        self->var_max_bitrate_kbps = capped > 0.4 ? capped : 0.4; /* max(0.4, ...) */

        self->near_max = 1;
        if (float_round(0.85 * (double)estimated_throughput, &new_bitrate) < 0)
            return -1;
        self->last_change_ms = (Optional){now_ms, 1};
        self->rate_control_state = HOLD;
    }

    /* _clamp_bitrate() */
    int64_t max_bitrate;
    if (float_to_int(1.5 * (double)estimated_throughput, &max_bitrate) < 0 ||
        add_checked(&max_bitrate, 10000) < 0)
        return -1;
    if (self->current_bitrate > max_bitrate)
        max_bitrate = self->current_bitrate;
    self->current_bitrate = max_bitrate < new_bitrate ? max_bitrate : new_bitrate;
    *bitrate = self->current_bitrate;
    return 1;
}

/* FastRemoteBitrateEstimator._estimate: the rate control with the incoming bitrate. */
static int
estimator_estimate(Estimator *self, int64_t now, int64_t *bitrate)
{
    /* RateCounter.rate(): the packet was just added, so the window is not empty. */
    if (rate_prune(self) < 0)
        return -1;
    int64_t active_window_size = now - self->rate_origin_ms.value + 1;
    int64_t throughput = 0;
    if (active_window_size > 1) {
        double rate;
        if (int_true_divide(SCALE, self->rate_total, active_window_size, &rate) < 0 ||
            float_round(rate, &throughput) < 0)
            return -1;
    }
    int result =
        estimator_rate_control(self, active_window_size > 1, throughput, now, bitrate);
    if (result == 1)
        self->last_update_ms = (Optional){now, 1};
    return result;
}

/* FastRemoteBitrateEstimator._feedback: the rate control when due. */
static int
estimator_feedback(Estimator *self, int64_t now, int64_t *bitrate)
{
    if (self->last_update_ms.has && now - self->last_update_ms.value <= FEEDBACK_INTERVAL_MS &&
        self->hypothesis != OVERUSING)
        return 0;
    return estimator_estimate(self, now, bitrate);
}

/* FastRemoteBitrateEstimator.add: 0 (None), 1 (a feedback of *bitrate), -1 (an exception). */
static int
estimator_add(Estimator *self, int64_t now, int64_t abs_send_time, int64_t payload_size,
              uint32_t ssrc, int64_t *bitrate)
{
    int64_t timestamp = abs_send_time * 256; /* << 8, negative values included */
    if (ssrcs_set(self, ssrc, now) < 0)
        return -1;

    /* The incoming bitrate: RateCounter.rate()'s test, the reset, RateCounter.add(). */
    if (self->rate_origin_ms.has && self->rate_origin_ms.value < now - WINDOW_MS + 1)
        self->rate_origin_ms.value = now - WINDOW_MS + 1;
    int64_t origin = self->rate_origin_ms.value;
    Py_ssize_t newest = self->rate_head + self->rate_length - 1;
    if (self->rate_origin_ms.has && self->rate_length && self->rate_ms[newest] >= origin &&
        now > origin) {
        self->rate_initialized = 1;
    } else if (self->rate_initialized) {
        self->rate_head = self->rate_length = 0;
        self->rate_total = 0;
        self->rate_origin_ms.has = 0;
        self->rate_initialized = 0;
    }
    if (!self->rate_origin_ms.has)
        self->rate_origin_ms = (Optional){origin = now, 1};
    newest = self->rate_head + self->rate_length - 1;
    if (!self->rate_length || now > self->rate_ms[newest]) {
        if (rate_insert(self, self->rate_length, now, payload_size) < 0)
            return -1;
        if (self->rate_length > PRUNE_AT && rate_prune(self) < 0)
            return -1; /* no feedback for long (the clock stepped back) */
    } else if (now == self->rate_ms[newest]) {
        if (add_checked(&self->rate_bytes[newest], payload_size) < 0)
            return -1;
    } else if (rate_add_out_of_order(self, now, origin, payload_size) < 0) {
        return -1;
    }
    if (add_checked(&self->rate_total, payload_size) < 0)
        return -1;

    /* Inter-arrival groups: InterArrival.compute_deltas(). */
    if (!self->cur_first.has) {
        self->cur_first = (Optional){timestamp, 1};
        self->cur_last = timestamp;
    } else if (timestamp != self->cur_last) {
        uint64_t since_first = (uint64_t)(timestamp - self->cur_first.value) & UINT32;
        if (since_first >= HALF) /* out of order: ignored */
            return estimator_feedback(self, now, bitrate);
        int64_t last = self->cur_last;
        /* belongs_to_burst() */
        double timestamp_delta_ms =
            TIMESTAMP_TO_MS * (double)((uint64_t)(timestamp - last) & UINT32);
        int burst;
        if (timestamp_delta_ms <= 0.5) {
            burst = 1;
        } else {
            int64_t arrival_time_delta = now - self->cur_arrival;
            /* round() of at most 2**32 * TIMESTAMP_TO_MS: no error, no overflow */
            burst = arrival_time_delta <= BURST_DELTA_THRESHOLD_MS &&
                    arrival_time_delta < (int64_t)nearbyint(timestamp_delta_ms);
        }
        if (!burst && since_first > GROUP_LENGTH) {
            if (self->prev_last.has) {
                int64_t size_delta;
                if (__builtin_sub_overflow(self->cur_size, self->prev_size, &size_delta))
                    return overflowed();
                if (estimator_update(self, (int64_t)((uint64_t)(last - self->prev_last.value) &
                                                     UINT32),
                                     self->cur_arrival - self->prev_arrival, size_delta,
                                     now) < 0)
                    return -1;
            }
            self->prev_last = (Optional){last, 1};
            self->prev_size = self->cur_size;
            self->prev_arrival = self->cur_arrival;
            self->cur_first = (Optional){timestamp, 1};
            self->cur_last = timestamp;
            self->cur_size = 0;
        } else if ((timestamp > last && timestamp - last < HALF) ||
                   (timestamp < last && last - timestamp > HALF)) { /* uint32_gt */
            self->cur_last = timestamp;
        }
    }
    if (add_checked(&self->cur_size, payload_size) < 0)
        return -1;
    self->cur_arrival = now;
    return estimator_feedback(self, now, bitrate);
}

/* Arguments --------------------------------------------------------------------------------- */

static int
int_argument(PyObject *value, const char *name, int64_t low, int64_t high, int64_t *out)
{
    int overflow;
    long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (number == -1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", name,
                         Py_TYPE(value)->tp_name);
        }
        return -1;
    }
    if (overflow || number < low || number > high) {
        PyErr_Format(PyExc_OverflowError, "%s must be between %lld and %lld", name,
                     (long long)low, (long long)high);
        return -1;
    }
    *out = number;
    return 0;
}

/* add(arrival_time_ms, abs_send_time, payload_size, ssrc), by position or keyword. */
static int
parse_add(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, int64_t *now,
          int64_t *abs_send_time, int64_t *payload_size, uint32_t *ssrc)
{
    PyObject *values[4] = {NULL, NULL, NULL, NULL};
    if (nargs > 4) {
        PyErr_Format(PyExc_TypeError, "add() takes 4 arguments (%zd given)", nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        values[i] = args[i];
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, k);
        int index = 0;
        while (index < 4 && name != add_names[index])
            index++;
        for (int i = 0; index == 4 && i < 4; i++) {
            if (PyUnicode_Compare(name, add_names[i]) == 0)
                index = i;
        }
        if (index == 4) {
            PyErr_Format(PyExc_TypeError, "add() got an unexpected keyword argument '%U'", name);
            return -1;
        }
        if (values[index] != NULL) {
            PyErr_Format(PyExc_TypeError, "add() got multiple values for argument '%s'",
                         add_keywords[index]);
            return -1;
        }
        values[index] = args[nargs + k];
    }
    for (int i = 0; i < 4; i++) {
        if (values[i] == NULL) {
            PyErr_Format(PyExc_TypeError, "add() missing required argument '%s'",
                         add_keywords[i]);
            return -1;
        }
    }
    int64_t number;
    if (int_argument(values[0], add_keywords[0], -TIME_LIMIT, TIME_LIMIT, now) < 0 ||
        int_argument(values[1], add_keywords[1], -TIME_LIMIT, TIME_LIMIT, abs_send_time) < 0 ||
        int_argument(values[2], add_keywords[2], -PAYLOAD_LIMIT, PAYLOAD_LIMIT, payload_size) <
            0 ||
        int_argument(values[3], add_keywords[3], 0, UINT32, &number) < 0)
        return -1;
    *ssrc = (uint32_t)number;
    return 0;
}

static PyObject *
feedback_tuple(Estimator *self, int64_t bitrate)
{
    PyObject *ssrcs = ssrcs_list(self);
    if (ssrcs == NULL)
        return NULL;
    PyObject *value = PyLong_FromLongLong(bitrate);
    if (value == NULL) {
        Py_DECREF(ssrcs);
        return NULL;
    }
    PyObject *feedback = PyTuple_Pack(2, value, ssrcs);
    Py_DECREF(value);
    Py_DECREF(ssrcs);
    return feedback;
}

static PyObject *
Estimator_add(Estimator *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    int64_t now, abs_send_time, payload_size, bitrate;
    uint32_t ssrc;
    if (parse_add(args, nargs, kwnames, &now, &abs_send_time, &payload_size, &ssrc) < 0)
        return NULL;
    int result = estimator_add(self, now, abs_send_time, payload_size, ssrc, &bitrate);
    if (result <= 0)
        return result < 0 ? NULL : Py_NewRef(Py_None);
    return feedback_tuple(self, bitrate);
}

static PyObject *
ThrottledEstimator_add(ThrottledEstimator *self, PyObject *const *args, Py_ssize_t nargs,
                       PyObject *kwnames)
{
    int64_t now, abs_send_time, payload_size, bitrate;
    uint32_t ssrc;
    if (parse_add(args, nargs, kwnames, &now, &abs_send_time, &payload_size, &ssrc) < 0)
        return NULL;
    int result = estimator_add(&self->base, now, abs_send_time, payload_size, ssrc, &bitrate);
    if (result <= 0)
        return result < 0 ? NULL : Py_NewRef(Py_None);
    if (self->last_sent_ms.has &&
        !lets_out(self->last_sent_ms.value, self->last_sent_bitrate, now, bitrate))
        Py_RETURN_NONE;
    self->last_sent_ms = (Optional){now, 1};
    self->last_sent_bitrate = bitrate;
    return feedback_tuple(&self->base, bitrate);
}

/* FastRemoteBitrateEstimator._prune, which the tests call before they read the state. */
static PyObject *
Estimator_prune(Estimator *self, PyObject *Py_UNUSED(ignored))
{
    if (rate_prune(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* The state, read-only, under the Python class's names ------------------------------------ */

static PyObject *
get_optional(PyObject *self, void *offset)
{
    return optional_to_object(*(Optional *)((char *)self + (size_t)offset));
}

#define OPTIONAL(name, type, field)                                                          \
    {name, (getter)get_optional, NULL, NULL, (void *)offsetof(type, field)}

static PyObject *
rate_list(const int64_t *values, Py_ssize_t length)
{
    PyObject *list = PyList_New(length);
    if (list == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < length; i++) {
        PyObject *item = PyLong_FromLongLong(values[i]);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, item);
    }
    return list;
}

static PyObject *
Estimator_get_rate_ms(Estimator *self, void *Py_UNUSED(closure))
{
    return rate_list(self->rate_ms + self->rate_head, self->rate_length);
}

static PyObject *
Estimator_get_rate_bytes(Estimator *self, void *Py_UNUSED(closure))
{
    return rate_list(self->rate_bytes + self->rate_head, self->rate_length);
}

static PyObject *
Estimator_get_ts_delta_hist(Estimator *self, void *Py_UNUSED(closure))
{
    PyObject *list = PyList_New(self->hist_length);
    if (list == NULL)
        return NULL;
    for (int i = 0; i < self->hist_length; i++) {
        PyObject *item = PyFloat_FromDouble(
            self->ts_delta_hist[(self->hist_start + i) % MIN_FRAME_PERIOD_HISTORY_LENGTH]);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, item);
    }
    return list;
}

static PyObject *
Estimator_get_ssrcs(Estimator *self, void *Py_UNUSED(closure))
{
    if (self->ssrc_dict != NULL)
        return PyDict_Copy(self->ssrc_dict);
    PyObject *dict = PyDict_New();
    if (dict == NULL)
        return NULL;
    for (int i = 0; i < self->ssrc_count; i++) {
        PyObject *last = PyLong_FromLongLong(self->ssrcs[i].last_ms);
        if (last == NULL || PyDict_SetItem(dict, self->ssrcs[i].key, last) < 0) {
            Py_XDECREF(last);
            Py_DECREF(dict);
            return NULL;
        }
        Py_DECREF(last);
    }
    return dict;
}

static PyObject *
Estimator_get_avg_max_bitrate_kbps(Estimator *self, void *Py_UNUSED(closure))
{
    return number_to_object(self->avg_max_bitrate_kbps,
                            self->has_avg_max_bitrate_kbps ? IS_FLOAT : IS_NONE);
}

static PyObject *
Estimator_get_var_noise(Estimator *self, void *Py_UNUSED(closure))
{
    return number_to_object(self->var_noise, self->var_noise_kind);
}

static PyObject *
Estimator_get_overuse_time(Estimator *self, void *Py_UNUSED(closure))
{
    return number_to_object(self->overuse_time, self->overuse_time_kind);
}

static PyObject *
Estimator_get_threshold(Estimator *self, void *Py_UNUSED(closure))
{
    return number_to_object(self->threshold, self->threshold_kind);
}

static PyGetSetDef Estimator_getset[] = {
    {"ssrcs", (getter)Estimator_get_ssrcs, NULL, "{ssrc: last arrival ms}, first seen first",
     NULL},
    OPTIONAL("last_update_ms", Estimator, last_update_ms),
    OPTIONAL("_rate_origin_ms", Estimator, rate_origin_ms),
    OPTIONAL("_cur_first", Estimator, cur_first),
    OPTIONAL("_prev_last", Estimator, prev_last),
    OPTIONAL("_detector_last_update_ms", Estimator, detector_last_update_ms),
    OPTIONAL("_first_estimated_throughput_time", Estimator, first_estimated_throughput_time),
    OPTIONAL("_last_change_ms", Estimator, last_change_ms),
    {"_rate_ms", (getter)Estimator_get_rate_ms, NULL, NULL, NULL},
    {"_rate_bytes", (getter)Estimator_get_rate_bytes, NULL, NULL, NULL},
    {"_ts_delta_hist", (getter)Estimator_get_ts_delta_hist, NULL, NULL, NULL},
    {"_avg_max_bitrate_kbps", (getter)Estimator_get_avg_max_bitrate_kbps, NULL, NULL, NULL},
    {"_var_noise", (getter)Estimator_get_var_noise, NULL, NULL, NULL},
    {"_overuse_time", (getter)Estimator_get_overuse_time, NULL, NULL, NULL},
    {"_threshold", (getter)Estimator_get_threshold, NULL, NULL, NULL},
    {NULL},
};

#define MEMBER(name, kind, field) {name, kind, offsetof(Estimator, field), READONLY, NULL}

static PyMemberDef Estimator_members[] = {
    MEMBER("current_bitrate", T_LONGLONG, current_bitrate),
    MEMBER("hypothesis", T_INT, hypothesis),
    MEMBER("_rate_total", T_LONGLONG, rate_total),
    MEMBER("_rate_initialized", T_BOOL, rate_initialized),
    MEMBER("_cur_last", T_LONGLONG, cur_last),
    MEMBER("_cur_size", T_LONGLONG, cur_size),
    MEMBER("_cur_arrival", T_LONGLONG, cur_arrival),
    MEMBER("_prev_size", T_LONGLONG, prev_size),
    MEMBER("_prev_arrival", T_LONGLONG, prev_arrival),
    MEMBER("_e00", T_DOUBLE, e00),
    MEMBER("_e01", T_DOUBLE, e01),
    MEMBER("_e10", T_DOUBLE, e10),
    MEMBER("_e11", T_DOUBLE, e11),
    MEMBER("_num_of_deltas", T_LONGLONG, num_of_deltas),
    MEMBER("_offset", T_DOUBLE, offset),
    MEMBER("_previous_offset", T_DOUBLE, previous_offset),
    MEMBER("_slope", T_DOUBLE, slope),
    MEMBER("_ts_delta_count", T_LONGLONG, ts_delta_count),
    MEMBER("_min_ts_delta", T_DOUBLE, min_ts_delta),
    MEMBER("_min_ts_delta_at", T_LONGLONG, min_ts_delta_at),
    MEMBER("_avg_noise", T_DOUBLE, avg_noise),
    MEMBER("_overuse_counter", T_LONGLONG, overuse_counter),
    MEMBER("_detector_previous_offset", T_DOUBLE, detector_previous_offset),
    MEMBER("_var_max_bitrate_kbps", T_DOUBLE, var_max_bitrate_kbps),
    MEMBER("_current_bitrate_initialized", T_BOOL, current_bitrate_initialized),
    MEMBER("_near_max", T_BOOL, near_max),
    MEMBER("_latest_estimated_throughput", T_LONGLONG, latest_estimated_throughput),
    MEMBER("_rtt", T_LONGLONG, rtt),
    MEMBER("_rate_control_state", T_INT, rate_control_state),
    {NULL},
};

static PyGetSetDef ThrottledEstimator_getset[] = {
    OPTIONAL("_last_sent_ms", ThrottledEstimator, last_sent_ms),
    {NULL},
};

static PyMemberDef ThrottledEstimator_members[] = {
    {"_last_sent_bitrate", T_LONGLONG, offsetof(ThrottledEstimator, last_sent_bitrate),
     READONLY, NULL},
    {NULL},
};

/* The types --------------------------------------------------------------------------------- */

static PyObject *
Estimator_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    if (PyTuple_GET_SIZE(args) || (kwds && PyDict_GET_SIZE(kwds))) {
        PyErr_Format(PyExc_TypeError, "%.100s() takes no arguments", type->tp_name);
        return NULL;
    }
    Estimator *self = (Estimator *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    /* FastRemoteBitrateEstimator.__init__; what is not here is 0 or None */
    self->rate_initialized = 1;
    self->e00 = 100.0;
    self->e11 = 0.1;
    self->slope = 1.0 / 64;
    self->min_ts_delta = INFINITY;
    self->var_noise = 50.0;
    self->var_noise_kind = IS_FLOAT;
    self->hypothesis = NORMAL;
    self->threshold = 12.5;
    self->threshold_kind = IS_FLOAT;
    self->var_max_bitrate_kbps = 0.4;
    self->current_bitrate = 30000000;
    self->latest_estimated_throughput = 30000000;
    self->rtt = 200;
    self->rate_control_state = HOLD;
    return (PyObject *)self;
}

static void
Estimator_dealloc(Estimator *self)
{
    for (int i = 0; i < self->ssrc_count; i++)
        Py_CLEAR(self->ssrcs[i].key);
    Py_CLEAR(self->ssrc_dict);
    PyMem_Free(self->rate_ms);
    PyMem_Free(self->rate_bytes);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Estimator_methods[] = {
    {"add", (PyCFunction)(void (*)(void))Estimator_add, METH_FASTCALL | METH_KEYWORDS,
     "add(arrival_time_ms, abs_send_time, payload_size, ssrc) -> (bitrate, ssrcs) or None"},
    {"_prune", (PyCFunction)Estimator_prune, METH_NOARGS,
     "drop the rate counter's entries older than its window (no visible change)"},
    {NULL},
};

static PyMethodDef ThrottledEstimator_methods[] = {
    {"add", (PyCFunction)(void (*)(void))ThrottledEstimator_add, METH_FASTCALL | METH_KEYWORDS,
     "add(arrival_time_ms, abs_send_time, payload_size, ssrc) -> (bitrate, ssrcs) or None, "
     "throttled as media/remb_throttle.py"},
    {NULL},
};

static PyTypeObject EstimatorType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "media._remb.Estimator",
    .tp_doc = "media/fast_remb.py's FastRemoteBitrateEstimator: same add(), same results",
    .tp_basicsize = sizeof(Estimator),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = Estimator_new,
    .tp_dealloc = (destructor)Estimator_dealloc,
    .tp_methods = Estimator_methods,
    .tp_members = Estimator_members,
    .tp_getset = Estimator_getset,
};

static PyTypeObject ThrottledEstimatorType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "media._remb.ThrottledEstimator",
    .tp_doc = "media/fast_remb.py's ThrottledRemoteBitrateEstimator: the estimator, its "
              "feedback throttled as media/remb_throttle.py's",
    .tp_basicsize = sizeof(ThrottledEstimator),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_base = &EstimatorType,
    .tp_new = Estimator_new,
    .tp_methods = ThrottledEstimator_methods,
    .tp_members = ThrottledEstimator_members,
    .tp_getset = ThrottledEstimator_getset,
};

static PyObject *
remb_lets_out(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *values[4];
    if (!PyArg_UnpackTuple(args, "lets_out", 4, 4, &values[0], &values[1], &values[2],
                           &values[3]))
        return NULL;
    int64_t last_ms, last_bitrate, arrival_time_ms, bitrate;
    if (int_argument(values[0], "last_ms", -TIME_LIMIT, TIME_LIMIT, &last_ms) < 0 ||
        int_argument(values[1], "last_bitrate", INT64_MIN, INT64_MAX, &last_bitrate) < 0 ||
        int_argument(values[2], "arrival_time_ms", -TIME_LIMIT, TIME_LIMIT, &arrival_time_ms) <
            0 ||
        int_argument(values[3], "bitrate", INT64_MIN, INT64_MAX, &bitrate) < 0)
        return NULL;
    return PyBool_FromLong(lets_out(last_ms, last_bitrate, arrival_time_ms, bitrate));
}

static PyMethodDef remb_methods[] = {
    {"lets_out", remb_lets_out, METH_VARARGS,
     "lets_out(last_ms, last_bitrate, arrival_time_ms, bitrate): media/remb_throttle.py's"},
    {NULL},
};

static struct PyModuleDef remb_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "media._remb",
    .m_doc = "The receive-side bandwidth estimator, in C (media/fast_remb.py)",
    .m_size = -1,
    .m_methods = remb_methods,
};

PyMODINIT_FUNC
PyInit__remb(void)
{
    if (PyType_Ready(&EstimatorType) < 0 || PyType_Ready(&ThrottledEstimatorType) < 0)
        return NULL;
    for (int i = 0; i < 4; i++) {
        add_names[i] = PyUnicode_InternFromString(add_keywords[i]);
        if (add_names[i] == NULL)
            return NULL;
    }
    PyObject *module = PyModule_Create(&remb_module);
    if (module == NULL)
        return NULL;
    PyObject *timestamp_to_ms = PyFloat_FromDouble(TIMESTAMP_TO_MS);
    PyObject *drop = PyFloat_FromDouble(DROP_SENDS_AT_ONCE);
    if (timestamp_to_ms == NULL || drop == NULL ||
        PyModule_AddObjectRef(module, "Estimator", (PyObject *)&EstimatorType) < 0 ||
        PyModule_AddObjectRef(module, "ThrottledEstimator",
                              (PyObject *)&ThrottledEstimatorType) < 0 ||
        PyModule_AddObjectRef(module, "TIMESTAMP_TO_MS", timestamp_to_ms) < 0 ||
        PyModule_AddIntConstant(module, "BURST_DELTA_THRESHOLD_MS", BURST_DELTA_THRESHOLD_MS) <
            0 ||
        PyModule_AddIntConstant(module, "INTER_ARRIVAL_SHIFT", INTER_ARRIVAL_SHIFT) < 0 ||
        PyModule_AddIntConstant(module, "TIMESTAMP_GROUP_LENGTH_MS", TIMESTAMP_GROUP_LENGTH_MS) <
            0 ||
        PyModule_AddIntConstant(module, "MIN_FRAME_PERIOD_HISTORY_LENGTH",
                                MIN_FRAME_PERIOD_HISTORY_LENGTH) < 0 ||
        PyModule_AddIntConstant(module, "DELTA_COUNTER_MAX", DELTA_COUNTER_MAX) < 0 ||
        PyModule_AddIntConstant(module, "MIN_NUM_DELTAS", MIN_NUM_DELTAS) < 0 ||
        PyModule_AddIntConstant(module, "MAX_ADAPT_OFFSET_MS", MAX_ADAPT_OFFSET_MS) < 0 ||
        PyModule_AddIntConstant(module, "WINDOW_MS", WINDOW_MS) < 0 ||
        PyModule_AddIntConstant(module, "SCALE", SCALE) < 0 ||
        PyModule_AddIntConstant(module, "GROUP_LENGTH", GROUP_LENGTH) < 0 ||
        PyModule_AddIntConstant(module, "FEEDBACK_INTERVAL_MS", FEEDBACK_INTERVAL_MS) < 0 ||
        PyModule_AddIntConstant(module, "PRUNE_AT", PRUNE_AT) < 0 ||
        PyModule_AddIntConstant(module, "MIN_INTERVAL_MS", MIN_INTERVAL_MS) < 0 ||
        PyModule_AddObjectRef(module, "DROP_SENDS_AT_ONCE", drop) < 0 ||
        PyModule_AddIntConstant(module, "SSRC_CAPACITY", SSRC_CAPACITY) < 0) {
        Py_XDECREF(timestamp_to_ms);
        Py_XDECREF(drop);
        Py_DECREF(module);
        return NULL;
    }
    Py_DECREF(timestamp_to_ms);
    Py_DECREF(drop);
    return module;
}
