/* Stall probe: tells a stall of the whole machine (the hypervisor not running this VM) apart from a
 * slow system under test. harness.py runs it beside the latency phase.
 *
 *   stallprobe            # runs until SIGTERM or SIGINT, then prints one JSON line
 *
 * It sleeps 1 ms at a time and records how late each wake-up is. On an idle 2-core VM a wake-up is
 * late by well under 1 ms; during the latency phase (a few % CPU) a wake-up later than a few ms
 * means no CPU ran this thread, and when /proc/stat's `steal` (time the hypervisor gave this VM's
 * vCPUs to someone else) grows by as much meanwhile, the machine was stopped, not the system under
 * test: every process on it, the producer and consumer included, waited out the same stall.
 *
 * Output: {"longest_gap_ms": the longest time between two consecutive wake-ups,
 *          "gaps_over_5ms": how many wake-ups came more than 5 ms after the one before,
 *          "steal_ms": /proc/stat steal over the probe's life, summed over the CPUs,
 *          "seconds": the probe's life}
 * The probe costs one wake-up per ms (~0.1 % of a core). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The `steal` column of /proc/stat's first line (all CPUs), in clock ticks; -1 when unreadable. */
static long long steal_ticks(void) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    long long user, nice, system, idle, iowait, irq, softirq, steal;
    int n = fscanf(f, "cpu %lld %lld %lld %lld %lld %lld %lld %lld", &user, &nice, &system, &idle, &iowait, &irq,
                   &softirq, &steal);
    fclose(f);
    return n == 8 ? steal : -1;
}

int main(void) {
    struct sigaction action = {0};
    action.sa_handler = on_signal;
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    const long ticks_per_s = sysconf(_SC_CLK_TCK);
    const long long steal_before = steal_ticks();
    const double started = now_s();
    double last = started, longest = 0;
    long gaps_over_5ms = 0;
    const struct timespec one_ms = {0, 1000000};
    while (!stop) {
        nanosleep(&one_ms, NULL); /* EINTR on the stop signal: the loop ends */
        const double t = now_s();
        const double gap = t - last;
        if (gap > longest) longest = gap;
        if (gap > 0.005) gaps_over_5ms++;
        last = t;
    }
    const long long steal_after = steal_ticks();
    const double steal_ms =
        steal_before < 0 || steal_after < 0 ? -1.0 : (double)(steal_after - steal_before) * 1000.0 / (double)ticks_per_s;
    printf("{\"longest_gap_ms\": %.3f, \"gaps_over_5ms\": %ld, \"steal_ms\": %.0f, \"seconds\": %.3f}\n", longest * 1e3,
           gaps_over_5ms, steal_ms, now_s() - started);
    return 0;
}
