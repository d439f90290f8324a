/* strip: debug information makes the program file larger, not the process.
 * cc -g -o debug strip.c && strip -o stripped debug; run or trace each one */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char names[256][16];

static int by_name(const void *a, const void *b) { return strcmp(a, b); }

int main(void) {
    for (int i = 0; i < 256; i++) /* some work, the same in both builds */
        snprintf(names[i], sizeof names[i], "name-%03d", i * 7919 % 256);
    qsort(names, 256, sizeof names[0], by_name);
    printf("pid %d: compare the Rss of the program's own lines in "
           "/proc/%d/smaps\n", getpid(), getpid());
    puts("after work"); getchar();
    return 0;
}
