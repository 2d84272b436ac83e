/* Host-stall probe for the JACK tests (benchkit/jackbench.py, StallProbe).
 *
 * One thread per online CPU, pinned to it, at SCHED_FIFO priority 80 (above JACK's threads, which
 * run at 5-10) when allowed, wakes on an absolute 1 ms CLOCK_MONOTONIC schedule. A wake-up later
 * than 0.3 ms means that CPU ran nothing for that long: a realtime thread preempts every thread of
 * lower priority at once, so only the host (a virtual CPU not being run) or a priority-99 kernel
 * thread can hold it off. Runs until its stdin closes, then prints "rt <0|1>" and one line
 * "<cpu> <due_ns> <woke_ns>" (CLOCK_MONOTONIC, as Python's time.monotonic_ns) per late wake-up.
 * With the argument "awake" a SCHED_IDLE thread also spins on each CPU, so that no CPU halts when
 * idle (as the kernel's idle=poll would): on a VM a halted virtual CPU can take milliseconds to be
 * woken by the host.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PERIOD_NS 1000000L
#define REPORT_NS 300000L
#define MAX_EVENTS 100000

typedef struct {
    int cpu;
    long long due, woke;
} event_t;

static volatile int running = 1;
static int rt_ok = 1;
static event_t events[MAX_EVENTS];
static int n_events;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static long long ns(const struct timespec *t) { return t->tv_sec * 1000000000LL + t->tv_nsec; }

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *spin(void *arg) {
    pin((int)(long)arg);
    struct sched_param p = {.sched_priority = 0};
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &p);
    while (running) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    return NULL;
}

static void *probe(void *arg) {
    int cpu = (int)(long)arg;
    pin(cpu);
    struct sched_param p = {.sched_priority = 80};
    if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &p) != 0) rt_ok = 0;
    struct timespec next, now;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (running) {
        next.tv_nsec += PERIOD_NS;
        while (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long late = ns(&now) - ns(&next);
        if (late > REPORT_NS) {
            pthread_mutex_lock(&lock);
            if (n_events < MAX_EVENTS) events[n_events++] = (event_t){cpu, ns(&next), ns(&now)};
            pthread_mutex_unlock(&lock);
        }
        if (late > PERIOD_NS) next = now; /* one long stall is one event */
    }
    return NULL;
}

int main(int argc, char **argv) {
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu > 256) ncpu = 256;
    int awake = argc > 1 && strcmp(argv[1], "awake") == 0;
    pthread_t threads[256], spinners[256];
    for (int c = 0; c < ncpu && awake; c++) pthread_create(&spinners[c], NULL, spin, (void *)(long)c);
    for (int c = 0; c < ncpu; c++) pthread_create(&threads[c], NULL, probe, (void *)(long)c);
    char buf[256];
    while (read(0, buf, sizeof buf) > 0) {
    }
    running = 0;
    for (int c = 0; c < ncpu; c++) pthread_join(threads[c], NULL);
    for (int c = 0; c < ncpu && awake; c++) pthread_join(spinners[c], NULL);
    printf("rt %d\n", rt_ok);
    for (int i = 0; i < n_events; i++) printf("%d %lld %lld\n", events[i].cpu, events[i].due, events[i].woke);
    return 0;
}
