/* Maps a file shared and read-only, waits, reads every page, waits: it never
 * writes the file. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror(argv[1]);
        return 1;
    }
    char *p = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    printf("mapped it shared, read-only\n");
    getchar();
    long page = sysconf(_SC_PAGESIZE);
    unsigned long sum = 0;
    for (off_t i = 0; i < st.st_size; i += page)
        sum += (unsigned char)p[i];
    printf("read every page (sum %lu)\n", sum);
    getchar();
    return 0;
}
