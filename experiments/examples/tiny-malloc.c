/* tiny-malloc: five small mallocs; how little memory does a process need?
 * cc -o tiny-malloc tiny-malloc.c && ./tiny-malloc   (or under trace) */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *volatile kept[5]; /* volatile: the compiler keeps every malloc */

int main(void) {
    printf("pid %d: see VmRSS and VmSize in /proc/%d/status\n", getpid(),
           getpid());
    puts("before mallocs"); getchar();
    kept[0] = malloc(360);
    kept[1] = malloc(80);
    kept[2] = malloc(180);
    kept[3] = malloc(16);
    kept[4] = malloc(440);
    puts("after mallocs"); getchar();
    return 0;
}
