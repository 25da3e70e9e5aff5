/*
 * ipm_timeit: runs a command repeatedly and prints its median wall time, or
 * two commands in alternation and the ratio of their times.
 *   ipm_timeit RUNS LABEL -- A [ARG...]
 *       prints "LABEL  median_ms  min_ms  max_ms"
 *   ipm_timeit RUNS LABEL -- A [ARG...] --vs B [ARG...]
 *       prints "LABEL  median_a_ms  median_b_ms  ratio"
 * With two commands, the runs alternate, A B then B A (so neither always
 * runs right after the other), and ratio is the median of the RUNS ratios
 * a_i / b_i of runs taken side by side: a machine whose load changes during
 * the measurement slows both sides of a pair alike. Each command first runs
 * WARMUP times (environment, default 3), untimed.
 * stdout and stderr of the commands go to /dev/null; a non-zero exit stops
 * the run with an error.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Milliseconds argv took, or a negative number when it failed. */
static double run(char **argv)
{
	double t0 = now_ms();
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	return now_ms() - t0;
}

int main(int argc, char **argv)
{
	char **a, **b = NULL;
	double *ta, *tb, *ratio;
	int runs, warmup = getenv("WARMUP") ? atoi(getenv("WARMUP")) : 3;

	if (argc < 5 || strcmp(argv[3], "--") != 0) {
		fprintf(stderr, "usage: ipm_timeit RUNS LABEL -- COMMAND [ARG...] [--vs COMMAND [ARG...]]\n");
		return 2;
	}
	runs = atoi(argv[1]);
	if (runs < 1)
		runs = 1;
	a = argv + 4;
	for (int i = 4; i < argc; i++) {
		if (strcmp(argv[i], "--vs") == 0) {
			argv[i] = NULL;
			b = argv + i + 1;
			break;
		}
	}
	if (!a[0] || (b && !b[0])) {
		fprintf(stderr, "ipm_timeit: a command is missing\n");
		return 2;
	}
	ta = calloc((size_t)runs, sizeof(*ta));
	tb = calloc((size_t)runs, sizeof(*tb));
	ratio = calloc((size_t)runs, sizeof(*ratio));
	if (!ta || !tb || !ratio)
		return 1;
	for (int i = 0; i < warmup; i++) {
		if (run(a) < 0 || (b && run(b) < 0)) {
			fprintf(stderr, "ipm_timeit: '%s' failed\n", argv[2]);
			return 1;
		}
	}
	for (int i = 0; i < runs; i++) {
		int b_first = b && i % 2;

		if (b_first)
			tb[i] = run(b);
		ta[i] = run(a);
		if (b && !b_first)
			tb[i] = run(b);
		if (ta[i] < 0 || (b && tb[i] < 0)) {
			fprintf(stderr, "ipm_timeit: '%s' failed\n", argv[2]);
			return 1;
		}
		if (b)
			ratio[i] = ta[i] / tb[i];
	}
	if (b) {
		double r = median(ratio, runs);
		printf("%-44s %9.2f %9.2f %9.2f\n", argv[2], median(ta, runs), median(tb, runs), r);
	} else {
		double m = median(ta, runs);
		printf("%-44s %9.2f %9.2f %9.2f\n", argv[2], m, ta[0], ta[runs - 1]);
	}
	free(ta);
	free(tb);
	free(ratio);
	return 0;
}
