/* What the kernel does to one anonymous mapping: an adjacent mmap merges
 * into it (it grows downwards), an mprotect of its middle splits it in
 * three, a munmap of its top gives memory back. Each step waits for Enter.
 * Usage: grow_split PAGES (the size of each half). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

int main(int argc, char **argv) {
    long pages = argc > 1 ? atol(argv[1]) : 256;
    long page = sysconf(_SC_PAGESIZE);
    size_t half = (size_t)pages * page;
    /* Reserve both halves, then free the lower one: the hole stays free. */
    char *low = mmap(NULL, 2 * half, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (low == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    char *high = low + half;
    munmap(low, half);
    memset(high, 1, half);
    printf("filled the upper half\n");
    getchar();
    /* The same kind of memory right below it: the kernel merges the two. */
    char *again = mmap(low, half, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (again != low) {
        perror("mmap below");
        return 1;
    }
    memset(low, 2, half);
    printf("mapped and filled the lower half\n");
    getchar();
    /* Read-only pages in the middle: one mapping becomes three. */
    mprotect(low + half / 2, half, PROT_READ);
    printf("made the middle read-only\n");
    getchar();
    /* The top quarter goes: that memory no mapping covers any more. */
    munmap(high + half / 2, half / 2);
    printf("unmapped the top quarter\n");
    getchar();
    return 0;
}
