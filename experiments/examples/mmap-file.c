/* mmap-file: a mapped file costs address space at once, memory as it is read.
 * cc -o mmap-file mmap-file.c && ./mmap-file FILE   (or under trace) */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int fd = open(argc > 1 ? argv[1] : "data", O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) { perror("open"); return 1; }
    printf("pid %d: watch /proc/%d/smaps, press Enter after each step\n",
           getpid(), getpid());
    puts("before mmap"); getchar();
    char *p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    puts("after mmap"); getchar();
    volatile char c = p[0];
    puts("after first read"); getchar();
    for (off_t i = 0; i < st.st_size; i += 4096) c = p[i];
    puts("after read all"); getchar();
    return c & 0;
}
