/* The writings' workflow, unmodified by any harness: print the pid, wait for
 * Enter, map a file, wait, read every page, wait again. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    printf("pid %d, press enter to map %s\n", getpid(), argv[1]);
    getchar();
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror(argv[1]);
        return 1;
    }
    char *p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    printf("mapped %lld bytes at %p\n", (long long)st.st_size, (void *)p);
    getchar();
    long page = sysconf(_SC_PAGESIZE);
    unsigned long sum = 0;
    for (off_t i = 0; i < st.st_size; i += page)
        sum += (unsigned char)p[i];
    printf("read every page (sum %lu)\n", sum);
    getchar();
    return 0;
}
