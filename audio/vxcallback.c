/* Voxshift's PortAudio callback in C: ring <-> device copies and counters, nothing else.
 *
 * Why C: a Python callback needs the GIL every period. On a small machine, a thread holding the
 * GIL (the worker, a torch loop, the GUI) delays it past the device's deadline now and then, and
 * the listener hears a click (an xrun). This callback never touches Python: it runs on the audio
 * thread whatever the interpreter is doing. Python builds it at first use (audio/native.py) and
 * falls back to the Python callback (audio/stream.py) when no C compiler is available.
 *
 * The rings and counters are numpy arrays owned by Python (audio/ringbuffer.py, SharedRingBuffer):
 * the same single-producer/single-consumer protocol as RingBuffer, counters in one int64 array per
 * ring (written, read, overruns, underruns, dropped, missing). Each side stores only its own
 * position, with release semantics, after the samples it covers.
 */
#include <stdint.h>
#include <string.h>

#if defined(_WIN32)
#include <windows.h>
#define VX_EXPORT __declspec(dllexport)
#else
#include <time.h>
#define VX_EXPORT
#endif

enum { W = 0, R = 1, OVERRUNS = 2, UNDERRUNS = 3, DROPPED = 4, MISSING = 5 };
enum { FRAMES = 0, CALLBACKS = 1, BLOCK = 2, XRUNS = 3 };
enum { ADC = 0, DAC = 1, CURRENT = 2, LAST_CALL = 3 };

/* PortAudio's flags and time info (portaudio.h). */
#define PA_INPUT_OVERFLOW 0x2UL
#define PA_OUTPUT_UNDERFLOW 0x4UL

typedef struct {
    double inputBufferAdcTime;
    double currentTime;
    double outputBufferDacTime;
} vx_time_info;

typedef struct {
    float *data;
    int64_t capacity;
    int64_t *idx;
    int32_t keep_timeline;
} vx_ring;

typedef struct {
    vx_ring in;
    vx_ring out;
    int32_t has_input;
    int32_t out_channels;
    int64_t *counts;
    double *times;
} vx_io;

/* The clock of Python's time.perf_counter() on each platform (the worker compares them). */
VX_EXPORT double vx_now(void) {
#if defined(_WIN32)
    LARGE_INTEGER t, f;
    QueryPerformanceCounter(&t);
    QueryPerformanceFrequency(&f);
    return (double)t.QuadPart / (double)f.QuadPart;
#else
    struct timespec ts;
#if defined(__APPLE__)
    clock_gettime(CLOCK_UPTIME_RAW, &ts);
#else
    clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#endif
}

/* Publish a ring position after the samples it covers (used by the Python side too). */
VX_EXPORT void vx_store_release(int64_t *p, int64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

VX_EXPORT int64_t vx_load_acquire(int64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static void ring_write(vx_ring *r, const float *src, int64_t n) {
    int64_t w = r->idx[W];
    int64_t rd = __atomic_load_n(&r->idx[R], __ATOMIC_ACQUIRE);
    int64_t start = 0;
    if (r->keep_timeline && rd > w) start = min64(rd - w, n);
    int64_t used = w + start - rd;
    if (used < 0) used = 0;
    int64_t count = min64(n - start, r->capacity - used);
    if (count < n - start) {
        r->idx[OVERRUNS] += 1;
        r->idx[DROPPED] += n - start - count;
    }
    int64_t pos = (w + start) % r->capacity;
    int64_t first = min64(count, r->capacity - pos);
    memcpy(r->data + pos, src + start, (size_t)first * sizeof(float));
    if (first < count) memcpy(r->data, src + start + first, (size_t)(count - first) * sizeof(float));
    __atomic_store_n(&r->idx[W], w + start + count, __ATOMIC_RELEASE);
}

static void ring_read(vx_ring *r, float *out, int64_t n, int32_t channels) {
    int64_t rd = r->idx[R];
    int64_t avail = __atomic_load_n(&r->idx[W], __ATOMIC_ACQUIRE) - rd;
    if (avail < 0) avail = 0;
    int64_t count = min64(n, avail);
    int64_t pos = rd % r->capacity;
    for (int64_t i = 0; i < count; i++) {
        float v = r->data[pos];
        for (int32_t c = 0; c < channels; c++) out[i * channels + c] = v;
        if (++pos == r->capacity) pos = 0;
    }
    if (count < n) {
        memset(out + count * channels, 0, (size_t)((n - count) * channels) * sizeof(float));
        r->idx[UNDERRUNS] += 1;
        r->idx[MISSING] += n - count;
        rd += r->keep_timeline ? n : count;
    } else {
        rd += count;
    }
    __atomic_store_n(&r->idx[R], rd, __ATOMIC_RELEASE);
}

/* PaStreamCallback: mono input -> in ring; out ring -> every output channel; counters. */
VX_EXPORT int vx_callback(const void *input, void *output, unsigned long frames, const vx_time_info *t,
                          unsigned long flags, void *user) {
    vx_io *io = (vx_io *)user;
    int64_t n = (int64_t)frames;
    if (flags & (PA_INPUT_OVERFLOW | PA_OUTPUT_UNDERFLOW)) io->counts[XRUNS] += 1;
    if (io->has_input && input != NULL) ring_write(&io->in, (const float *)input, n);
    if (output != NULL) ring_read(&io->out, (float *)output, n, io->out_channels);
    if (t != NULL) {
        io->times[ADC] = t->inputBufferAdcTime;
        io->times[DAC] = t->outputBufferDacTime;
        io->times[CURRENT] = t->currentTime;
    }
    io->counts[BLOCK] = n;
    io->counts[FRAMES] += n;
    io->times[LAST_CALL] = vx_now();
    __atomic_store_n(&io->counts[CALLBACKS], io->counts[CALLBACKS] + 1, __ATOMIC_RELEASE);
    return 0; /* paContinue */
}
