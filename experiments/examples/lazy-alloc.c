/* lazy-alloc: memory is promised at mmap, and given one page per first write.
 * cc -o lazy-alloc lazy-alloc.c && ./lazy-alloc 8   (8 MiB; or under trace) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
    size_t len = (argc > 1 ? atol(argv[1]) : 8192) << 20, chunk = 1 << 20;
    printf("pid %d: watch VmSize and VmRSS, press Enter after each step\n",
           getpid());
    puts("before mmap"); getchar();
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    madvise(p, len, MADV_NOHUGEPAGE); /* 4 KiB pages: one fault per page */
    puts("after mmap"); getchar();
    volatile long sum = 0; /* reading maps the shared zero page */
    for (size_t i = 0; i < chunk; i += 4096) sum += p[i];
    puts("after read first chunk"); getchar();
    memset(p, 1, chunk);
    puts("after write first chunk"); getchar();
    memset(p + chunk, 1, chunk);
    puts("after write second chunk"); getchar();
    munmap(p, len);
    puts("after munmap"); getchar();
}
