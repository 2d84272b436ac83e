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
 * ring (written, read, overruns, underruns, dropped, missing, tail). Each side stores only its own
 * positions, with release semantics, after the samples they cover, and loads the other side's
 * with acquire semantics.
 *
 * Besides copying, the callback
 *  - logs the frames of every host cycle (a host may split one cycle into several callbacks that
 *    share PortAudio's currentTime, e.g. JACK periods above 1024 frames): the worker plans its
 *    output pre-fill from the largest recent cycle;
 *  - wakes the worker (a semaphore post) when the input ring holds a hop, so the worker never polls;
 *  - on an underflow plays the writer's concealment tail (frames it wrote past its published
 *    position: a fade-out of the last output) instead of a hard cut to zero.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#include <windows.h>
#define VX_EXPORT __declspec(dllexport)
#elif defined(__APPLE__)
#include <dispatch/dispatch.h>
#include <time.h>
#define VX_EXPORT
#else
#include <errno.h>
#include <semaphore.h>
#include <time.h>
#define VX_EXPORT
#endif

enum { W = 0, R = 1, OVERRUNS = 2, UNDERRUNS = 3, DROPPED = 4, MISSING = 5, TAIL = 6 };
enum { FRAMES = 0, CALLBACKS = 1, BLOCK = 2, XRUNS = 3, CYCLES = 4 };
enum { ADC = 0, DAC = 1, CURRENT = 2, LAST_CALL = 3 };
#define VX_CYCLE_LOG 64

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
    int64_t *cycle_log; /* frames of host cycle k at [k % VX_CYCLE_LOG]; counts[CYCLES] cycles so far */
    int64_t wake_frames; /* post `wake` whenever the input ring holds at least this many frames */
    void *wake;          /* a vx_sem_new() semaphore, or NULL */
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

/* Read the other side's position before the samples it covers (used by the Python side too). */
VX_EXPORT int64_t vx_load_acquire(int64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

/* -- the worker's wake-up: a counting semaphore the callback posts and the worker waits on ----- */

VX_EXPORT void *vx_sem_new(void) {
#if defined(_WIN32)
    return (void *)CreateSemaphoreA(NULL, 0, 0x7fffffff, NULL);
#elif defined(__APPLE__)
    return (void *)dispatch_semaphore_create(0);
#else
    sem_t *s = (sem_t *)malloc(sizeof(sem_t));
    if (s != NULL && sem_init(s, 0, 0) != 0) {
        free(s);
        s = NULL;
    }
    return (void *)s;
#endif
}

VX_EXPORT void vx_sem_free(void *s) {
    if (s == NULL) return;
#if defined(_WIN32)
    CloseHandle((HANDLE)s);
#elif defined(__APPLE__)
    dispatch_release((dispatch_semaphore_t)s);
#else
    sem_destroy((sem_t *)s);
    free(s);
#endif
}

VX_EXPORT void vx_sem_post(void *s) {
    if (s == NULL) return;
#if defined(_WIN32)
    ReleaseSemaphore((HANDLE)s, 1, NULL);
#elif defined(__APPLE__)
    dispatch_semaphore_signal((dispatch_semaphore_t)s);
#else
    sem_post((sem_t *)s);
#endif
}

/* Wait for a post at most `timeout` seconds: 1 if posted, 0 on timeout. Python calls it through
 * cffi, which releases the GIL for the wait. */
VX_EXPORT int vx_sem_wait(void *s, double timeout) {
    if (s == NULL) return 0;
    if (timeout < 0) timeout = 0;
#if defined(_WIN32)
    return WaitForSingleObject((HANDLE)s, (DWORD)(timeout * 1e3 + 0.5)) == WAIT_OBJECT_0;
#elif defined(__APPLE__)
    dispatch_time_t until = dispatch_time(DISPATCH_TIME_NOW, (int64_t)(timeout * 1e9));
    return dispatch_semaphore_wait((dispatch_semaphore_t)s, until) == 0;
#else
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (int64_t)(timeout * 1e9);
    ts.tv_sec += (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    for (;;) {
        if (sem_timedwait((sem_t *)s, &ts) == 0) return 1;
        if (errno != EINTR) return 0;
    }
#endif
}

/* -- rings ------------------------------------------------------------------------------------ */

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

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

/* Positions [rd, rd + n): written frames, then the writer's concealment tail, then zeros. */
static void ring_read(vx_ring *r, float *out, int64_t n, int32_t channels) {
    int64_t rd = r->idx[R];
    int64_t w = __atomic_load_n(&r->idx[W], __ATOMIC_ACQUIRE);
    int64_t tail = __atomic_load_n(&r->idx[TAIL], __ATOMIC_ACQUIRE);
    int64_t count = min64(n, max64(0, w - rd));
    int64_t copy = min64(n, max64(0, w + tail - rd)); /* real frames and concealment */
    int64_t pos = rd % r->capacity;
    for (int64_t i = 0; i < copy; i++) {
        float v = r->data[pos];
        for (int32_t c = 0; c < channels; c++) out[i * channels + c] = v;
        if (++pos == r->capacity) pos = 0;
    }
    if (copy < n) memset(out + copy * channels, 0, (size_t)((n - copy) * channels) * sizeof(float));
    if (count < n) {
        r->idx[UNDERRUNS] += 1;
        r->idx[MISSING] += n - count;
        rd += r->keep_timeline ? n : count;
    } else {
        rd += count;
    }
    __atomic_store_n(&r->idx[R], rd, __ATOMIC_RELEASE);
}

/* One host cycle may reach us as several callbacks with the same currentTime (PortAudio splits
 * JACK periods above 1024 frames): those add up to one entry of the cycle log. */
static void log_cycle(vx_io *io, const vx_time_info *t, int64_t n) {
    int64_t cycles = io->counts[CYCLES];
    if (io->cycle_log == NULL) return;
    int same = t != NULL && t->currentTime != 0.0 && cycles > 0 && t->currentTime == io->times[CURRENT];
    if (same) {
        int64_t *slot = &io->cycle_log[(cycles - 1) % VX_CYCLE_LOG];
        __atomic_store_n(slot, *slot + n, __ATOMIC_RELEASE);
    } else {
        __atomic_store_n(&io->cycle_log[cycles % VX_CYCLE_LOG], n, __ATOMIC_RELEASE);
        __atomic_store_n(&io->counts[CYCLES], cycles + 1, __ATOMIC_RELEASE);
    }
}

/* PaStreamCallback: mono input -> in ring; out ring -> every output channel; counters. */
VX_EXPORT int vx_callback(const void *input, void *output, unsigned long frames, const vx_time_info *t,
                          unsigned long flags, void *user) {
    vx_io *io = (vx_io *)user;
    int64_t n = (int64_t)frames;
    if (flags & (PA_INPUT_OVERFLOW | PA_OUTPUT_UNDERFLOW)) io->counts[XRUNS] += 1;
    if (io->has_input && input != NULL) ring_write(&io->in, (const float *)input, n);
    if (output != NULL) ring_read(&io->out, (float *)output, n, io->out_channels);
    log_cycle(io, t, n);
    if (t != NULL) {
        io->times[ADC] = t->inputBufferAdcTime;
        io->times[DAC] = t->outputBufferDacTime;
        io->times[CURRENT] = t->currentTime;
    }
    io->counts[BLOCK] = n;
    io->counts[FRAMES] += n;
    io->times[LAST_CALL] = vx_now();
    __atomic_store_n(&io->counts[CALLBACKS], io->counts[CALLBACKS] + 1, __ATOMIC_RELEASE);
    if (io->wake != NULL && io->has_input && io->wake_frames > 0) {
        int64_t avail = io->in.idx[W] - __atomic_load_n(&io->in.idx[R], __ATOMIC_ACQUIRE);
        if (avail >= io->wake_frames) vx_sem_post(io->wake);
    }
    return 0; /* paContinue */
}
