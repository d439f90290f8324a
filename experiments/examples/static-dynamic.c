/* static-dynamic: preforked copies of one program, linked statically or not.
 * cc -static -o static static-dynamic.c && cc -o dynamic static-dynamic.c
 * run ./static, then ./dynamic (or each under harness trace); compare Pss */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static int table[512], ready[2], forked; static pid_t kids[3];
static int order(const void *a, const void *b) { return *(int *)a - *(int *)b; }
static void serve(void) { /* one request: the libc code a handler uses */
    char *reply = malloc(4096);
    for (unsigned i = 0; i < 512; i++) table[i] = (getpid() + i) * 7919 % 9973;
    qsort(table, 512, sizeof table[0], order);
    snprintf(reply, 4096, "200 OK median %d ratio %.3f", table[256], 1 / 7.0);
    free(reply);
}
static void prefork(int more) { /* each child serves, says so, sleeps */
    for (char byte = 0; more-- > 0; read(ready[0], &byte, 1))
        if ((kids[forked++] = fork()) == 0)
            for (serve(), write(ready[1], &byte, 1);;) sleep(1000);
}
int main(void) {
    if (pipe(ready)) return 1; /* the parent is the first instance */
    serve(); printf("pid %d: press Enter after each step\n", getpid());
    puts("one instance"); getchar();
    prefork(1); puts("two instances"); getchar();
    prefork(2); puts("four instances"); getchar();
    while (forked > 0) kill(kids[--forked], SIGKILL);
}
