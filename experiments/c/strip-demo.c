/*
 * strip: one program, linked once with full debug information and once stripped
 * ("Notes on VM", Kristian Köhntopp). It does a fixed piece of work, so both
 * builds touch the same pages, and stops (SIGSTOP) to be measured.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct record {
	char name[32];
	int value;
};

static struct record records[256];
static volatile long total;

static int by_value(const void *a, const void *b)
{
	const struct record *x = a, *y = b;
	return (x->value > y->value) - (x->value < y->value);
}

int main(void)
{
	char line[128];
	int i;

	for (i = 0; i < 256; i++) {
		snprintf(records[i].name, sizeof records[i].name, "record-%03d", i);
		records[i].value = (i * 7919) % 257;
	}
	qsort(records, 256, sizeof records[0], by_value);
	for (i = 0; i < 256; i++) {
		snprintf(line, sizeof line, "%s=%d", records[i].name, records[i].value);
		total += (long)strlen(line);
	}
	raise(SIGSTOP); /* after-work */
	_exit(0);
}
