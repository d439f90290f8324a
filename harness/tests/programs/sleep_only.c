/* A program that never waits for its reader: it only sleeps, then exits. */
#include <stdio.h>
#include <time.h>

int main(void) {
    printf("sleeping\n");
    fflush(stdout);
    struct timespec second = {1, 0};
    nanosleep(&second, NULL);
    return 0;
}
