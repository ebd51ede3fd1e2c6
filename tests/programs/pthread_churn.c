/* Creates and joins many threads that share a counter under a mutex and
 * hand a token around with a condition variable, then prints the totals.
 * Its output must be the same with and without the shim preloaded.
 * usage: pthread_churn [threads] [rounds] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_cv = PTHREAD_COND_INITIALIZER;
static long counter;
static int turn;
static int width = 4;

static void *worker(void *arg)
{
    int me = (int)(long)arg;
    for (int i = 0; i < 100; i++) {
        pthread_mutex_lock(&lock);
        counter += me;
        pthread_mutex_unlock(&lock);
    }
    pthread_mutex_lock(&lock);
    while (turn != me % width)
        pthread_cond_wait(&turn_cv, &lock);
    turn = (turn + 1) % width;
    pthread_cond_broadcast(&turn_cv);
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(int argc, char **argv)
{
    int nthreads = argc > 1 ? atoi(argv[1]) : 1000;
    int batch = width;
    long expect = 0;
    for (int base = 0; base < nthreads; base += batch) {
        pthread_t th[16];
        int n = nthreads - base < batch ? nthreads - base : batch;
        turn = 0;
        for (int i = 0; i < n; i++) {
            if (pthread_create(&th[i], NULL, worker, (void *)(long)i)) {
                perror("pthread_create");
                return 1;
            }
            expect += 100L * i;
        }
        for (int i = 0; i < n; i++)
            pthread_join(th[i], NULL);
    }
    printf("threads %d counter %ld expected %ld\n", nthreads, counter, expect);
    return counter == expect ? 0 : 3;
}
