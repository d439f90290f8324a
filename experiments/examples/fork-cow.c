/* fork-cow: after fork the child shares every page until one side writes it.
 * cc -o fork-cow fork-cow.c && ./fork-cow 8   (MiB; or under harness trace) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
    size_t len = (argc > 1 ? atol(argv[1]) : 256) << 20;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    madvise(p, len, MADV_NOHUGEPAGE); /* 4 KiB pages: one copy per page */
    printf("pid %d, Enter after each step\nafter mmap\n", getpid()); getchar();
    memset(p, 1, len);
    puts("after fill"); getchar();
    if (fork() == 0) { /* the child takes the next steps, the parent waits */
        printf("child pid %d\nafter fork\n", getpid()); getchar();
        for (volatile size_t i = 0, sum = 0; i < len; i += 4096) sum += p[i];
        puts("child read all"); getchar();
        memset(p, 2, len / 4);
        puts("child write quarter"); getchar();
        memset(p, 3, len);
        puts("child write all"); getchar();
        return 0;
    }
    wait(NULL);
    puts("after child exit"); getchar();
}
