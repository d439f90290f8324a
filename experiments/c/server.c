/*
 * A small server-like program for static-dynamic ("Notes on VM", Kristian
 * Köhntopp): it does what a request handler does with the C library (format
 * numbers and text, sort, search strings, allocate a buffer), then waits.
 *
 *   server            serve once, stop (SIGSTOP)
 *   server --prefork N  serve once, fork N-1 children that each serve once and
 *                     stop; when all are stopped, write every pid (own first) on
 *                     one line to stdout, and stop too.
 *
 * build.rs builds it statically and dynamically linked.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_INSTANCES 256
#define TABLE 512

static int table[TABLE];
static char reply[4096];
static volatile unsigned long checksum;

static int compare(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* One "request": the library code a simple handler touches. */
static void serve_once(unsigned int seed)
{
	char *buffer = malloc(8192);
	size_t len;
	int i;

	for (i = 0; i < TABLE; i++)
		table[i] = (int)((seed + (unsigned int)i) * 2654435761u % 100003u);
	qsort(table, TABLE, sizeof table[0], compare);
	len = (size_t)snprintf(reply, sizeof reply,
			       "HTTP/1.0 200 OK\r\nContent-Length: %d\r\nX-Median: %d\r\nX-Ratio: %.3f\r\n\r\n%s",
			       table[TABLE / 2], table[TABLE / 2], table[TABLE - 1] / 7.0, "hello");
	if (buffer != NULL) {
		memcpy(buffer, reply, len + 1);
		checksum += strlen(buffer) + (strstr(buffer, "X-Ratio") != NULL) +
			    (unsigned long)strcmp(buffer, "HTTP") + (unsigned long)strtol(buffer + 9, NULL, 10);
		free(buffer);
	}
}

int main(int argc, char **argv)
{
	pid_t pids[MAX_INSTANCES];
	pid_t self;
	int count = 1, i, status;

	if (argc == 3 && strcmp(argv[1], "--prefork") == 0)
		count = atoi(argv[2]);
	if (count < 1 || count > MAX_INSTANCES)
		return 2;
	serve_once((unsigned int)getpid());
	pids[0] = getpid();
	self = pids[0];
	for (i = 1; i < count; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			return 1;
		if (pids[i] == 0) {
			/* A stopped child would outlive a killed parent forever. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != self)
				_exit(1);
			serve_once((unsigned int)getpid());
			raise(SIGSTOP);
			_exit(0);
		}
		if (waitpid(pids[i], &status, WUNTRACED) != pids[i] || !WIFSTOPPED(status))
			return 1;
	}
	if (argc == 3) {
		for (i = 0; i < count; i++)
			printf("%d%c", (int)pids[i], i + 1 == count ? '\n' : ' ');
		fflush(stdout);
	}
	raise(SIGSTOP);
	_exit(0);
}
