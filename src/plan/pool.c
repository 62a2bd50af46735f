/*
 * Pool: the threads that plan search and the studies built on it run on.
 * Each thread runs the same work function on one shared argument, and the
 * work takes items from a queue in that argument under its own lock until
 * none is left, so a slow item holds up one thread, not the others. With
 * one job, or when no thread can be started, the work runs on the caller's
 * thread: the same items, the same results.
 */
#include <pthread.h>
#include <unistd.h>

#include "ultrasim/plan.h"

int plan_thread_count(int asked)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int n = asked > 0 ? asked : (int)(cores > 0 ? cores : 1);
    return n < PLAN_JOBS_MAX ? n : PLAN_JOBS_MAX;
}

void plan_run_pool(void *(*work)(void *), void *arg, int jobs)
{
    pthread_t threads[PLAN_JOBS_MAX];
    int started = 0;
    jobs = plan_thread_count(jobs);
    if (jobs > 1)
        for (; started < jobs; started++)
            if (pthread_create(&threads[started], NULL, work, arg) != 0)
                break;
    if (started == 0)
        work(arg);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
}
