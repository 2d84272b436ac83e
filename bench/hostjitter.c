/* Host wake-up probe for bench/hostjitter.py.
 *
 * One thread per online CPU, pinned to it, at SCHED_FIFO priority 80 when allowed, wakes on an
 * absolute 1 ms CLOCK_MONOTONIC schedule for SECONDS and records how late each wake-up was. A
 * realtime thread preempts every ordinary thread at once, so a late wake-up means the CPU itself
 * was not there: a virtual CPU the hypervisor had not scheduled (or only a priority-99 kernel
 * thread ran). With KEEP_AWAKE=1 a SCHED_IDLE thread spins on each CPU too, so a CPU never halts
 * (what the kernel's idle=poll does): on a VM, a halted virtual CPU can take milliseconds to be
 * woken by the host.
 *
 * Usage: hostjitter SECONDS KEEP_AWAKE
 * Prints one line: "rt <0|1> wakes <n> late_ns <l1> <l2> ..." where l1.. are the per-wake-up
 * latencies above 100 us (nanoseconds), all CPUs together.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define PERIOD_NS 1000000L
#define REPORT_NS 100000L
#define MAX_LATE 200000

static double seconds;
static volatile int spinning = 1;
static int rt_ok = 1;
static long long late[MAX_LATE];
static int n_late;
static long long n_wakes;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static long long ns(const struct timespec *t) { return t->tv_sec * 1000000000LL + t->tv_nsec; }

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *probe(void *arg) {
    pin((int)(long)arg);
    struct sched_param p = {.sched_priority = 80};
    if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &p) != 0) rt_ok = 0;
    struct timespec next, now;
    clock_gettime(CLOCK_MONOTONIC, &next);
    long long end = ns(&next) + (long long)(seconds * 1e9);
    long long wakes = 0;
    for (;;) {
        next.tv_nsec += PERIOD_NS;
        while (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        if (ns(&next) > end) break;
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long l = ns(&now) - ns(&next);
        wakes++;
        if (l > REPORT_NS) {
            pthread_mutex_lock(&lock);
            if (n_late < MAX_LATE) late[n_late++] = l;
            pthread_mutex_unlock(&lock);
        }
        if (l > PERIOD_NS) next = now; /* a long stall counts once, not as a burst of late wakes */
    }
    pthread_mutex_lock(&lock);
    n_wakes += wakes;
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void *spin(void *arg) {
    pin((int)(long)arg);
    struct sched_param p = {.sched_priority = 0};
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &p);
    while (spinning) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: hostjitter SECONDS KEEP_AWAKE\n");
        return 2;
    }
    seconds = atof(argv[1]);
    int keep_awake = atoi(argv[2]);
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu > 256) ncpu = 256;
    pthread_t probes[256], spinners[256];
    for (int c = 0; c < ncpu && keep_awake; c++) pthread_create(&spinners[c], NULL, spin, (void *)(long)c);
    for (int c = 0; c < ncpu; c++) pthread_create(&probes[c], NULL, probe, (void *)(long)c);
    for (int c = 0; c < ncpu; c++) pthread_join(probes[c], NULL);
    spinning = 0;
    for (int c = 0; c < ncpu && keep_awake; c++) pthread_join(spinners[c], NULL);
    printf("rt %d wakes %lld late_ns", rt_ok, n_wakes);
    for (int i = 0; i < n_late; i++) printf(" %lld", late[i]);
    printf("\n");
    return 0;
}
